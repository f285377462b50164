using CsCheck;
using QuantLab.Engine.Ptq;
using QuantLab.Engine.Quantization;

namespace QuantLab.Tests.Quantization;

/// <summary>The activation SQNR's sums (vectorized fake quantization) against the plain scalar loop, bit for bit.</summary>
public class ActivationErrorSumsTests
{
    private static (double, double) ScalarLoop(float[] values, QuantParams p)
    {
        double s = 0, n = 0;
        foreach (float v in values)
        {
            double e = v - Quantizer.FakeQuantize(v, p);
            s += (double)v * v;
            n += e * e;
        }
        return (s, n);
    }

    [Fact]
    public void The_sums_equal_the_scalar_loop_bit_for_bit()
    {
        var cases =
            from threshold in Gen.Double[1e-3, 50]
            from bits in Gen.Int[2, 16]
            from rounding in Gen.Int[0, 2]
            from signed in Gen.Bool
            from length in Gen.Int[0, 37]
            from raw in Gen.Float[-60, 60].Array[length]
            from kind in Gen.Int[0, 3].Array[length]
            select (threshold, bits, (RoundingMode)rounding, signed, raw, kind);
        cases.Sample(c =>
        {
            var p = QuantParams.FromThreshold(c.threshold, c.bits, c.Item3, c.signed);
            // Mixed in: values on a grid midpoint (ties), −0, zero, far outside the range.
            var values = c.raw.Select((v, i) => c.kind[i] switch
            {
                0 => (float)((Math.Round(v / p.Step) + 0.5) * p.Step),
                1 => -0.0f,
                2 => v * 1e6f,
                _ => v,
            }).ToArray();
            var (s, n) = QuantizationError.SignalAndNoise(values, p);
            var (es, en) = ScalarLoop(values, p);
            Assert.Equal(BitConverter.DoubleToInt64Bits(es), BitConverter.DoubleToInt64Bits(s));
            Assert.Equal(BitConverter.DoubleToInt64Bits(en), BitConverter.DoubleToInt64Bits(n));
        }, iter: 20_000);
    }

    [Fact]
    public void A_nan_gives_the_scalar_loops_nan_sums()
    {
        var p = QuantParams.FromThreshold(4, 8, RoundingMode.HalfEven);
        float[] values = [1, 2, 3, 4, 5, float.NaN, 7, 8, 9];
        var (s, n) = QuantizationError.SignalAndNoise(values, p);
        var (es, en) = ScalarLoop(values, p);
        Assert.True(double.IsNaN(s) && double.IsNaN(n));
        Assert.Equal((es, en), (s, n));
    }
}
