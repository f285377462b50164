using System.Globalization;

namespace QuantLab.Engine.Quantization;

/// <summary>The arithmetic of requantization (DESIGN.md §3).</summary>
public enum RequantMode
{
    /// <summary>v = acc·m as a double.</summary>
    Float,

    /// <summary>y = RShift(acc·M0, k) with an integer multiplier M0 of <see cref="RequantSpec.Precision"/> bits.</summary>
    FixedPoint,
}

/// <summary>
/// The requantization setting: <c>float</c>, or <c>fixed-point</c> with multiplier precision P, 8 ≤ P ≤ 31
/// (<c>fixed-point</c> alone means P = 31). The canonical spelling always states P (<c>fixed-point:31</c>),
/// so a report shows it; both spellings parse to equal values.
/// </summary>
public sealed record RequantSpec
{
    public const int MinPrecision = 8;
    public const int MaxPrecision = 31;
    public const int DefaultPrecision = 31;
    public const string Allowed = "float, fixed-point, fixed-point:P (P an integer from 8 to 31; fixed-point means fixed-point:31)";

    private RequantSpec(RequantMode mode, int precision)
    {
        Mode = mode;
        Precision = precision;
    }

    public RequantMode Mode { get; }

    /// <summary>P, the bits of the fixed-point multiplier M0 (2^(P−1) ≤ M0 &lt; 2^P); 0 for <see cref="RequantMode.Float"/>.</summary>
    public int Precision { get; }

    public bool IsFixedPoint => Mode == RequantMode.FixedPoint;

    public static RequantSpec Float { get; } = new(RequantMode.Float, 0);

    public static RequantSpec FixedPoint(int precision = DefaultPrecision)
    {
        if (precision is < MinPrecision or > MaxPrecision)
            throw OptionText.Invalid("requant", $"fixed-point:{precision.ToString(CultureInfo.InvariantCulture)}", Allowed);
        return new(RequantMode.FixedPoint, precision);
    }

    /// <summary>Parses <c>float|fixed-point|fixed-point:P</c>; anything else is a <see cref="BadInputException"/>.</summary>
    public static RequantSpec Parse(string? text)
    {
        var t = OptionText.Normalize(text);
        if (t == "float") return Float;
        if (t == "fixed-point") return FixedPoint();
        const string prefix = "fixed-point:";
        if (t.StartsWith(prefix, StringComparison.Ordinal))
        {
            var p = t[prefix.Length..];
            if (int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out var precision)
                && precision is >= MinPrecision and <= MaxPrecision)
                return new(RequantMode.FixedPoint, precision);
            throw OptionText.Invalid("requant", text, Allowed, "P must be an integer from 8 to 31");
        }
        throw OptionText.Invalid("requant", text, Allowed);
    }

    /// <summary>The canonical spelling: <c>float</c> or <c>fixed-point:P</c>.</summary>
    public string ToOption() => IsFixedPoint ? $"fixed-point:{Precision.ToString(CultureInfo.InvariantCulture)}" : "float";

    public override string ToString() => ToOption();
}
