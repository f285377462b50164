using QuantLab.Engine.Quantization;

namespace QuantLab.Tests.Quantization;

public class RoundingTests
{
    // x, floor, half-even, half-away — worked out by hand.
    [Theory]
    [InlineData(0.5, 0, 0, 1)]
    [InlineData(-0.5, -1, 0, -1)]
    [InlineData(1.5, 1, 2, 2)]
    [InlineData(-1.5, -2, -2, -2)]
    [InlineData(2.5, 2, 2, 3)]
    [InlineData(-2.5, -3, -2, -3)]
    [InlineData(0.49, 0, 0, 0)]
    [InlineData(-0.49, -1, 0, 0)]
    [InlineData(0.51, 0, 1, 1)]
    [InlineData(-0.51, -1, -1, -1)]
    [InlineData(3.0, 3, 3, 3)]
    [InlineData(-3.0, -3, -3, -3)]
    [InlineData(0.0, 0, 0, 0)]
    [InlineData(-1e-300, -1, 0, 0)]
    [InlineData(127.5, 127, 128, 128)]
    [InlineData(-128.5, -129, -128, -129)]
    [InlineData(0.49999999999999994, 0, 0, 0)] // the largest double below 1/2: floor(x + 0.5) would give 1
    [InlineData(4503599627370495.5, 4503599627370495, 4503599627370496, 4503599627370496)] // 2^52 − 1/2
    public void Round_follows_each_mode(double x, long floor, long halfEven, long halfAway)
    {
        Assert.Equal(floor, Rounding.Round(x, RoundingMode.Floor));
        Assert.Equal(halfEven, Rounding.Round(x, RoundingMode.HalfEven));
        Assert.Equal(halfAway, Rounding.Round(x, RoundingMode.HalfAway));
    }

    // v, k, floor, half-even, half-away: v / 2^k worked out by hand.
    [Theory]
    [InlineData(3, 1, 1, 2, 2)]          // 1.5
    [InlineData(-3, 1, -2, -2, -2)]      // −1.5
    [InlineData(1, 1, 0, 0, 1)]          // 0.5
    [InlineData(-1, 1, -1, 0, -1)]       // −0.5
    [InlineData(5, 1, 2, 2, 3)]          // 2.5
    [InlineData(-5, 1, -3, -2, -3)]      // −2.5
    [InlineData(-2, 1, -1, -1, -1)]      // −1
    [InlineData(5, 2, 1, 1, 1)]          // 1.25
    [InlineData(-5, 2, -2, -1, -1)]      // −1.25
    [InlineData(6, 2, 1, 2, 2)]          // 1.5
    [InlineData(-6, 2, -2, -2, -2)]      // −1.5
    [InlineData(10, 2, 2, 2, 3)]         // 2.5
    [InlineData(-10, 2, -3, -2, -3)]     // −2.5
    [InlineData(-7, 3, -1, -1, -1)]      // −0.875
    [InlineData(-3, 3, -1, 0, 0)]        // −0.375
    [InlineData(-4, 3, -1, 0, -1)]       // −0.5
    [InlineData(7, 0, 7, 7, 7)]          // k = 0: v
    [InlineData(-7, 0, -7, -7, -7)]
    [InlineData(5, -3, 40, 40, 40)]      // k < 0: left shift
    [InlineData(-5, -3, -40, -40, -40)]
    [InlineData(long.MaxValue, 63, 0, 1, 1)]           // (2^63 − 1)/2^63, just below 1
    [InlineData(long.MinValue, 63, -1, -1, -1)]        // −1 exactly
    [InlineData(long.MinValue, 64, -1, 0, -1)]         // −1/2
    [InlineData(long.MinValue + 1, 64, -1, 0, 0)]      // just above −1/2
    [InlineData(long.MaxValue, 64, 0, 0, 0)]           // just below 1/2
    [InlineData(-1, 200, -1, 0, 0)]
    [InlineData(1, 200, 0, 0, 0)]
    public void RoundingShift_follows_each_mode(long v, int k, long floor, long halfEven, long halfAway)
    {
        Assert.Equal(floor, Rounding.RoundingShift(v, k, RoundingMode.Floor));
        Assert.Equal(halfEven, Rounding.RoundingShift(v, k, RoundingMode.HalfEven));
        Assert.Equal(halfAway, Rounding.RoundingShift(v, k, RoundingMode.HalfAway));
        // The 128-bit version agrees wherever the 64-bit one is exact.
        Assert.Equal(floor, (long)Rounding.RoundingShift((Int128)v, k, RoundingMode.Floor));
        Assert.Equal(halfEven, (long)Rounding.RoundingShift((Int128)v, k, RoundingMode.HalfEven));
        Assert.Equal(halfAway, (long)Rounding.RoundingShift((Int128)v, k, RoundingMode.HalfAway));
    }

