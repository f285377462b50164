namespace QuantLab.Engine.Quantization;

/// <summary>How many weight steps a layer has: one for the whole tensor, or one per output channel c (s_w[c]).</summary>
public enum Granularity
{
    /// <summary><c>tensor</c>: one threshold and step for the whole weight tensor.</summary>
    Tensor,

    /// <summary><c>channel</c>: one threshold and step per output channel.</summary>
    Channel,
}

/// <summary>Parsing and canonical spelling of <see cref="Granularity"/>: <c>tensor|channel</c>.</summary>
public static class GranularityOption
{
    public const string Allowed = "tensor, channel";

    extension(Granularity)
    {
        public static Granularity Parse(string? text) => OptionText.Normalize(text) switch
        {
            "tensor" => Granularity.Tensor,
            "channel" => Granularity.Channel,
            _ => throw OptionText.Invalid("granularity", text, Allowed),
        };
    }

    extension(Granularity granularity)
    {
        public string ToOption() => granularity switch
        {
            Granularity.Tensor => "tensor",
            Granularity.Channel => "channel",
            _ => throw new ArgumentOutOfRangeException(nameof(granularity), granularity, null),
        };
    }
}
