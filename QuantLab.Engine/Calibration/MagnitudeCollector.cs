namespace QuantLab.Engine.Calibration;

/// <summary>
/// A histogram of |x| over [0, max|x|] with the signs kept apart (<see cref="Positive"/> counts x &gt; 0,
/// <see cref="Negative"/> counts x &lt; 0, bin j covering magnitudes [j·w, (j+1)·w)) and exact zeros counted
/// on their own: every rounding maps 0 to 0, so zeros are free of quantization error (and ReLU outputs
/// have many). Counts are doubles because a histogram re-binned from a finer one splits bins.
/// </summary>
internal sealed record MagnitudeHistogram(double[] Positive, double[] Negative, double Zeros, double BinWidth, double MaxAbs)
{
    public int Bins => Positive.Length;
}

/// <summary>
/// Collects the values the histogram-based observers (percentile, entropy, mse) need.
/// Up to <see cref="DefaultExactLimit"/> values (2^22 = 4,194,304: 16 MiB of floats) are kept exactly,
/// so percentiles are exact order statistics and histograms are built over exactly [0, max|x|] at the end.
/// Past that, the values move into a fine histogram of 2^16 bins per sign over [0, R], where R starts at
/// max|x| of the values seen so far and doubles (merging bin pairs, exact) whenever a larger |x| arrives;
/// a bin is then at most 2·max|x|/2^16 wide, and percentiles and coarse histograms interpolate within it
/// (values assumed uniform inside a fine bin). Deterministic for a given sequence of Add calls.
/// </summary>
internal sealed class MagnitudeCollector
{
    public const int DefaultExactLimit = 1 << 22;
    public const int FineBinCount = 1 << 16;

    private readonly int _exactLimit;
    private float[] _values = [];
    private int _stored;
    private long[]? _finePositive;
    private long[]? _fineNegative;
    private double _fineRange;                                   // R: the fine bins cover [0, R]
    private long _fineZeros;

