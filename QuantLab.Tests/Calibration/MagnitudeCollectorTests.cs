using QuantLab.Engine.Calibration;

namespace QuantLab.Tests.Calibration;

public class MagnitudeCollectorTests
{
    [Fact]
    public void Exact_histogram_bins_magnitudes_by_sign_with_zeros_apart()
    {
        var c = new MagnitudeCollector();
        c.Add([0f, 0.5f, -0.5f, 1.9f, -3.9f, 4f, 0f, -0f]);
        var h = c.ToHistogram(4);                     // max|x| = 4: bins of width 1
        Assert.Equal(1.0, h.BinWidth);
        Assert.Equal(3, h.Zeros);
        Assert.Equal([1.0, 1, 0, 1], h.Positive);     // 0.5; 1.9; 4 (the top edge, in the last bin)
        Assert.Equal([1.0, 0, 0, 1], h.Negative);     // −0.5; −3.9
    }

    [Fact]
    public void Fine_histogram_keeps_counts_and_agrees_with_exact_binning()
    {
        var values = Samples.Gaussian(100_000, 0.3, 1, seed: 5);
        var exact = new MagnitudeCollector();
        var fine = new MagnitudeCollector(exactLimit: 1000);
        for (int i = 0; i < values.Length; i += 1000)
        {
            exact.Add(values.AsSpan(i, 1000));
            fine.Add(values.AsSpan(i, 1000));
        }
        Assert.True(exact.IsExact);
        Assert.False(fine.IsExact);

        var e = exact.ToHistogram(2048);
        var f = fine.ToHistogram(2048);
        Assert.Equal(e.MaxAbs, f.MaxAbs);
        Assert.Equal(100_000, f.Positive.Sum() + f.Negative.Sum() + f.Zeros, 1e-6);
        // A fine bin straddles at most two coarse bins, so each coarse count differs by no more than the
        // mass of two fine bins next to its edges: about 2·(100,000·0.4·max/65536)… bounded here by 40.
        for (int j = 0; j < 2048; j++)
        {
            Assert.InRange(f.Positive[j] - e.Positive[j], -40, 40);
            Assert.InRange(f.Negative[j] - e.Negative[j], -40, 40);
        }
        // Cumulative counts agree closely: a count can move by at most one coarse bin.
        double ce = 0, cf = 0;
        for (int j = 0; j < 2048; j++)
        {
            ce += e.Positive[j];
            cf += f.Positive[j];
            Assert.InRange(cf - ce, -40, 40);
        }
    }

    [Fact]
    public void Only_zeros_then_values_in_fine_mode()
    {
        var c = new MagnitudeCollector(exactLimit: 2);
        c.Add([0f, 0f, 0f]);                          // the switch happens with max|x| = 0
        c.Add([1f, -8f]);
        var h = c.ToHistogram(8);
        Assert.Equal(3, h.Zeros);
        // 1 was the top edge of the fine range [0, 1]; after three doublings its fine bin is
        // [1 − 8/65536, 1), inside coarse bin 0: fine mode places values to within a fine bin.
        Assert.Equal(1, h.Positive.Sum(), 1e-9);
        Assert.Equal(1, h.Positive[0] + h.Positive[1], 1e-9);
        Assert.Equal(1, h.Negative[7], 1e-9);         // 8, the top edge of [0, 8]
        Assert.Equal(5, c.Count);
    }
}
