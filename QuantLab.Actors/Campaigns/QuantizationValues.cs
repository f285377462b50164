using System.Globalization;

namespace QuantLab.Actors.Campaigns;

/// <summary>
/// The value grammar of the quantization fields, spelled as the CLI spells them (DESIGN.md §6).
/// Every method checks one raw value and returns its canonical spelling, or null when it is invalid;
/// <see cref="Allowed"/> texts name the allowed values for error messages. All of it lives in this one
/// file so it can be replaced by the engine's own option parsers (QuantLab.Engine/Quantization) once
/// they exist. Canonical spellings matter: they are hashed into job keys.
/// </summary>
public static class QuantizationValues
{
    public const int MinBits = 2, MaxBits = 16;
    public const int MinFixedPointPrecision = 8, MaxFixedPointPrecision = 31, DefaultFixedPointPrecision = 31;

    public static class Allowed
    {
        public const string Scope = "weights, all";
        public const string Bits = "integers 2..16";
        public const string Range = "minmax, sigma:K (K > 0), percentile:P (0 < P <= 100), entropy, mse";
        public const string Granularity = "tensor, channel";
        public const string Rounding = "floor, half-even, half-away";
        public const string Requant = "float, fixed-point, fixed-point:P (P = 8..31)";
        public const string Bias = "none, float, int32";
        public const string Calibration = "integers >= 1 (number of calibration images)";
    }

    /// <summary>Defaults for fields a spec leaves out (the seed's choices: 8 bits, min/max ranges, floor rounding).</summary>
    public static class Defaults
    {
        public const string Scope = "all";
        public const int WeightBits = 8, ActBits = 8;
        public const string WeightRange = "minmax", ActRange = "minmax";
        public const string Granularity = "tensor";
        public const string Rounding = "floor";
        public const string Requant = "float";
        public const int Calibration = 1000;
        /// <summary>Bias mode when the spec names none: the model's own (none without bias, float with).</summary>
        public static string BiasFor(bool modelHasBias) => modelHasBias ? "float" : "none";
    }

    public static string? Scope(string raw) => raw is "weights" or "all" ? raw : null;

    public static bool Bits(long value) => value is >= MinBits and <= MaxBits;

    public static string? Range(string raw)
    {
        if (raw is "minmax" or "entropy" or "mse") return raw;
        if (raw.StartsWith("sigma:", StringComparison.Ordinal)
            && TryNumber(raw["sigma:".Length..], out var k) && k > 0)
            return "sigma:" + Number(k);
        if (raw.StartsWith("percentile:", StringComparison.Ordinal)
            && TryNumber(raw["percentile:".Length..], out var p) && p > 0 && p <= 100)
            return "percentile:" + Number(p);
        return null;
    }

    /// <summary>Whether the range a method computes depends on the bit width (it optimizes a quantization error).</summary>
    public static bool RangeDependsOnBits(string canonicalRange) => canonicalRange is "entropy" or "mse";

    public static string? Granularity(string raw) => raw is "tensor" or "channel" ? raw : null;

    public static string? Rounding(string raw) => raw is "floor" or "half-even" or "half-away" ? raw : null;

    public static string? Requant(string raw)
    {
        if (raw == "float") return raw;
        if (raw == "fixed-point") return $"fixed-point:{DefaultFixedPointPrecision}";
        if (raw.StartsWith("fixed-point:", StringComparison.Ordinal)
            && int.TryParse(raw["fixed-point:".Length..], NumberStyles.None, CultureInfo.InvariantCulture, out var p)
            && p is >= MinFixedPointPrecision and <= MaxFixedPointPrecision)
            return $"fixed-point:{p}";
        return null;
    }

    public static bool IsFixedPoint(string canonicalRequant) => canonicalRequant.StartsWith("fixed-point", StringComparison.Ordinal);

    public static string? Bias(string raw) => raw is "none" or "float" or "int32" ? raw : null;

    public static bool Calibration(long value) => value >= 1;

    private static bool TryNumber(string s, out double value) =>
        double.TryParse(s, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out value) && double.IsFinite(value);

    private static string Number(double v) => v.ToString("R", CultureInfo.InvariantCulture);
}
