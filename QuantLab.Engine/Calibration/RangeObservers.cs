using QuantLab.Engine.Quantization;

namespace QuantLab.Engine.Calibration;

/// <summary>Creates the observer for a range method. One observer per tensor, or per output channel for per-channel weights.</summary>
public static class RangeObservers
{
    /// <param name="method">The range method.</param>
    /// <param name="bits">The bit width the range is for (2 … 16): entropy's levels and mse's grid depend on it.</param>
    /// <param name="rounding">The experiment's rounding: mse's error depends on it.</param>
    public static IRangeObserver Create(RangeMethod method, int bits, RoundingMode rounding)
    {
        ArgumentNullException.ThrowIfNull(method);
        BitWidth.Validate(bits);
        return method.Kind switch
        {
            RangeMethodKind.MinMax => new MinMaxObserver(),
            RangeMethodKind.Sigma => new SigmaObserver(method.Parameter),
            RangeMethodKind.Percentile => new PercentileObserver(method.Parameter),
            RangeMethodKind.Entropy => new EntropyObserver(bits),
            RangeMethodKind.Mse => new MseObserver(bits, rounding),
            _ => throw new ArgumentOutOfRangeException(nameof(method), method, null),
        };
    }
}
