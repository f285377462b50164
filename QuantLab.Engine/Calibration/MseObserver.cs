using QuantLab.Engine.Quantization;

namespace QuantLab.Engine.Calibration;

/// <summary>
/// <c>mse</c>: the threshold T minimising the expected squared error E[(x − s·clamp(R(x/s), qmin, qmax))²]
/// of the engine's own quantizer, s = 2T/(2^n − 1), for the configured bits and rounding: rounding error
/// and clipping error together, each sign on its own side of the (asymmetric) integer grid.
/// On a signed histogram of <see cref="DefaultBins"/> = 2048 bins per sign over [0, max|x|], values are
/// taken as uniform within a bin, except exact zeros, which quantize to 0 without error. Each bin's
/// contribution is an exact integral (<see cref="QuantizationError"/>), so bins wider than a step are fine.
/// The candidates are the bin edges T = i·w, i = 1 … 2048 (the last is max|x|); the smallest T with the
/// least error wins. The range is the real range clipped to [−T, T].
/// </summary>
public sealed class MseObserver : IRangeObserver
{
    /// <summary>The error minimised is that of the engine's quantizer: its grid (bits) and its rounding.</summary>
    public static readonly RangeMethodInfo Method = new("mse", null, "the clipping with the least expected quantization error", RangeDependency.Bits | RangeDependency.Rounding,
        ObservedPerBatch: false, (_, c) => new MseObserver(c.Bits, c.Rounding));

    public const int DefaultBins = 2048;

    private readonly MagnitudeCollector _values;

    public MseObserver(int bits, RoundingMode rounding) : this(bits, rounding, DefaultBins, MagnitudeCollector.DefaultExactLimit) { }

    internal MseObserver(int bits, RoundingMode rounding, int bins, int exactLimit)
    {
        BitWidth.Validate(bits);
        ArgumentOutOfRangeException.ThrowIfLessThan(bins, 1);
        Bits = bits;
        Rounding = rounding;
        Bins = bins;
        _values = new MagnitudeCollector(exactLimit);
    }

    public int Bits { get; }
    public RoundingMode Rounding { get; }
    public int Bins { get; }

    public void Observe(ReadOnlySpan<float> values) => _values.Add(values);

    public ObservedRange Compute()
    {
        if (_values.Count == 0) throw ObservedValues.Empty("mse");
        if (_values.MaxAbs == 0) return new(0, 0);
        var histogram = _values.ToHistogram(Bins);
        var bins = BinSet.From(histogram);

        // Per candidate: the mean square over bin [lo, hi] is s³·(H(hi/s) − H(lo/s))/(hi − lo), so the total
        // is s³·Σ weight·ΔH with weight = count/(hi − lo), H evaluated once per distinct bin edge.
        var h = new double[bins.Edges.Length];
        double bestError = double.PositiveInfinity;
        double bestThreshold = histogram.MaxAbs;
        for (int i = 1; i <= Bins; i++)
        {
            double threshold = i == Bins ? histogram.MaxAbs : i * histogram.BinWidth;
            double step = Quantizer.Step(threshold, Bits);
            var error = new QuantizationError(step, Bits, Rounding);
            double inverse = 1 / step;
            for (int e = 0; e < h.Length; e++) h[e] = error.H(bins.Edges[e] * inverse);
            double sum = 0;
            for (int b = 0; b < bins.Weight.Length; b++) sum += bins.Weight[b] * (h[bins.Upper[b]] - h[bins.Lower[b]]);
            sum *= step * step * step;
            if (sum < bestError)
            {
                bestError = sum;
                bestThreshold = threshold;
            }
        }
        return ObservedValues.Clip(_values.Min, _values.Max, bestThreshold);
    }
}

