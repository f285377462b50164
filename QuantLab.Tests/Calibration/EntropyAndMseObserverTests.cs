using QuantLab.Engine.Calibration;
using QuantLab.Engine.Quantization;

namespace QuantLab.Tests.Calibration;

public class EntropyAndMseObserverTests
{
    private static readonly RoundingMode[] Modes = Enum.GetValues<RoundingMode>();

    /// <summary>N(0, 1) draws with a few far outliers at ±50 (50σ).</summary>
    private static float[] GaussianWithOutliers(int n, int outliers, int seed)
    {
        var x = Samples.Gaussian(n, 0, 1, seed);
        for (int i = 0; i < outliers; i++) x[i * (n / outliers)] = i % 2 == 0 ? 50f : -50f;
        return x;
    }

    [Fact]
    public void Entropy_at_8_bits_clips_far_outliers_of_a_gaussian()
    {
        // 200,000 draws, 6 outliers at ±50. KL cares about mass, not distance: 6 values of 200,000 barely
        // move P, while a range stretched to 50 leaves the bulk (|x| ≤ 4) to 128·4/50 ≈ 10 levels.
        var o = new EntropyObserver(8);
        o.ObserveInBatches(GaussianWithOutliers(200_000, 6, seed: 1), 8192);
        double t = o.Compute().Threshold;
        Assert.InRange(t, 2.0, 25.0);
    }

    [Theory]
    [InlineData(RoundingMode.HalfEven, 14.0)]
    [InlineData(RoundingMode.HalfAway, 14.0)]
    [InlineData(RoundingMode.Floor, 4.4)]
    public void Mse_at_8_bits_clips_far_outliers_of_a_gaussian(RoundingMode mode, double expected)
    {
        // 1,000,000 draws, 2 outliers at ±50 (a = 2/10^6 of the mass). With s = 2T/255 the rounding error is
        // s²/12 for the nearest modes and s²/3 for floor; clipping the outliers costs a·(50 − T)². Setting the
        // derivative of s²/12 + a·(50 − T)² to zero: T = 50a/(a + 4/(12·255²)) ≈ 14.0; for floor, with four
        // times the rounding error, T = 50a/(a + 4/(3·255²)) ≈ 4.4. Both are well below the max 50 and above 2σ.
        var o = new MseObserver(8, mode);
        o.ObserveInBatches(GaussianWithOutliers(1_000_000, 2, seed: 2), 65536);
        Assert.Equal(expected, o.Compute().Threshold, expected * 0.1);
    }

    [Theory]
    [InlineData(4, 2.55)]
    [InlineData(8, 3.92)]
    public void Mse_on_a_gaussian_finds_the_known_optimal_clipping(int bits, double expected)
    {
        // The optimal clipping of N(0, σ²) for uniform quantization minimising the MSE, in units of σ, as tabulated
        // by Banner, Nahshan and Soudry (ACIQ, "Post training 4-bit quantization…", NeurIPS 2019): 2.55σ at 4 bits,
        // 3.92σ at 8 bits (nearest rounding).
        var o = new MseObserver(bits, RoundingMode.HalfEven);
        o.ObserveInBatches(Samples.Gaussian(400_000, 0, 1, seed: 12), 50_000);
        Assert.Equal(expected, o.Compute().Threshold, expected * 0.05);
    }

    [Fact]
    public void Entropy_at_12_bits_or_more_keeps_the_whole_range()
    {
        // 2^(n−1) ≥ 2048 levels: the only candidate keeps every bin, so T = max|x|.
        var values = GaussianWithOutliers(50_000, 2, seed: 4);
        foreach (int bits in new[] { 12, 16 })
        {
            var o = new EntropyObserver(bits);
            o.Observe(values);
            Assert.Equal(new ObservedRange(-50, 50), o.Compute());
        }
    }

    [Fact]
    public void Entropy_hand_case_on_a_small_histogram()
    {
        // 4 bins over [0, 4], 2 levels. Counts [10, 10, 0, 1] (values 0.5, 1.5, 3.5).
        // i = 2: P = [10, 11]/21, Q = [10, 10]/20 → KL = (10/21)ln(20/21) + (11/21)ln(22/21) ≈ 0.0011.
        // i = 3: bin 2 is empty but holds the outlier → KL = ∞.
        // i = 4: bins → levels ⌊j·2/4⌋ = 0, 0, 1, 1: Q = [10, 10, 0, 1]/21 = P → KL = 0. T = 4.
        var values = new List<float>();
        values.AddRange(Enumerable.Repeat(0.5f, 10));
        values.AddRange(Enumerable.Repeat(1.5f, 10));
        values.Add(4f);
        var o = new EntropyObserver(2, bins: 4, exactLimit: 1000);
        o.Observe(values.ToArray());
        Assert.Equal(4.0, o.Compute().Threshold);

        // Counts [20, 1, 1, 1] at 0.5, 1.5, 2.5, 3.5 (max 4 → values 0.5×20, 1.5, 2.5, 4):
        // i = 2: P = [20, 3]/23, Q = [20, 1]/21: KL = (20/23)ln((20/23)/(20/21)) + (3/23)ln((3/23)/(1/21)) ≈ 0.0523.
        // i = 3: levels 0, 0, 1 → Q = [10.5, 10.5, 1]/22 vs P = [20, 1, 2]/23: KL ≈ 0.474 (the flattened pair).
        // i = 4: levels 0, 0, 1, 1 → Q = [10.5, 10.5, 1, 1]/23 vs P = [20, 1, 1, 1]/23: KL ≈ 0.458.
        // So i = 2 wins: T = 2·1 = 2.
        var skewed = new List<float>();
        skewed.AddRange(Enumerable.Repeat(0.5f, 20));
        skewed.AddRange([1.5f, 2.5f, 4f]);
        var s = new EntropyObserver(2, bins: 4, exactLimit: 1000);
        s.Observe(skewed.ToArray());
        Assert.Equal(2.0, s.Compute().Threshold);
    }

