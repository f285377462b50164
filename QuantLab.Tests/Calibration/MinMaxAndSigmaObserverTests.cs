using QuantLab.Engine;
using QuantLab.Engine.Calibration;
using QuantLab.Engine.Quantization;

namespace QuantLab.Tests.Calibration;

public class MinMaxAndSigmaObserverTests
{
    [Fact]
    public void MinMax_is_the_real_range_over_all_batches()
    {
        var o = new MinMaxObserver();
        o.Observe([3f, -1f]);
        o.Observe([]);
        o.Observe([7f, -2f, 0.5f]);
        Assert.Equal(new ObservedRange(-2, 7), o.Compute());
        Assert.Equal(7, o.Compute().Threshold);
    }

    [Fact]
    public void MinMax_of_uniform_minus_a_to_a_is_a()
    {
        var o = new MinMaxObserver();
        o.ObserveInBatches(Samples.Uniform(100_000, 2.5), 1000);
        var r = o.Compute();
        Assert.Equal(-2.5, r.Min, 1e-4);
        Assert.Equal(2.5, r.Max, 1e-4);
        Assert.Equal(2.5, r.Threshold, 1e-4);
    }

    [Fact]
    public void Threshold_is_the_larger_magnitude()
    {
        Assert.Equal(5, new ObservedRange(-5, 3).Threshold);
        Assert.Equal(3, new ObservedRange(0, 3).Threshold);
        Assert.Equal(0, new ObservedRange(0, 0).Threshold);
    }

    [Fact]
    public void Sigma_hand_case()
    {
        // {1, 2, 3, 4}: mean 2.5, population variance (2.25 + 0.25 + 0.25 + 2.25)/4 = 1.25.
        var o = new SigmaObserver(2);
        o.Observe([1f, 2f]);
        o.Observe([3f, 4f]);
        Assert.Equal(2.5, o.Mean, 1e-12);
        Assert.Equal(Math.Sqrt(1.25), o.StandardDeviation, 1e-12);
        var r = o.Compute();
        Assert.Equal(2.5 - 2 * Math.Sqrt(1.25), r.Min, 1e-12);
        Assert.Equal(2.5 + 2 * Math.Sqrt(1.25), r.Max, 1e-12);
        Assert.Equal(2.5 + 2 * Math.Sqrt(1.25), r.Threshold, 1e-12);
    }

    [Fact]
    public void Sigma3_of_gaussian_samples_is_mean_plus_minus_3_sigma()
    {
        // N(1, 2²), 200,000 draws: the sample mean is within 4·2/√200000 ≈ 0.018 of 1 and the sample σ within
        // 4·2/√400000 ≈ 0.013 of 2 (four standard errors), so the range is within about 0.06 of [−5, 7].
        var o = new SigmaObserver(3);
        o.ObserveInBatches(Samples.Gaussian(200_000, 1, 2, seed: 7), 4096);
        var r = o.Compute();
        Assert.Equal(-5, r.Min, 0.06);
        Assert.Equal(7, r.Max, 0.06);
    }

    [Fact]
    public void Sigma_is_stable_far_from_zero()
    {
        // 1e7 ± 1 (exact floats): σ = 1. Σx² − n·mean² would lose it to cancellation (x² ≈ 1e14).
        var values = new float[1_000_000];
        for (int i = 0; i < values.Length; i++) values[i] = i % 2 == 0 ? 9_999_999f : 10_000_001f;
        var o = new SigmaObserver(3);
        o.ObserveInBatches(values, 999);
        Assert.Equal(1e7, o.Mean, 1e-6);
        Assert.Equal(1.0, o.StandardDeviation, 1e-9);
    }

    [Fact]
    public void Sigma_does_not_depend_on_how_values_are_batched()
    {
        var values = Samples.Gaussian(10_000, -3, 0.5, seed: 3);
        var whole = new SigmaObserver(3);
        whole.Observe(values);
        var batched = new SigmaObserver(3);
        batched.ObserveInBatches(values, 37);
        Assert.Equal(whole.Compute().Min, batched.Compute().Min, 1e-12);
        Assert.Equal(whole.Compute().Max, batched.Compute().Max, 1e-12);
    }

    [Fact]
    public void Observers_reject_non_finite_values_and_empty_computes()
    {
        foreach (var o in new IRangeObserver[] { new MinMaxObserver(), new SigmaObserver(3), new PercentileObserver(99), new EntropyObserver(8), new MseObserver(8, RoundingMode.Floor) })
        {
            Assert.Throws<InvalidOperationException>(() => o.Compute());
            Assert.Throws<BadInputException>(() => o.Observe([1f, float.NaN]));
            Assert.Throws<BadInputException>(() => o.Observe([float.NegativeInfinity]));
        }
    }
}
