namespace QuantLab.Engine.Quantization;

/// <summary>What is quantized (DESIGN.md §3, "Scopes").</summary>
public enum QuantScope
{
    /// <summary><c>weights</c>: weights are quantized and dequantized; the rest runs in float (seed §2.2).</summary>
    Weights,

    /// <summary><c>all</c>: weights and activations; the integer path (seed §2.4–2.5).</summary>
    All,
}

/// <summary>Parsing and canonical spelling of <see cref="QuantScope"/>: <c>weights|all</c>.</summary>
public static class QuantScopeOption
{
    public const string Allowed = "weights, all";

    extension(QuantScope)
    {
        public static QuantScope Parse(string? text) => OptionText.Normalize(text) switch
        {
            "weights" => QuantScope.Weights,
            "all" => QuantScope.All,
            _ => throw OptionText.Invalid("scope", text, Allowed),
        };
    }

    extension(QuantScope scope)
    {
        public string ToOption() => scope switch
        {
            QuantScope.Weights => "weights",
            QuantScope.All => "all",
            _ => throw new ArgumentOutOfRangeException(nameof(scope), scope, null),
        };
    }
}
