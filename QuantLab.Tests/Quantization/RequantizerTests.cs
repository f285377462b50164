using QuantLab.Engine.Quantization;

namespace QuantLab.Tests.Quantization;

public class RequantizerTests
{
    private static readonly RoundingMode[] Modes = Enum.GetValues<RoundingMode>();

    // acc, m, bf, floor, half-even, half-away: y = R(acc·m + bf), 8 bits, no ReLU.
    [Theory]
    [InlineData(10, 0.25, 0.0, 2, 2, 3)]          // 2.5
    [InlineData(-10, 0.25, 0.0, -3, -2, -3)]      // −2.5
    [InlineData(14, 0.25, 0.0, 3, 4, 4)]          // 3.5
    [InlineData(10, 0.25, 0.25, 2, 3, 3)]         // 2.75
    [InlineData(-10, 0.25, 0.75, -2, -2, -2)]     // −1.75
    [InlineData(1000, 1.0, 0.0, 127, 127, 127)]   // clamped to qmax
    [InlineData(-1000, 1.0, 0.0, -128, -128, -128)]
    [InlineData(511, 0.25, 0.0, 127, 127, 127)]   // 127.75
    [InlineData(-514, 0.25, 0.0, -128, -128, -128)] // −128.5
    public void Float_requantization(long acc, double m, double bf, int floor, int halfEven, int halfAway)
    {
        Assert.Equal(floor, Requantizer.Float(m, bf, RoundingMode.Floor, 8, relu: false).Apply(acc));
        Assert.Equal(halfEven, Requantizer.Float(m, bf, RoundingMode.HalfEven, 8, relu: false).Apply(acc));
        Assert.Equal(halfAway, Requantizer.Float(m, bf, RoundingMode.HalfAway, 8, relu: false).Apply(acc));
    }

    // acc, M0, k, floor, half-even, half-away: y = RShift(acc·M0, k), 8 bits, no ReLU.
    [Theory]
    [InlineData(2, 3, 2, 1, 2, 2)]                // 6/4 = 1.5
    [InlineData(-2, 3, 2, -2, -2, -2)]            // −1.5
    [InlineData(10, 1L << 30, 32, 2, 2, 3)]       // m = 1/4: 2.5
    [InlineData(-10, 1L << 30, 32, -3, -2, -3)]   // −2.5
    [InlineData(7, 150, -1, 127, 127, 127)]       // 7·300 = 2100, clamped
    [InlineData(-1, 150, -1, -128, -128, -128)]   // −300, clamped
    [InlineData(1, 150, 8, 0, 1, 1)]              // 150/256 = 0.586
    public void Fixed_point_requantization(long acc, long m0, int k, int floor, int halfEven, int halfAway)
    {
        var f = new FixedPointMultiplier(m0, k);
        Assert.Equal(floor, Requantizer.FixedPoint(f, RoundingMode.Floor, 8, relu: false).Apply(acc));
        Assert.Equal(halfEven, Requantizer.FixedPoint(f, RoundingMode.HalfEven, 8, relu: false).Apply(acc));
        Assert.Equal(halfAway, Requantizer.FixedPoint(f, RoundingMode.HalfAway, 8, relu: false).Apply(acc));
    }

    [Fact]
    public void Relu_clamps_at_zero_and_bits_set_qmax()
    {
        var r = Requantizer.Float(1.0, 0, RoundingMode.HalfEven, 4, relu: true);
        Assert.Equal((0, 7), (r.Min, r.Max));
        Assert.Equal(0, r.Apply(-5));
        Assert.Equal(3, r.Apply(3));
        Assert.Equal(7, r.Apply(100));
        var f = Requantizer.FixedPoint(1.0, 31, RoundingMode.Floor, 16, relu: false);
        Assert.Equal((-32768, 32767), (f.Min, f.Max));
        Assert.Equal(-32768, f.Apply(-40000));
        Assert.Equal(-1234, f.Apply(-1234));
        Assert.Equal(0, Requantizer.FixedPoint(1.0, 31, RoundingMode.Floor, 16, relu: true).Apply(-1234));
    }

    [Fact]
    public void Fixed_point_takes_the_128_bit_path_for_16_bit_accumulators()
    {
        // m = 2^−30 at P = 31: M0 = 2^30, k = 60. acc = ±(400·2^30 + 2^29) gives acc·M0 ≈ 2^68.6,
        // beyond 64 bits; y = ±400.5 exactly.
        var f = FixedPointMultiplier.Derive(Math.Pow(2, -30), 31);
        Assert.Equal(new FixedPointMultiplier(1L << 30, 60), f);
        long acc = 400L * (1L << 30) + (1L << 29);
        int[] expectedPositive = [400, 400, 401];     // floor, half-even, half-away
        int[] expectedNegative = [-401, -400, -401];
        for (int i = 0; i < Modes.Length; i++)
        {
            var r = Requantizer.FixedPoint(f, Modes[i], 16, relu: false);
            Assert.Equal(expectedPositive[i], r.Apply(acc));
            Assert.Equal(expectedNegative[i], r.Apply(-acc));
            Assert.Equal(400, r.Apply(400L << 30));
        }
    }

    [Fact]
    public void Float_and_fixed_point_agree_when_m_is_exact_in_P_bits()
    {
        // m = 0.375 = 3/8 and 1.25 = 5/4 are exact at any P, so both paths compute R(acc·m) exactly.
        foreach (double m in new[] { 0.375, 1.25 })
            foreach (var mode in Modes)
                for (int precision = 8; precision <= 31; precision += 23)
                {
                    var fl = Requantizer.Float(m, 0, mode, 16, relu: false);
                    var fx = Requantizer.FixedPoint(m, precision, mode, 16, relu: false);
                    for (long acc = -30000; acc <= 30000; acc += 7)
                        Assert.Equal(fl.Apply(acc), fx.Apply(acc));
                }
    }

    [Fact]
    public void The_64_and_128_bit_paths_agree_at_their_boundary()
    {
        // M0 = 2^31 − 1: ⌊(2^63 − 1)/M0⌋ = 2^32 + 2 is the largest |acc| on the 64-bit path.
        var f = new FixedPointMultiplier(int.MaxValue, 62);
        foreach (var mode in Modes)
        {
            var r = Requantizer.FixedPoint(f, mode, 16, relu: false);
            for (long acc = (1L << 32) - 3; acc <= (1L << 32) + 6; acc++)
            {
                // acc·(2^31 − 1)/2^62 ≈ acc/2^31: about 2 here; recompute exactly in 128 bits.
                long expected = (long)Rounding.RoundingShift((Int128)acc * int.MaxValue, 62, mode);
                Assert.Equal(expected, r.Apply(acc));
                Assert.Equal(-(long)Rounding.RoundingShift((Int128)acc * int.MaxValue, 62, mode) - (mode == RoundingMode.Floor ? 1 : 0),
                    r.Apply(-acc));
            }
        }
    }
}
