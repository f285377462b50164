namespace QuantLab.Engine.Quantization;

/// <summary>
/// The rounding R of DESIGN.md §3. One mode per experiment, used for every rounding in it:
/// quantizing weights, inputs and biases, requantizing, and the fixed-point shift.
/// </summary>
public enum RoundingMode
{
    /// <summary><c>floor</c>: towards −∞ (the seed's choice).</summary>
    Floor,

    /// <summary><c>half-even</c>: to the nearest, ties to even (torch.round, lrint).</summary>
    HalfEven,

    /// <summary><c>half-away</c>: to the nearest, ties away from zero (C round, gemmlowp).</summary>
    HalfAway,
}

/// <summary>Parsing and canonical spelling of <see cref="RoundingMode"/>: <c>floor|half-even|half-away</c>.</summary>
public static class RoundingModeOption
{
    public const string Allowed = "floor, half-even, half-away";

    extension(RoundingMode)
    {
        /// <summary>Parses <c>floor|half-even|half-away</c>; anything else is a <see cref="BadInputException"/>.</summary>
        public static RoundingMode Parse(string? text) => OptionText.Normalize(text) switch
        {
            "floor" => RoundingMode.Floor,
            "half-even" => RoundingMode.HalfEven,
            "half-away" => RoundingMode.HalfAway,
            _ => throw OptionText.Invalid("rounding", text, Allowed),
        };
    }

    extension(RoundingMode mode)
    {
        /// <summary>The canonical spelling; <c>RoundingMode.Parse(mode.ToOption()) == mode</c>.</summary>
        public string ToOption() => mode switch
        {
            RoundingMode.Floor => "floor",
            RoundingMode.HalfEven => "half-even",
            RoundingMode.HalfAway => "half-away",
            _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, null),
        };
    }
}
