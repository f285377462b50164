namespace QuantLab.Engine.Calibration;

/// <summary><c>minmax</c>: the real range [min x, max x] (seed §2.1 "real range").</summary>
public sealed class MinMaxObserver : IRangeObserver
{
    public static readonly RangeMethodInfo Method = new("minmax", null, "the real range", RangeDependency.None, ObservedPerBatch: true,
        (_, _) => new MinMaxObserver());

    private float _min = float.PositiveInfinity;
    private float _max = float.NegativeInfinity;
    private long _count;

    public void Observe(ReadOnlySpan<float> values)
    {
        float min = _min, max = _max;
        foreach (float v in values)
        {
            if (!float.IsFinite(v)) throw ObservedValues.NonFinite();   // before any change: a failed call changes nothing
            if (v < min) min = v;
            if (v > max) max = v;
        }
        (_min, _max) = (min, max);
        _count += values.Length;
    }

    public ObservedRange Compute() => _count == 0 ? throw ObservedValues.Empty("minmax") : new(_min, _max);
}
