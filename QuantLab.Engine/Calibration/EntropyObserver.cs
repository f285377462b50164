namespace QuantLab.Engine.Calibration;

/// <summary>
/// <c>entropy</c>: the TensorRT-style threshold minimising the KL divergence between the distribution of
/// |x| and its quantized version. On a histogram of |x| with <see cref="DefaultBins"/> = 2048 bins over
/// [0, max|x|] (zeros in bin 0), for every candidate i = L … 2048 bins kept, with L = min(2^(n−1), 2048)
/// quantized magnitude levels for n bits (128 at 8 bits):
/// <list type="bullet">
/// <item>P = bins 0 … i−1, with the mass beyond (the clipped outliers) added to bin i−1;</item>
/// <item>Q = bins 0 … i−1 merged into L levels (bin j into level ⌊j·L/i⌋), each level's mass spread evenly
/// over its nonempty bins and none over its empty ones;</item>
/// <item>KL(P‖Q) = Σ p ln(p/q) over normalised P and Q; +∞ where p &gt; 0 = q (then the candidate loses).</item>
/// </list>
/// The smallest i with the least divergence wins and T = i·w, the upper edge of the last kept bin (i = 2048
/// gives max|x|). From 12 bits on, L = 2048: the only candidate keeps every bin, so T = max|x|.
/// The range is the real range clipped to [−T, T].
/// </summary>
public sealed class EntropyObserver : IRangeObserver
{
    /// <summary>The levels of the quantized histogram follow the bit width.</summary>
    public static readonly RangeMethodInfo Method = new("entropy", null, "the KL-divergence threshold (TensorRT)", RangeDependency.Bits,
        ObservedPerBatch: false, (_, c) => new EntropyObserver(c.Bits));

    public const int DefaultBins = 2048;

    private readonly MagnitudeCollector _values;

    public EntropyObserver(int bits) : this(bits, DefaultBins, MagnitudeCollector.DefaultExactLimit) { }

    internal EntropyObserver(int bits, int bins, int exactLimit)
    {
        Quantization.BitWidth.Validate(bits);
        ArgumentOutOfRangeException.ThrowIfLessThan(bins, 2);
        Bits = bits;
        Bins = bins;
        _values = new MagnitudeCollector(exactLimit);
    }

    public int Bits { get; }
    public int Bins { get; }

    public void Observe(ReadOnlySpan<float> values) => _values.Add(values);

    public ObservedRange Compute()
    {
        if (_values.Count == 0) throw ObservedValues.Empty("entropy");
        if (_values.MaxAbs == 0) return new(0, 0);
        var histogram = _values.ToHistogram(Bins);
        int kept = BestBinCount(histogram, Math.Min(1 << (Bits - 1), Bins));
        double threshold = kept == Bins ? histogram.MaxAbs : kept * histogram.BinWidth;
        return ObservedValues.Clip(_values.Min, _values.Max, threshold);
    }

    /// <summary>The number of kept bins i ∈ [levels, bins] with the least KL divergence.</summary>
    internal static int BestBinCount(MagnitudeHistogram histogram, int levels)
    {
        int bins = histogram.Bins;
        var counts = new double[bins];
        for (int j = 0; j < bins; j++) counts[j] = histogram.Positive[j] + histogram.Negative[j];
        counts[0] += histogram.Zeros;

        var beyond = new double[bins + 1];                       // beyond[i] = Σ_{j ≥ i} counts[j]
        for (int j = bins - 1; j >= 0; j--) beyond[j] = beyond[j + 1] + counts[j];
        double total = beyond[0];

        var levelMass = new double[levels];
        var levelNonEmpty = new int[levels];
        int best = bins;
        double bestDivergence = double.PositiveInfinity;
        for (int i = levels; i <= bins; i++)
        {
            double outliers = beyond[i];
            double kept = total - outliers;
            if (kept <= 0 || (outliers > 0 && counts[i - 1] == 0)) continue;   // KL = +∞

            Array.Clear(levelMass);
            Array.Clear(levelNonEmpty);
            for (int j = 0; j < i; j++)
            {
                if (counts[j] == 0) continue;
                int level = (int)((long)j * levels / i);
                levelMass[level] += counts[j];
                levelNonEmpty[level]++;
            }

            double divergence = 0;
            for (int j = 0; j < i; j++)
            {
                if (counts[j] == 0) continue;                    // then p = 0 too (j < i − 1, or no outliers)
                int level = (int)((long)j * levels / i);
                double p = (j == i - 1 ? counts[j] + outliers : counts[j]) / total;
                double q = levelMass[level] / levelNonEmpty[level] / kept;
                divergence += p * Math.Log(p / q);
            }

            if (divergence < bestDivergence)
            {
                bestDivergence = divergence;
                best = i;
            }
        }
        return best;
    }
}
