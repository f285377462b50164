using QuantLab.Engine.Quantization;

namespace QuantLab.Engine.Calibration;

/// <summary>
/// The registry of range methods (PyTorch AO observer style: one class per method behind
/// <see cref="IRangeObserver"/>). Parsing, the allowed-values text, QAT's checks and calibrate keys all read
/// this list, so a new method is its observer file plus one line here.
/// </summary>
public static class RangeObservers
{
    public static readonly IReadOnlyList<RangeMethodInfo> Methods =
    [
        MinMaxObserver.Method,
        SigmaObserver.Method,
        PercentileObserver.Method,
        EntropyObserver.Method,
        MseObserver.Method,
        AciqObserver.Method,
    ];

    /// <summary>Creates the observer for a range method. One observer per tensor, or per output channel for per-channel weights.</summary>
    /// <param name="bits">The bit width the range is for (2 … 16), passed on only to methods that declare <see cref="RangeDependency.Bits"/>.</param>
    /// <param name="rounding">The experiment's rounding, passed on only to methods that declare <see cref="RangeDependency.Rounding"/>.</param>
    public static IRangeObserver Create(RangeMethod method, int bits, RoundingMode rounding)
    {
        ArgumentNullException.ThrowIfNull(method);
        return method.CreateObserver(bits, rounding);
    }
}
