using QuantLab.Engine;
using QuantLab.Engine.Calibration;
using QuantLab.Engine.Quantization;

namespace QuantLab.Actors.Campaigns;

/// <summary>
/// The value grammar of the quantization fields, spelled as the CLI spells them (DESIGN.md §6).
/// Every method checks one raw value with the engine's option parsers and returns its canonical spelling,
/// or null when it is invalid; <see cref="Allowed"/> texts name the allowed values for error messages.
/// Canonical spellings matter: they are hashed into job keys.
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
        /// <summary>Bias mode when the spec names none: as the CLI's default, int32 for a model with bias, none without.</summary>
        public static string BiasFor(bool modelHasBias) => modelHasBias ? "int32" : "none";
    }

    public static string? Scope(string raw) => Canonical(() => QuantScope.Parse(raw).ToOption());

    public static bool Bits(long value) => value is >= MinBits and <= MaxBits;

    public static string? Range(string raw) => Canonical(() => RangeMethod.Parse(raw).ToOption());

    /// <summary>Whether the range a method computes depends on the bit width (it optimizes a quantization error).</summary>
    public static bool RangeDependsOnBits(string canonicalRange) => canonicalRange is "entropy" or "mse";

    public static string? Granularity(string raw) => Canonical(() => Engine.Quantization.Granularity.Parse(raw).ToOption());

    public static string? Rounding(string raw) => Canonical(() => RoundingMode.Parse(raw).ToOption());

    public static string? Requant(string raw) => Canonical(() => RequantSpec.Parse(raw).ToOption());

    public static bool IsFixedPoint(string canonicalRequant) => canonicalRequant.StartsWith("fixed-point", StringComparison.Ordinal);

    public static string? Bias(string raw) => Canonical(() => BiasMode.Parse(raw).ToOption());

    public static bool Calibration(long value) => value >= 1;

    /// <summary>The engine's canonical spelling of a value its parser accepts, or null: the campaign fields and
    /// the CLI flags share one grammar (QuantLab.Engine/Quantization).</summary>
    private static string? Canonical(Func<string> parse)
    {
        try { return parse(); }
        catch (BadInputException) { return null; }
    }
}
