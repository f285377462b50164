using CsCheck;
using QuantLab.Engine.Quantization;

namespace QuantLab.Tests.Quantization;

public class QuantizerTests
{
    [Theory]
    [InlineData(2, -2, 1)]
    [InlineData(4, -8, 7)]
    [InlineData(8, -128, 127)]
    [InlineData(16, -32768, 32767)]
    public void Integer_ranges(int bits, int qmin, int qmax)
    {
        Assert.Equal(qmin, Quantizer.QMin(bits));
        Assert.Equal(qmax, Quantizer.QMax(bits));
    }

    [Theory]
    [InlineData(2, 3)]
    [InlineData(8, 255)]
    [InlineData(16, 65535)]
    public void The_unsigned_grid_after_relu_spans_0_to_2_to_the_n_minus_1_with_step_T_over_that(int bits, int qmax)
    {
        Assert.Equal(0, Quantizer.QMin(bits, signed: false));
        Assert.Equal(qmax, Quantizer.QMax(bits, signed: false));
        Assert.Equal(1.0, Quantizer.Step(qmax, bits, signed: false));         // T at the top level
        Assert.Equal(1.0, Quantizer.Step(0.0, bits, signed: false));          // an all-zero channel
        var p = QuantParams.FromThreshold(qmax, bits, RoundingMode.HalfEven, signed: false);
        Assert.Equal(qmax, Quantizer.Quantize(qmax * 2.0, p));                 // clipped at the top
        Assert.Equal(0, Quantizer.Quantize(-5.0, p));                          // nothing below 0
    }

    [Fact]
    public void Step_is_2T_over_2_to_the_n_minus_1()
    {
        Assert.Equal(2.0 / 255, Quantizer.Step(1.0, 8));
        Assert.Equal(1.0, Quantizer.Step(1.5, 2));        // 3/3
        Assert.Equal(1.0, Quantizer.Step(127.5, 8));      // 255/255
        Assert.Equal(1.0, Quantizer.Step(32767.5, 16));   // 65535/65535
        Assert.Equal(0.5, Quantizer.Step(0.75, 2));
        Assert.Equal(1.0, Quantizer.Step(0.0, 8));        // an all-zero channel
        Assert.Throws<ArgumentOutOfRangeException>(() => Quantizer.Step(-1, 8));
        Assert.Throws<ArgumentOutOfRangeException>(() => Quantizer.Step(double.NaN, 8));
    }

    // bits, threshold (chosen so that s = 1), x, floor, half-even, half-away.
    [Theory]
    [InlineData(2, 1.5, 5.0, 1, 1, 1)]
    [InlineData(2, 1.5, -5.0, -2, -2, -2)]
    [InlineData(2, 1.5, 1.4, 1, 1, 1)]
    [InlineData(2, 1.5, 1.5, 1, 1, 1)]          // T itself: R(1.5) is 1 or 2, clamped to qmax 1
    [InlineData(2, 1.5, 0.5, 0, 0, 1)]
    [InlineData(2, 1.5, -1.6, -2, -2, -2)]
    [InlineData(2, 1.5, -2.5, -2, -2, -2)]      // floor and half-away give −3, clamped to qmin −2
    [InlineData(8, 127.5, 127.5, 127, 127, 127)] // +T: 127 by floor; 128 by the others, clamped
    [InlineData(8, 127.5, -127.5, -128, -128, -128)]
    [InlineData(8, 127.5, -128.5, -128, -128, -128)]
    [InlineData(8, 127.5, 1000, 127, 127, 127)]
    [InlineData(8, 127.5, -1000, -128, -128, -128)]
    [InlineData(8, 127.5, 2.5, 2, 2, 3)]
    [InlineData(8, 127.5, -2.5, -3, -2, -3)]
    [InlineData(16, 32767.5, 40000, 32767, 32767, 32767)]
    [InlineData(16, 32767.5, -40000, -32768, -32768, -32768)]
    [InlineData(16, 32767.5, -32768.4, -32768, -32768, -32768)]
    [InlineData(16, 32767.5, 32766.5, 32766, 32766, 32767)]
    [InlineData(16, 32767.5, 1e300, 32767, 32767, 32767)]
    public void Quantize_rounds_then_clamps(int bits, double threshold, double x, int floor, int halfEven, int halfAway)
    {
        Assert.Equal(floor, Quantizer.Quantize(x, QuantParams.FromThreshold(threshold, bits, RoundingMode.Floor)));
        Assert.Equal(halfEven, Quantizer.Quantize(x, QuantParams.FromThreshold(threshold, bits, RoundingMode.HalfEven)));
        Assert.Equal(halfAway, Quantizer.Quantize(x, QuantParams.FromThreshold(threshold, bits, RoundingMode.HalfAway)));
    }

