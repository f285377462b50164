using QuantLab.Engine.Calibration;

namespace QuantLab.Tests.Calibration;

public class PercentileObserverTests
{
    // |x| = {1, 2, 3, 4, 5}; rank (N − 1)·P/100 = 4·P/100 with linear interpolation.
    [Theory]
    [InlineData(50, 3.0)]        // rank 2
    [InlineData(90, 4.6)]        // rank 3.6: 4 + 0.6·(5 − 4)
    [InlineData(100, 5.0)]
    [InlineData(10, 1.4)]        // rank 0.4
    public void Exact_percentiles_of_magnitudes(double p, double expected)
    {
        var o = new PercentileObserver(p);
        o.Observe([1f, -2f, 3f]);
        o.Observe([-4f, 5f]);
        Assert.Equal(expected, o.Compute().Threshold, 1e-9);
    }

    [Fact]
    public void The_range_is_the_real_range_clipped_to_the_threshold()
    {
        var o = new PercentileObserver(90);
        o.Observe([1f, -2f, 3f, -4f, 5f]);
        var r = o.Compute();
        Assert.Equal(-4, r.Min, 1e-9);    // the real minimum, inside [−4.6, 4.6]
        Assert.Equal(4.6, r.Max, 1e-9);   // 5 clipped to T
    }

    [Fact]
    public void Percentile_99_of_uniform_magnitudes_is_0_99_a()
    {
        var o = new PercentileObserver(99);
        o.ObserveInBatches(Samples.Uniform(200_000, 3.0), 5000);
        Assert.Equal(0.99 * 3.0, o.Compute().Threshold, 1e-3);
    }

    [Fact]
    public void Past_the_exact_limit_a_fine_histogram_gives_nearly_the_same_percentile()
    {
        // Exact limit 10,000 of 300,000 values: the rest goes through the 2^16-bin histogram, whose range
        // doubles as larger values arrive (the batches grow in magnitude). Bins are ≤ 2·max/2^16 wide.
        var values = Samples.Gaussian(300_000, 0, 1, seed: 11);
        Array.Sort(values, (a, b) => Math.Abs(a).CompareTo(Math.Abs(b)));   // increasing |x|: forces doublings
        foreach (double p in new[] { 50.0, 99.0, 99.99, 100.0 })
        {
            var exact = new PercentileObserver(p);
            exact.ObserveInBatches(values, 10_000);
            var fine = new PercentileObserver(p, exactLimit: 10_000);
            fine.ObserveInBatches(values, 10_000);
            double max = Math.Abs(values[^1]);
            Assert.Equal(exact.Compute().Threshold, fine.Compute().Threshold, 2 * max / 65536 + 1e-4);
        }
    }
}
