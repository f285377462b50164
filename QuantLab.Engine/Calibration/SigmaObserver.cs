namespace QuantLab.Engine.Calibration;

/// <summary>
/// <c>sigma:K</c>: mean ± K·σ with the population σ (seed §2.1 "3-sigma range"). Streaming and
/// numerically stable in double: each batch's mean and sum of squared deviations are computed in two
/// passes, then merged into the running ones with Chan et al.'s pairwise update, so no Σx² − n·mean²
/// cancellation occurs. The range is not clipped to the real one: mean ± Kσ may exceed it.
/// </summary>
public sealed class SigmaObserver : IRangeObserver
{
    public static readonly RangeMethodInfo Method = new("sigma", new RangeParameter("K", "K > 0", "3", k => k > 0), "mean ± K standard deviations",
        RangeDependency.None, ObservedPerBatch: true, (k, _) => new SigmaObserver(k));

    private long _count;
    private double _mean;
    private double _m2;                                          // Σ (x − mean)²

    public SigmaObserver(double k)
    {
        if (!(double.IsFinite(k) && k > 0)) throw new ArgumentOutOfRangeException(nameof(k), k, "K must be a positive number.");
        K = k;
    }

    public double K { get; }

    public double Mean => _mean;

    /// <summary>σ = sqrt(Σ (x − mean)² / n), the population standard deviation.</summary>
    public double StandardDeviation => _count == 0 ? 0 : Math.Sqrt(_m2 / _count);

    public void Observe(ReadOnlySpan<float> values)
    {
        if (values.IsEmpty) return;
        double sum = 0;
        foreach (float v in values)
        {
            if (!float.IsFinite(v)) throw ObservedValues.NonFinite();
            sum += v;
        }
        long n = values.Length;
        double mean = sum / n;
        double m2 = 0;
        foreach (float v in values)
        {
            double d = v - mean;
            m2 += d * d;
        }

        long total = _count + n;
        double delta = mean - _mean;
        _mean += delta * n / total;
        _m2 += m2 + delta * delta * ((double)_count * n / total);
        _count = total;
    }

    public ObservedRange Compute()
    {
        if (_count == 0) throw ObservedValues.Empty($"sigma:{K}");
        double spread = K * StandardDeviation;
        return new(_mean - spread, _mean + spread);
    }
}
