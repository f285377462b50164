using QuantLab.Engine.Quantization;

namespace QuantLab.Engine.Qat;

/// <summary>How QAT finds the steps of its quantizers.</summary>
public enum QatMethod
{
    /// <summary><c>observe</c> (the default, the seed's §3.1): weight steps follow the current weights' range,
    /// activation steps a moving average of the observed ranges (<see cref="MovingAverageThreshold"/>).</summary>
    Observe,

    /// <summary><c>lsq</c>: every step is a trained parameter (Esser et al., ICLR 2020, <see cref="LsqSteps"/>).</summary>
    Lsq,
}

/// <summary>Parsing and canonical spelling of <see cref="QatMethod"/>: <c>observe|lsq</c>.</summary>
public static class QatMethodOption
{
    public const string Allowed = "observe, lsq";

    extension(QatMethod)
    {
        public static QatMethod Parse(string? text) => OptionText.Normalize(text) switch
        {
            "observe" => QatMethod.Observe,
            "lsq" => QatMethod.Lsq,
            _ => throw OptionText.Invalid("QAT method", text, Allowed),
        };
    }

    extension(QatMethod method)
    {
        public string ToOption() => method switch
        {
            QatMethod.Observe => "observe",
            QatMethod.Lsq => "lsq",
            _ => throw new ArgumentOutOfRangeException(nameof(method), method, null),
        };
    }
}