    [Fact]
    public void Quantize_divides_by_the_step()
    {
        // T = 1, 8 bits: s = 2/255; x = 0.3 → 0.3·255/2 = 38.25 → 38 in every mode.
        var p = QuantParams.FromThreshold(1.0, 8, RoundingMode.HalfEven);
        Assert.Equal(38, Quantizer.Quantize(0.3, p));
        Assert.Equal(-38, Quantizer.Quantize(-0.3, p));
        Assert.Equal(2.0 / 255 * 38, Quantizer.FakeQuantize(0.3, p));
        Assert.Equal(p.Step * -5, Quantizer.Dequantize(-5, p));
    }

    [Fact]
    public void Quantize_span_quantizes_each_element()
    {
        var p = QuantParams.FromThreshold(1.5, 2, RoundingMode.HalfAway);
        var q = new int[5];
        Quantizer.Quantize([-9f, -1f, 0.5f, 0.49f, 9f], p, q);
        Assert.Equal([-2, -1, 1, 0, 1], q);
    }

    [Fact]
    public void Zero_threshold_quantizes_to_zero()
    {
        var p = QuantParams.FromThreshold(0, 8, RoundingMode.Floor);
        Assert.Equal(1.0, p.Step);
        Assert.Equal(0, Quantizer.Quantize(0.0, p));
    }

    // bias, s_w, s_x, floor, half-even, half-away.
    [Theory]
    [InlineData(2.5, 0.5, 2.0, 2, 2, 3)]
    [InlineData(-2.5, 0.5, 2.0, -3, -2, -3)]
    [InlineData(1.0, 0.25, 0.5, 8, 8, 8)]
    [InlineData(1e10, 1.0, 1.0, int.MaxValue, int.MaxValue, int.MaxValue)]
    [InlineData(-1e10, 1.0, 1.0, int.MinValue, int.MinValue, int.MinValue)]
    [InlineData(2147483647.6, 1.0, 1.0, int.MaxValue, int.MaxValue, int.MaxValue)]      // 2^31 by rounding: saturates
    [InlineData(-2147483648.5, 1.0, 1.0, int.MinValue, int.MinValue, int.MinValue)]     // −2^31 − 1 by floor/half-away
    [InlineData(-2147483647.5, 1.0, 1.0, int.MinValue, int.MinValue, int.MinValue)]     // ties: −2^31 by all three
    [InlineData(2147483646.5, 1.0, 1.0, 2147483646, 2147483646, int.MaxValue)]
    [InlineData(1.0, 1e-6, 1e-6, int.MaxValue, int.MaxValue, int.MaxValue)]             // 1e12
    public void Bias_is_rounded_and_saturated_to_int32(double bias, double sw, double sx, int floor, int halfEven, int halfAway)
    {
        Assert.Equal(floor, Quantizer.QuantizeBias(bias, sw, sx, RoundingMode.Floor));
        Assert.Equal(halfEven, Quantizer.QuantizeBias(bias, sw, sx, RoundingMode.HalfEven));
        Assert.Equal(halfAway, Quantizer.QuantizeBias(bias, sw, sx, RoundingMode.HalfAway));
    }
    /// <summary>The vectorized span quantizer equals the scalar one on every value: ties at half steps, values beyond the
    /// grid, ±0, infinities and NaN, any step, 2..16 bits signed or unsigned, every rounding, any length (the tail of
    /// fewer than four values runs scalar).</summary>
    [Fact]
    public void Quantizing_a_span_equals_quantizing_each_value()
    {
        float[] specials = [0f, -0f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, float.MaxValue, -float.MaxValue, float.Epsilon];
        var special = Gen.Int[0, specials.Length - 1].Select(i => specials[i]);
        var gen =
            from bits in Gen.Int[2, 16]
            from signed in Gen.Bool
            from rounding in Gen.Int[0, 2]
            from step in Gen.OneOf(Gen.Double[1e-6, 10], Gen.Int[-10, 3].Select(e => Math.Pow(2, e)))   // powers of two: exact ties
            from halves in Gen.Int[-80_000, 80_000].Array[0, 40]
            from noise in Gen.Float[-1e6f, 1e6f].Array[0, 40]
            from odd in special.Array[0, 6]
            from seed in Gen.Int
            select (new QuantParams(step, bits, (RoundingMode)rounding, signed),
                halves.Select(h => (float)(h * 0.5 * step)).Concat(noise).Concat(odd).OrderBy(_ => new Random(seed).Next()).ToArray());
        gen.Sample(c =>
        {
            var (p, values) = c;
            var vector = new short[values.Length];
            Quantizer.Quantize(values, p, vector);
            Assert.Equal(values.Select(v => (short)Quantizer.Quantize(v, p)).ToArray(), vector);
        }, iter: 2000);
    }
}
