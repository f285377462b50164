using System.Globalization;
using QuantLab.Engine.Quantization;

namespace QuantLab.Engine.Calibration;

/// <summary>The range methods of DESIGN.md §6; each has one observer class (see <see cref="RangeObservers"/>).</summary>
public enum RangeMethodKind
{
    /// <summary><c>minmax</c>: the real range.</summary>
    MinMax,

    /// <summary><c>sigma:K</c>: mean ± K·σ.</summary>
    Sigma,

    /// <summary><c>percentile:P</c>: the P-th percentile of |x|.</summary>
    Percentile,

    /// <summary><c>entropy</c>: the threshold minimising the KL divergence (TensorRT style).</summary>
    Entropy,

    /// <summary><c>mse</c>: the threshold minimising the expected quantization MSE.</summary>
    Mse,
}

/// <summary>
/// A range method with its parameter: <c>minmax|sigma:K|percentile:P|entropy|mse</c>, K &gt; 0 and
/// 0 &lt; P ≤ 100 (finite decimals). The canonical spelling prints the parameter in its shortest
/// round-trip form (<c>sigma:3</c>, <c>percentile:99.99</c>); <c>sigma:3.0</c> parses to the same value.
/// </summary>
public sealed record RangeMethod
{
    public const string Allowed = "minmax, sigma:K (K > 0, e.g. sigma:3), percentile:P (0 < P <= 100, e.g. percentile:99.9), entropy, mse";

    private RangeMethod(RangeMethodKind kind, double parameter)
    {
        Kind = kind;
        Parameter = parameter;
    }

    public RangeMethodKind Kind { get; }

    /// <summary>K for <c>sigma</c>, P for <c>percentile</c>, 0 otherwise.</summary>
    public double Parameter { get; }

    public static RangeMethod MinMax { get; } = new(RangeMethodKind.MinMax, 0);
    public static RangeMethod Entropy { get; } = new(RangeMethodKind.Entropy, 0);
    public static RangeMethod Mse { get; } = new(RangeMethodKind.Mse, 0);

    public static RangeMethod Sigma(double k)
    {
        if (!(double.IsFinite(k) && k > 0))
            throw OptionText.Invalid("range method", "sigma:" + Format(k), Allowed, "K must be a positive number");
        return new(RangeMethodKind.Sigma, k);
    }

    public static RangeMethod Percentile(double p)
    {
        if (!(double.IsFinite(p) && p > 0 && p <= 100))
            throw OptionText.Invalid("range method", "percentile:" + Format(p), Allowed, "P must be a number with 0 < P <= 100");
        return new(RangeMethodKind.Percentile, p);
    }

    /// <summary>Parses <c>minmax|sigma:K|percentile:P|entropy|mse</c>; anything else is a <see cref="BadInputException"/>.</summary>
    public static RangeMethod Parse(string? text)
    {
        var t = OptionText.Normalize(text);
        switch (t)
        {
            case "minmax": return MinMax;
            case "entropy": return Entropy;
            case "mse": return Mse;
        }

        var colon = t.IndexOf(':');
        var name = colon < 0 ? t : t[..colon];
        if (name is "sigma" or "percentile")
        {
            if (colon < 0 || !TryParseNumber(t[(colon + 1)..], out var value))
                throw OptionText.Invalid("range method", text, Allowed,
                    name == "sigma" ? "sigma needs a number K, as in sigma:3" : "percentile needs a number P, as in percentile:99.9");
            if (name == "sigma")
            {
                if (value > 0) return new(RangeMethodKind.Sigma, value);
                throw OptionText.Invalid("range method", text, Allowed, "K must be a positive number");
            }
            if (value > 0 && value <= 100) return new(RangeMethodKind.Percentile, value);
            throw OptionText.Invalid("range method", text, Allowed, "P must be a number with 0 < P <= 100");
        }
        throw OptionText.Invalid("range method", text, Allowed);
    }

    /// <summary>The canonical spelling, e.g. <c>minmax</c>, <c>sigma:3</c>, <c>percentile:99.9</c>.</summary>
    public string ToOption() => Kind switch
    {
        RangeMethodKind.MinMax => "minmax",
        RangeMethodKind.Sigma => "sigma:" + Format(Parameter),
        RangeMethodKind.Percentile => "percentile:" + Format(Parameter),
        RangeMethodKind.Entropy => "entropy",
        RangeMethodKind.Mse => "mse",
        _ => throw new InvalidOperationException($"Unknown range method kind {Kind}."),
    };

    public override string ToString() => ToOption();

    // Shortest round-trip decimal: double.Parse(Format(x)) == x.
    private static string Format(double x) => x.ToString("R", CultureInfo.InvariantCulture);

    private static bool TryParseNumber(string s, out double value) =>
        double.TryParse(s, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent,
            CultureInfo.InvariantCulture, out value) && double.IsFinite(value);
}