    public MagnitudeCollector(int exactLimit = DefaultExactLimit)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(exactLimit);
        _exactLimit = exactLimit;
    }

    public long Count { get; private set; }
    public double Min { get; private set; } = double.PositiveInfinity;
    public double Max { get; private set; } = double.NegativeInfinity;
    public double MaxAbs => Count == 0 ? 0 : Math.Max(Math.Abs(Min), Math.Abs(Max));
    public bool IsExact => _finePositive is null;

    public void Add(ReadOnlySpan<float> values)
    {
        double min = Min, max = Max;
        foreach (float v in values)
        {
            if (!float.IsFinite(v)) throw ObservedValues.NonFinite();   // before any change: a failed call changes nothing
            if (v < min) min = v;
            if (v > max) max = v;
        }
        (Min, Max) = (min, max);
        Count += values.Length;

        if (IsExact && (long)_stored + values.Length <= _exactLimit)
        {
            if (_stored + values.Length > _values.Length)
                Array.Resize(ref _values, (int)Math.Min(_exactLimit, Math.Max(2L * _values.Length, _stored + values.Length)));
            values.CopyTo(_values.AsSpan(_stored));
            _stored += values.Length;
            return;
        }

        if (IsExact) MoveToFineHistogram();
        foreach (float v in values) AddToFine(v);
    }

    private void MoveToFineHistogram()
    {
        _finePositive = new long[FineBinCount];
        _fineNegative = new long[FineBinCount];
        _fineRange = MaxAbs;                                     // includes the batch being added
        foreach (float v in _values.AsSpan(0, _stored)) AddToFine(v);
        _values = [];
        _stored = 0;
    }

    private void AddToFine(float v)
    {
        if (v == 0)
        {
            _fineZeros++;
            return;
        }
        double a = Math.Abs((double)v);
        if (_fineRange == 0) _fineRange = a;                     // only zeros so far
        while (a > _fineRange) DoubleFineRange();
        int bin = Math.Min((int)(a / _fineRange * FineBinCount), FineBinCount - 1);
        if (v > 0) _finePositive![bin]++;
        else _fineNegative![bin]++;
    }

    private void DoubleFineRange()
    {
        foreach (var bins in new[] { _finePositive!, _fineNegative! })
        {
            for (int i = 0; i < FineBinCount / 2; i++) bins[i] = bins[2 * i] + bins[2 * i + 1];
            Array.Clear(bins, FineBinCount / 2, FineBinCount / 2);
        }
        _fineRange *= 2;
    }

    /// <summary>
    /// The <paramref name="percentile"/>-th percentile (0 &lt; p ≤ 100) of |x|. Exact mode: linear
    /// interpolation between order statistics at rank (N − 1)·p/100 (NumPy's default). Fine mode: the
    /// magnitude below which p % of the values lie, interpolated within a fine bin.
    /// </summary>
    public double Percentile(double percentile)
    {
        if (Count == 0) throw new InvalidOperationException("No values collected.");
        if (IsExact)
        {
            var sorted = new float[_stored];
            for (int i = 0; i < _stored; i++) sorted[i] = Math.Abs(_values[i]);
            Array.Sort(sorted);
            double position = (sorted.Length - 1) * (percentile / 100);
            int lo = (int)Math.Floor(position);
            int hi = Math.Min(lo + 1, sorted.Length - 1);
            return sorted[lo] + (sorted[hi] - (double)sorted[lo]) * (position - lo);
        }

        double rank = percentile / 100 * Count;
        double cumulative = _fineZeros;
        if (rank <= cumulative) return 0;
        double width = _fineRange / FineBinCount;
        for (int i = 0; i < FineBinCount; i++)
        {
            long c = _finePositive![i] + _fineNegative![i];
            if (c == 0) continue;
            if (cumulative + c >= rank)
            {
                double lo = i * width, hi = Math.Min((i + 1) * width, MaxAbs);
                return Math.Min(lo + (rank - cumulative) / c * (hi - lo), MaxAbs);
            }
            cumulative += c;
        }
        return MaxAbs;
    }

    /// <summary>
    /// A histogram of <paramref name="bins"/> bins over exactly [0, max|x|] (max|x| &gt; 0 required).
    /// Exact mode bins each value; fine mode splits each fine bin over the coarse bins it overlaps, in
    /// proportion to the overlap (a fine bin is at most 1/16 of a coarse one for up to 2048 coarse bins).
    /// </summary>
    public MagnitudeHistogram ToHistogram(int bins)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bins, 1);
        double maxAbs = MaxAbs;
        if (!(maxAbs > 0)) throw new InvalidOperationException("A magnitude histogram needs a nonzero value.");
        var positive = new double[bins];
        var negative = new double[bins];
        double width = maxAbs / bins;
        double zeros;

        if (IsExact)
        {
            long zeroCount = 0;
            foreach (float v in _values.AsSpan(0, _stored))
            {
                if (v == 0)
                {
                    zeroCount++;
                    continue;
                }
                int bin = Math.Min((int)(Math.Abs((double)v) / width), bins - 1);
                if (v > 0) positive[bin]++;
                else negative[bin]++;
            }
            zeros = zeroCount;
        }
        else
        {
            double fineWidth = _fineRange / FineBinCount;
            for (int i = 0; i < FineBinCount; i++)
            {
                long p = _finePositive![i], n = _fineNegative![i];
                if (p == 0 && n == 0) continue;
                double lo = i * fineWidth;
                double hi = Math.Min((i + 1) * fineWidth, maxAbs);      // the top fine bin ends at max|x|
                int first = Math.Min((int)(lo / width), bins - 1);
                if (hi <= lo)
                {
                    positive[first] += p;
                    negative[first] += n;
                    continue;
                }
                int last = Math.Min((int)(hi / width), bins - 1);
                // Normalise by the summed overlaps, not hi − lo, so that rounding never loses a count.
                double total = 0;
                for (int j = first; j <= last; j++) total += Overlap(j);
                for (int j = first; j <= last; j++)
                {
                    double share = Overlap(j) / total;
                    positive[j] += p * share;
                    negative[j] += n * share;
                }

                double Overlap(int j) =>
                    Math.Max(0, Math.Min(hi, j == bins - 1 ? maxAbs : (j + 1) * width) - Math.Max(lo, j * width));
            }
            zeros = _fineZeros;
        }
        return new MagnitudeHistogram(positive, negative, zeros, width, maxAbs);
    }
}
