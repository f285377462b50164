using QuantLab.Engine.Quantization;

namespace QuantLab.Tests.Quantization;

public class FixedPointMultiplierTests
{
    // m, P, M0, k: M0·2^−k with 2^(P−1) ≤ M0 < 2^P, worked out by hand.
    [Theory]
    [InlineData(0.5, 31, 1L << 30, 31)]
    [InlineData(1.0, 31, 1L << 30, 30)]
    [InlineData(0.75, 8, 192, 8)]                       // 0.75·2^8 = 192
    [InlineData(3.0, 8, 192, 6)]                        // 3·2^6 = 192
    [InlineData(0.998046875, 8, 128, 7)]                // 255.5/256: 255.5 rounds up to 256 = 2^8 → halve
    [InlineData(1e6, 31, 2_048_000_000L, 11)]           // 2^19 ≤ 1e6 < 2^20; 1e6·2^11
    [InlineData(300.0, 8, 150, -1)]                     // 2^8 ≤ 300: k = −1, a left shift
    [InlineData(1e-9, 31, 1_152_921_505L, 60)]          // 2^−30 ≤ 1e−9 < 2^−29; 2^60·1e−9 = 1152921504.6068…
    [InlineData(0.1, 16, 52429, 19)]                    // 0.1·2^19 = 52428.8
    public void Derive_hand_cases(double m, int precision, long m0, int k)
    {
        var (actualM0, actualK) = FixedPointMultiplier.Derive(m, precision);
        Assert.Equal(m0, actualM0);
        Assert.Equal(k, actualK);
    }

    [Fact]
    public void Rounding_overflow_to_2_to_the_P_halves_M0()
    {
        // m = 1 − 2^−40: m·2^31 = 2^31 − 2^−9 rounds to 2^31 = 2^P, so M0 = 2^30 and k = 30.
        var f = FixedPointMultiplier.Derive(1 - Math.Pow(2, -40), 31);
        Assert.Equal(new FixedPointMultiplier(1L << 30, 30), f);
        Assert.Equal(1.0, f.Value);
    }

    [Fact]
    public void M0_is_in_range_and_close_to_m_for_many_multipliers_and_precisions()
    {
        var multipliers = new List<double>();
        for (int i = 0; i <= 450; i++) multipliers.Add(Math.Pow(10, -9 + i * 15.0 / 450)); // 1e−9 … 1e6
        for (int e = -30; e <= 20; e++)
        {
            double p = Math.Pow(2, e);
            multipliers.AddRange([p, Math.BitDecrement(p), Math.BitIncrement(p), p * (1 - Math.Pow(2, -35)), p * 1.5]);
        }
        multipliers.AddRange([1e-300, 5e-324, 2.2e-308, 1e300, 1e307]); // subnormal, tiny and huge: k from about 1100 down to about −1000

        foreach (double m in multipliers)
            for (int precision = 8; precision <= 31; precision++)
            {
                var (m0, k) = FixedPointMultiplier.Derive(m, precision);
                Assert.InRange(m0, 1L << (precision - 1), (1L << precision) - 1);
                double value = Math.ScaleB(m0, -k);                        // exact
                Assert.True(Math.Abs(value - m) <= m * Math.Pow(2, -precision),
                    $"m = {m:R}, P = {precision}: M0 = {m0}, k = {k} gives {value:R}");
            }
    }

    [Fact]
    public void Zero_gives_a_zero_multiplier_and_bad_multipliers_throw()
    {
        Assert.Equal(new FixedPointMultiplier(0, 0), FixedPointMultiplier.Derive(0.0, 31));
        Assert.Throws<ArgumentOutOfRangeException>(() => FixedPointMultiplier.Derive(-0.5, 31));
        Assert.Throws<ArgumentOutOfRangeException>(() => FixedPointMultiplier.Derive(double.NaN, 31));
        Assert.Throws<ArgumentOutOfRangeException>(() => FixedPointMultiplier.Derive(double.PositiveInfinity, 31));
        Assert.Throws<ArgumentOutOfRangeException>(() => FixedPointMultiplier.Derive(0.5, 7));
        Assert.Throws<ArgumentOutOfRangeException>(() => FixedPointMultiplier.Derive(0.5, 32));
    }
}