    [Fact]
    public void Mse_at_8_bits_on_a_uniform_distribution_keeps_about_a()
    {
        // Uniform on [−a, a], a = 2: lowering T from a saves d(s²/c)/dT = 8T/(c·255²) per unit of T (c = 12
        // for the nearest modes, 3 for floor) and costs (a − T)²/a in clipping, so a − T ≈ sqrt(8a²/(c·255²)):
        // about 0.006 for the nearest modes and 0.013 for floor (less still for the nearest modes, where clipping
        // within a step costs more than this continuous estimate). Within 1 % of a either way.
        foreach (var mode in Modes)
        {
            var o = new MseObserver(8, mode);
            o.ObserveInBatches(Samples.Uniform(400_000, 2.0), 10_000);
            Assert.Equal(2.0, o.Compute().Threshold, 0.02);
        }
    }

    [Theory]
    [InlineData(2, RoundingMode.Floor)]
    [InlineData(2, RoundingMode.HalfEven)]
    [InlineData(3, RoundingMode.HalfAway)]
    [InlineData(4, RoundingMode.Floor)]
    [InlineData(4, RoundingMode.HalfEven)]
    public void Mse_threshold_is_as_good_as_a_brute_force_search_on_the_samples(int bits, RoundingMode mode)
    {
        // The oracle quantizes every sample with the engine's Quantizer for 400 thresholds and keeps the best;
        // the observer's threshold must give an empirical MSE within 1 % of that best.
        var values = Samples.Gaussian(20_000, 0.2, 1, seed: 9);
        var o = new MseObserver(bits, mode);
        o.Observe(values);
        double t = o.Compute().Threshold;

        double Empirical(double threshold)
        {
            var p = QuantParams.FromThreshold(threshold, bits, mode);
            double sum = 0;
            foreach (float v in values)
            {
                double e = v - Quantizer.FakeQuantize(v, p);
                sum += e * e;
            }
            return sum / values.Length;
        }

        double max = values.Max(v => Math.Abs((double)v));
        double best = Enumerable.Range(1, 400).Min(i => Empirical(max * i / 400));
        Assert.True(Empirical(t) <= best * 1.01, $"T = {t}: MSE {Empirical(t)} vs best {best}");
    }

    [Theory]
    [InlineData(2, RoundingMode.Floor, 1.0)]
    [InlineData(2, RoundingMode.HalfEven, 1.0)]
    [InlineData(8, RoundingMode.Floor, 0.01)]
    [InlineData(8, RoundingMode.HalfAway, 0.01)]
    public void Quantization_error_integral_matches_numerical_integration(int bits, RoundingMode mode, double threshold)
    {
        var p = QuantParams.FromThreshold(threshold, bits, mode);
        var error = new QuantizationError(p.Step, bits, mode);
        // Intervals inside the grid, across its edges, and far outside it on both sides.
        foreach (var (lo, hi) in new[] { (-0.3, 0.7), (0.2, 0.25), (-5.0, 5.0), (2.0, 3.0), (-3.0, -2.0), (-1.2, -0.9), (0.0, 1.6) })
        {
            const int n = 400_000;
            double sum = 0;
            for (int i = 0; i < n; i++)
            {
                double x = lo + (hi - lo) * (i + 0.5) / n;
                double e = x - Quantizer.FakeQuantize(x, p);
                sum += e * e;
            }
            Assert.Equal(sum / n, error.MeanSquare(lo, hi), 1e-4 * (sum / n) + 1e-12);
        }
    }

    [Fact]
    public void Histogram_observers_are_deterministic_and_all_zero_input_gives_zero()
    {
        var values = GaussianWithOutliers(30_000, 2, seed: 6);
        foreach (var method in new[] { RangeMethod.Entropy, RangeMethod.Mse, RangeMethod.Percentile(99.9) })
        {
            var a = RangeObservers.Create(method, 6, RoundingMode.HalfEven);
            var b = RangeObservers.Create(method, 6, RoundingMode.HalfEven);
            a.ObserveInBatches(values, 1000);
            b.ObserveInBatches(values, 777);      // exact mode: batching cannot matter
            Assert.Equal(a.Compute(), b.Compute());

            var zeros = RangeObservers.Create(method, 6, RoundingMode.HalfEven);
            zeros.Observe(new float[100]);
            Assert.Equal(new ObservedRange(0, 0), zeros.Compute());
        }
    }

    [Fact]
    public void Relu_like_activations_keep_a_zero_minimum()
    {
        // Half zeros, half |N(0,1)|: the clipped range starts at the real minimum 0.
        var values = Samples.Gaussian(20_000, 0, 1, seed: 8).Select((v, i) => i % 2 == 0 ? 0f : Math.Abs(v)).ToArray();
        foreach (var method in new[] { RangeMethod.Entropy, RangeMethod.Mse, RangeMethod.Percentile(99) })
        {
            var o = RangeObservers.Create(method, 8, RoundingMode.Floor);
            o.Observe(values);
            var r = o.Compute();
            Assert.Equal(0, r.Min);
            Assert.InRange(r.Max, 1.0, values.Max());
        }
    }
}
