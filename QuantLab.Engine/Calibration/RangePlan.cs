using QuantLab.Engine.Quantization;

namespace QuantLab.Engine.Calibration;

/// <summary>
/// One range computation: a method and exactly the options it declares (<see cref="RangeMethodInfo.DependsOn"/>);
/// the others are null. Built only by <see cref="For"/>, so a calibrate job's record, and with it its key,
/// can hold nothing the method ignores and miss nothing it reads.
/// </summary>
public sealed record RangeRequest
{
    private RangeRequest(RangeMethod method, int? bits, RoundingMode? rounding)
    {
        Method = method;
        Bits = bits;
        Rounding = rounding;
    }

    public RangeMethod Method { get; }

    /// <summary>The bit width, where the method depends on it.</summary>
    public int? Bits { get; }

    /// <summary>The rounding, where the method depends on it.</summary>
    public RoundingMode? Rounding { get; }

    public static RangeRequest For(RangeMethod method, int bits, RoundingMode rounding)
    {
        BitWidth.Validate(bits);
        var depends = method.Info.DependsOn;
        return new(method,
            depends.HasFlag(RangeDependency.Bits) ? bits : null,
            depends.HasFlag(RangeDependency.Rounding) ? rounding : null);
    }

    public IRangeObserver CreateObserver() =>
        Method.CreateObserver(Bits ?? ObserverContext.Neutral.Bits, Rounding ?? ObserverContext.Neutral.Rounding);
}

/// <summary>
/// What a calibration computes: weight ranges (per tensor or per output channel) and, where the configuration
/// quantizes activations (<see cref="QuantizationConfig.NeedsActivationRanges"/>), activation ranges on a
/// calibration set of <see cref="CalibrationImages"/> images.
/// </summary>
public sealed record RangePlan(RangeRequest Weights, Granularity Granularity, RangeRequest? Activations, int? CalibrationImages)
{
    public static RangePlan For(QuantizationConfig config, int calibrationImages) => new(
        RangeRequest.For(config.WeightRange, config.WeightBits, config.Rounding),
        config.Granularity,
        config.NeedsActivationRanges ? RangeRequest.For(config.ActRange, config.ActBits, config.Rounding) : null,
        config.NeedsActivationRanges ? calibrationImages : null);
}
