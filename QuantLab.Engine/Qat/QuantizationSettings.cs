using QuantLab.Engine.Calibration;
using QuantLab.Engine.Quantization;

namespace QuantLab.Engine.Qat;

/// <summary>A <see cref="QuantizationConfig"/> as JSON: every option in its canonical spelling, under the
/// camelCase of its flag (the <c>quantization</c> object of model.json and of the <c>--json</c> outputs).
/// <see cref="ActSignedness"/> is null (left out) at its default, <c>signed</c>, so files written before it existed
/// read back unchanged and files with the default are byte-identical to theirs.</summary>
public sealed record QuantizationSettings(
    string Scope, int WeightBits, int ActBits, string WeightRange, string ActRange,
    string Granularity, string Rounding, string Requant, string Bias, string? ActSignedness = null)
{
    public static QuantizationSettings From(QuantizationConfig c) => new(
        c.Scope.ToOption(), c.WeightBits, c.ActBits, c.WeightRange.ToOption(), c.ActRange.ToOption(),
        c.Granularity.ToOption(), c.Rounding.ToOption(), c.Requant.ToOption(), c.Bias.ToOption(),
        c.ActSignedness == Quantization.ActSignedness.Signed ? null : c.ActSignedness.ToOption());

    /// <summary>Parses every option back (a <see cref="BadInputException"/> names a bad one) and validates.</summary>
    public QuantizationConfig ToConfig()
    {
        BitWidth.Validate(WeightBits, "weight bits");
        BitWidth.Validate(ActBits, "act bits");
        return new QuantizationConfig(QuantScope.Parse(Scope), WeightBits, ActBits,
            RangeMethod.Parse(WeightRange), RangeMethod.Parse(ActRange), Quantization.Granularity.Parse(Granularity),
            RoundingMode.Parse(Rounding), RequantSpec.Parse(Requant), BiasMode.Parse(Bias),
            ActSignedness is null ? Quantization.ActSignedness.Signed : Quantization.ActSignedness.Parse(ActSignedness)).Validate();
    }
}
