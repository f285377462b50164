namespace QuantLab.Engine.Calibration;

/// <summary>
/// <c>aciq</c>: analytical clipping for a Laplace fit of the tensor (Banner, Nahshan and Soudry, "Post-training
/// 4-bit quantization of convolution networks for rapid deployment", 2019). The values are fitted by a
/// Laplace(μ, b) with μ their mean and b = E|x − μ|; the clipping α = c(n)·b minimises the expected
/// quantization error of n bits, clipping noise 2b²·e^(−α/b) plus rounding noise α²/(3·4^n). Setting the
/// derivative to zero gives t·e^t = 3·4^n for t = α/b; the paper's constants c(2..8) = 2.83, 3.89, 5.03, 6.20,
/// 7.41, 8.64, 9.89 solve it to within 0.01 and are used as printed; other widths solve the equation
/// (<see cref="ClippingConstant"/>). T = min(|μ| + α, max|x|); the range is the real range clipped to [−T, T].
/// Exact in two passes, so it keeps the observed values (a calibration set, not a training stream).
/// </summary>
public sealed class AciqObserver : IRangeObserver
{
    public static readonly RangeMethodInfo Method = new("aciq", null, "analytical clipping for a Laplace fit (Banner et al. 2019)",
        RangeDependency.Bits, ObservedPerBatch: false, (_, c) => new AciqObserver(c.Bits));

    private static readonly IReadOnlyDictionary<int, double> PaperConstants = new Dictionary<int, double>
    {
        [2] = 2.83, [3] = 3.89, [4] = 5.03, [5] = 6.20, [6] = 7.41, [7] = 8.64, [8] = 9.89,
    };

    private readonly List<float> _values = [];

    public AciqObserver(int bits)
    {
        Quantization.BitWidth.Validate(bits);
        Bits = bits;
    }

    public int Bits { get; }

    /// <summary>c(n): the paper's constant for 2..8 bits, otherwise the solution t of t·e^t = 3·4^n (Newton on
    /// ln t + t = ln(3·4^n), which is monotone and converges from t = ln(3·4^n)).</summary>
    public static double ClippingConstant(int bits) =>
        PaperConstants.TryGetValue(bits, out var c) ? c : SolveClipping(bits);

    /// <summary>The exact solution of t·e^t = 3·4^n (the paper rounds it to two decimals).</summary>
    public static double SolveClipping(int bits)
    {
        double target = Math.Log(3) + bits * Math.Log(4), t = target;
        for (int i = 0; i < 100; i++)
        {
            double next = t - (Math.Log(t) + t - target) / (1 / t + 1);
            if (Math.Abs(next - t) < 1e-13) return next;
            t = next;
        }
        return t;
    }

    public void Observe(ReadOnlySpan<float> values)
    {
        foreach (float v in values)
            if (!float.IsFinite(v)) throw ObservedValues.NonFinite();   // before any change: a failed call changes nothing
        _values.AddRange(values);
    }

    public ObservedRange Compute()
    {
        if (_values.Count == 0) throw ObservedValues.Empty("aciq");
        double sum = 0, min = double.PositiveInfinity, max = double.NegativeInfinity;
        foreach (float v in _values)
        {
            sum += v;
            min = Math.Min(min, v);
            max = Math.Max(max, v);
        }
        double mean = sum / _values.Count, deviation = 0;
        foreach (float v in _values) deviation += Math.Abs(v - mean);
        double b = deviation / _values.Count;
        double maxAbs = Math.Max(Math.Abs(min), Math.Abs(max));
        double threshold = Math.Min(Math.Abs(mean) + ClippingConstant(Bits) * b, maxAbs);
        return ObservedValues.Clip(min, max, threshold);
    }
}