    [Fact]
    public void Half_away_shift_matches_the_contracts_formula()
    {
        // DESIGN.md §3: sign(v)·((|v| + 2^(k−1)) >> k), evaluated here where it cannot overflow.
        for (long v = -1000; v <= 1000; v++)
            for (int k = 1; k <= 12; k++)
            {
                long expected = Math.Sign(v) * ((Math.Abs(v) + (1L << (k - 1))) >> k);
                Assert.Equal(expected, Rounding.RoundingShift(v, k, RoundingMode.HalfAway));
            }
    }

    [Fact]
    public void Floor_shift_is_the_arithmetic_shift()
    {
        foreach (var v in new long[] { -9, -8, -7, -1, 0, 1, 7, 8, 9, long.MinValue, long.MaxValue })
            for (int k = 1; k < 64; k++)
                Assert.Equal(v >> k, Rounding.RoundingShift(v, k, RoundingMode.Floor));
    }

    [Fact]
    public void Left_shifts_saturate_instead_of_wrapping()
    {
        Assert.Equal(long.MaxValue, Rounding.RoundingShift(1L << 40, -30, RoundingMode.Floor));
        Assert.Equal(long.MinValue, Rounding.RoundingShift(-(1L << 40), -30, RoundingMode.HalfEven));
        Assert.Equal(1L << 62, Rounding.RoundingShift(1L, -62, RoundingMode.HalfAway));
        Assert.Equal(long.MaxValue, Rounding.RoundingShift(1L, -63, RoundingMode.HalfAway));
        Assert.Equal(0, Rounding.RoundingShift(0L, -100, RoundingMode.Floor));
        Assert.Equal(Int128.MaxValue, Rounding.RoundingShift((Int128)3, -126, RoundingMode.Floor));
        Assert.Equal((Int128)3 << 125, Rounding.RoundingShift((Int128)3, -125, RoundingMode.Floor));
    }

    [Fact]
    public void RoundingShift_is_exact_against_a_BigInteger_reference()
    {
        var random = new Random(12345);
        var modes = Enum.GetValues<RoundingMode>();
        var raw = new byte[16];
        for (int trial = 0; trial < 4000; trial++)
        {
            // Values of every magnitude, plus exact ties: random high bits over a chosen low pattern.
            int bits = random.Next(1, 128);
            random.NextBytes(raw);
            Int128 v = System.Buffers.Binary.BinaryPrimitives.ReadInt128LittleEndian(raw) >> (128 - bits);
            int k = random.Next(-8, 140);
            if (trial % 3 == 0 && k > 0 && k < 120) v = (v >> k << k) | ((Int128)1 << (k - 1)); // force a tie
            foreach (var mode in modes)
            {
                Assert.Equal(Reference(v, k, mode), (System.Numerics.BigInteger)Rounding.RoundingShift(v, k, mode));
                if (v >= long.MinValue && v <= long.MaxValue && k > 0)
                    Assert.Equal(Reference(v, k, mode), (System.Numerics.BigInteger)Rounding.RoundingShift((long)v, k, mode));
            }
        }
    }

    // R(v / 2^k) by rational arithmetic, independent of the shifting code.
    private static System.Numerics.BigInteger Reference(Int128 value, int k, RoundingMode mode)
    {
        var v = (System.Numerics.BigInteger)value;
        if (k <= 0)
        {
            var shifted = v << -k;
            var max = (System.Numerics.BigInteger)Int128.MaxValue;
            var min = (System.Numerics.BigInteger)Int128.MinValue;
            return shifted > max ? max : shifted < min ? min : shifted;
        }
        var d = System.Numerics.BigInteger.Pow(2, k);
        var q = System.Numerics.BigInteger.DivRem(v, d, out var r);
        if (r < 0) { q -= 1; r += d; }                         // floor division: 0 ≤ r < d
        if (mode == RoundingMode.Floor) return q;
        var twice = 2 * r;
        if (twice > d) return q + 1;
        if (twice < d) return q;
        if (mode == RoundingMode.HalfAway) return v < 0 ? q : q + 1;
        return q.IsEven ? q : q + 1;
    }
}
