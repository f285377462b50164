namespace QuantLab.Engine.Calibration;

/// <summary>
/// <c>percentile:P</c>: T = the P-th percentile of |x|, 0 &lt; P ≤ 100. Exact (linear interpolation between
/// order statistics) up to 2^22 observed values, then from a 2^16-bin histogram per sign (see
/// <see cref="MagnitudeCollector"/>). The range is the real range clipped to [−T, T].
/// </summary>
public sealed class PercentileObserver : IRangeObserver
{
    public static readonly RangeMethodInfo Method = new("percentile", new RangeParameter("P", "0 < P <= 100", "99.9", p => p > 0 && p <= 100),
        "the P-th percentile of |x|", RangeDependency.None, ObservedPerBatch: false, (p, _) => new PercentileObserver(p));

    private readonly MagnitudeCollector _values;

    public PercentileObserver(double percentile) : this(percentile, MagnitudeCollector.DefaultExactLimit) { }

    internal PercentileObserver(double percentile, int exactLimit)
    {
        if (!(double.IsFinite(percentile) && percentile > 0 && percentile <= 100))
            throw new ArgumentOutOfRangeException(nameof(percentile), percentile, "P must satisfy 0 < P <= 100.");
        Percentile = percentile;
        _values = new MagnitudeCollector(exactLimit);
    }

    public double Percentile { get; }

    public void Observe(ReadOnlySpan<float> values) => _values.Add(values);

    public ObservedRange Compute()
    {
        if (_values.Count == 0) throw ObservedValues.Empty($"percentile:{Percentile}");
        return ObservedValues.Clip(_values.Min, _values.Max, Math.Min(_values.Percentile(Percentile), _values.MaxAbs));
    }
}
