namespace QuantLab.Engine.Quantization;

/// <summary>How a layer's bias enters the quantized computation (DESIGN.md §3).</summary>
public enum BiasMode
{
    /// <summary><c>none</c>: the bias is dropped (or the model has none).</summary>
    None,

    /// <summary><c>float</c>: bf[c] = b[c]/s_y is added in float before rounding; float requantization only.</summary>
    Float,

    /// <summary><c>int32</c>: bq[c] = R(b[c]/(s_w[c]·s_x)), saturated to int32, is added to the accumulator.</summary>
    Int32,
}

/// <summary>Parsing and canonical spelling of <see cref="BiasMode"/>: <c>none|float|int32</c>.</summary>
public static class BiasModeOption
{
    public const string Allowed = "none, float, int32";

    extension(BiasMode)
    {
        public static BiasMode Parse(string? text) => OptionText.Normalize(text) switch
        {
            "none" => BiasMode.None,
            "float" => BiasMode.Float,
            "int32" => BiasMode.Int32,
            _ => throw OptionText.Invalid("bias mode", text, Allowed),
        };
    }

    extension(BiasMode mode)
    {
        public string ToOption() => mode switch
        {
            BiasMode.None => "none",
            BiasMode.Float => "float",
            BiasMode.Int32 => "int32",
            _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, null),
        };
    }
}
