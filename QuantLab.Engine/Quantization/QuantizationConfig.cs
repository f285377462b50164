using System.Globalization;
using QuantLab.Engine.Calibration;

namespace QuantLab.Engine.Quantization;

/// <summary>
/// One quantization configuration: the axes of DESIGN.md §5 except the model and calibration set.
/// A record so a <c>with</c> expression can derive a variant; call <see cref="Validate"/> (or
/// <see cref="TryValidate"/>, for a planner that drops impossible combinations) before using it.
/// </summary>
public sealed record QuantizationConfig(
    QuantScope Scope,
    int WeightBits,
    int ActBits,
    RangeMethod WeightRange,
    RangeMethod ActRange,
    Granularity Granularity,
    RoundingMode Rounding,
    RequantSpec Requant,
    BiasMode Bias,
    ActSignedness ActSignedness = ActSignedness.Signed)
{
    /// <summary>The seed's §2.4 setting: everything 8-bit on the integer path, min/max ranges per
    /// tensor, floor rounding, float requantization, no bias (the defaults of <see cref="QuantizationOptions"/>).</summary>
    public static QuantizationConfig Default => _default ??= QuantizationOptions.Defaults();
    private static QuantizationConfig? _default;

    /// <summary>Whether the configuration needs activation ranges: the integer path, or an int32 bias, whose step
    /// s_w·s_x takes the input's step also in the weights scope.</summary>
    public bool NeedsActivationRanges => Scope == QuantScope.All || Bias == BiasMode.Int32;

    /// <summary>True when the configuration can exist; otherwise <paramref name="problem"/> says why, naming the options.</summary>
    public bool TryValidate(out string problem)
    {
        if (!BitWidth.IsValid(WeightBits))
            problem = $"weight bits {WeightBits.ToString(CultureInfo.InvariantCulture)} is not {BitWidth.Allowed}";
        else if (!BitWidth.IsValid(ActBits))
            problem = $"act bits {ActBits.ToString(CultureInfo.InvariantCulture)} is not {BitWidth.Allowed}";
        else if (WeightRange is null || ActRange is null || Requant is null)
            problem = "weight range, act range and requant must all be set";
        else if (!Enum.IsDefined(Scope) || !Enum.IsDefined(Granularity) || !Enum.IsDefined(Rounding) || !Enum.IsDefined(Bias) || !Enum.IsDefined(ActSignedness))
            problem = "scope, granularity, rounding, bias and act signedness must be defined values";
        else if (Scope == QuantScope.All && Requant.IsFixedPoint && Bias == BiasMode.Float)   // the weights scope does not requantize
            problem = $"requant {Requant.ToOption()} cannot be combined with bias float: fixed-point requantization "
                      + "adds the bias to the integer accumulator, so it requires bias none or int32 (or requant float)";
        else
        {
            problem = "";
            return true;
        }
        return false;
    }

    /// <summary>Throws a <see cref="BadInputException"/> naming the problem unless <see cref="TryValidate"/> succeeds.</summary>
    public QuantizationConfig Validate()
    {
        if (!TryValidate(out var problem)) throw new BadInputException($"Invalid quantization configuration: {problem}.");
        return this;
    }

    /// <summary>Every option in its canonical spelling, in the order of DESIGN.md §6.</summary>
    public override string ToString() =>
        string.Join(' ', QuantizationOptions.All.Select(o => $"{o.Flag[2..]}={QuantizationOptions.ValueOf(o, this)}"));
}