/// <summary>
/// The nonempty bins of a signed magnitude histogram as intervals of x (negative bins mirrored), sharing
/// their edges: per-channel weights fill a few hundred of the 2·2048 bins, activations most of them.
/// </summary>
internal sealed record BinSet(double[] Edges, int[] Lower, int[] Upper, double[] Weight)
{
    public static BinSet From(MagnitudeHistogram histogram)
    {
        int bins = histogram.Bins;
        double w = histogram.BinWidth;
        double Edge(int j) => j == bins ? histogram.MaxAbs : j * w;

        var edges = new List<double>();
        var edgeIndex = new Dictionary<double, int>();
        int IndexOf(double x)
        {
            if (!edgeIndex.TryGetValue(x, out int index))
            {
                index = edges.Count;
                edges.Add(x);
                edgeIndex.Add(x, index);
            }
            return index;
        }

        var lower = new List<int>();
        var upper = new List<int>();
        var weight = new List<double>();
        for (int j = 0; j < bins; j++)
        {
            double lo = Edge(j), hi = Edge(j + 1);
            if (histogram.Positive[j] > 0)
            {
                lower.Add(IndexOf(lo));
                upper.Add(IndexOf(hi));
                weight.Add(histogram.Positive[j] / (hi - lo));
            }
            if (histogram.Negative[j] > 0)
            {
                lower.Add(IndexOf(-hi));
                upper.Add(IndexOf(-lo));
                weight.Add(histogram.Negative[j] / (hi - lo));
            }
        }
        return new([.. edges], [.. lower], [.. upper], [.. weight]);
    }
}

/// <summary>
/// The squared error e(x)² = (x − s·clamp(R(x/s), qmin, qmax))² of one quantizer, integrated exactly.
/// In units u = x/s, rounding puts u in the cell of integer q = [q − δ, q + 1 − δ), with δ = 0 for floor
/// and δ = 1/2 for the nearest modes (ties have measure zero, so half-even and half-away integrate alike).
/// H(u) = ∫ from L to u of (t − clamp(R(t)))² dt, with L = qmin − δ the lower end of the unclipped cells
/// and U = qmax + 1 − δ the upper end, in closed form:
/// u ≤ L: ((u − qmin)³ + δ³)/3; L ≤ u ≤ U: j·C + ((f − δ)³ + δ³)/3 with u − L = j + f, j whole cells,
/// C = ((1 − δ)³ + δ³)/3 (1/3 for floor, 1/12 nearest); u ≥ U: N·C + ((u − qmax)³ − (1 − δ)³)/3, N = 2^n cells.
/// </summary>
internal readonly struct QuantizationError
{
    private readonly double _step;
    private readonly double _delta;
    private readonly double _qmin;
    private readonly double _qmax;
    private readonly double _cell;

    public QuantizationError(double step, int bits, RoundingMode rounding)
    {
        _step = step;
        _delta = rounding == RoundingMode.Floor ? 0 : 0.5;
        _qmin = Quantizer.QMin(bits);
        _qmax = Quantizer.QMax(bits);
        _cell = (Cube(1 - _delta) + Cube(_delta)) / 3;
    }

    /// <summary>The mean of e(x)² for x uniform on [lo, hi] (lo &lt; hi).</summary>
    public double MeanSquare(double lo, double hi) =>
        _step * _step * (H(hi / _step) - H(lo / _step)) / ((hi - lo) / _step);

    /// <summary>H(u): the integral of the squared error in step units from L to u (negative below L).</summary>
    public double H(double u)
    {
        double lower = _qmin - _delta, upper = _qmax + 1 - _delta;
        if (u <= lower) return (Cube(u - _qmin) + Cube(_delta)) / 3;
        if (u >= upper) return (_qmax - _qmin + 1) * _cell + (Cube(u - _qmax) - Cube(1 - _delta)) / 3;
        double cells = u - lower;
        double whole = Math.Floor(cells);
        return whole * _cell + (Cube(cells - whole - _delta) + Cube(_delta)) / 3;
    }

    private static double Cube(double x) => x * x * x;
}
