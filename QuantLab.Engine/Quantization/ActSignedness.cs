namespace QuantLab.Engine.Quantization;

/// <summary>
/// The integer grid of an activation that passes a ReLU (DESIGN.md §3). The input image and a layer output
/// without ReLU (the logits) are always signed.
/// </summary>
public enum ActSignedness
{
    /// <summary><c>signed</c> (the seed's): every activation on [−2^(n−1), 2^(n−1) − 1] with s = 2T/(2^n − 1);
    /// after a ReLU only the non-negative half of the grid is used.</summary>
    Signed,

    /// <summary><c>unsigned-after-relu</c>: a layer output that passes a ReLU is quantized on [0, 2^n − 1] with
    /// s = T/(2^n − 1), so no level is spent on values a ReLU cannot produce.</summary>
    UnsignedAfterRelu,
}

/// <summary>Parsing and canonical spelling of <see cref="ActSignedness"/>: <c>signed|unsigned-after-relu</c>.</summary>
public static class ActSignednessOption
{
    public const string Allowed = "signed, unsigned-after-relu";

    extension(ActSignedness)
    {
        public static ActSignedness Parse(string? text) => OptionText.Normalize(text) switch
        {
            "signed" => ActSignedness.Signed,
            "unsigned-after-relu" => ActSignedness.UnsignedAfterRelu,
            _ => throw OptionText.Invalid("act signedness", text, Allowed),
        };
    }

    extension(ActSignedness signedness)
    {
        public string ToOption() => signedness switch
        {
            ActSignedness.Signed => "signed",
            ActSignedness.UnsignedAfterRelu => "unsigned-after-relu",
            _ => throw new ArgumentOutOfRangeException(nameof(signedness), signedness, null),
        };

        /// <summary>Whether a layer output with or without a ReLU is quantized on the signed grid.</summary>
        public bool OutputSigned(bool relu) => !(relu && signedness == ActSignedness.UnsignedAfterRelu);
    }
}
