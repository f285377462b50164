using QuantLab.Engine.Quantization;

namespace QuantLab.Tests.Quantization;

public class AccumulatorBoundsTests
{
    [Fact]
    public void A_16_bit_dot_product_of_length_400_exceeds_int32_but_fits_int64()
    {
        // conv5's fan-in is 16·5·5 = 400. The worst case is every wq = xq = −32768:
        // 400·32768·32768 = 400·2^30 = 429,496,729,600.
        long worst = 0;
        for (int i = 0; i < 400; i++) worst += (long)short.MinValue * short.MinValue;
        Assert.Equal(429_496_729_600L, worst);
        Assert.True(worst > int.MaxValue);
        Assert.True(worst < long.MaxValue);

        Assert.Equal((Int128)429_496_729_600L, AccumulatorBounds.MaxAbs(16, 16, 400));
        Assert.Equal(AccumulatorType.Int64, AccumulatorBounds.Choose(16, 16, 400));
    }

    [Fact]
    public void An_8_bit_dot_product_of_length_400_fits_int32_unless_a_large_bias_is_added()
    {
        // 400·128·128 = 6,553,600.
        Assert.Equal((Int128)6_553_600, AccumulatorBounds.MaxAbs(8, 8, 400));
        Assert.Equal(AccumulatorType.Int32, AccumulatorBounds.Choose(8, 8, 400));
        Assert.Equal(AccumulatorType.Int32, AccumulatorBounds.Choose(8, 8, 400, maxAbsBias: 1_000_000));
        Assert.Equal(AccumulatorType.Int64, AccumulatorBounds.Choose(8, 8, 400, maxAbsBias: int.MaxValue));
    }

    [Fact]
    public void The_int32_boundary_is_exact()
    {
        // 2^(8+16−2) = 2^22 per product; 511 products: 2,143,289,344 ≤ 2^31 − 1; 512 products: 2^31.
        Assert.Equal(AccumulatorType.Int32, AccumulatorBounds.Choose(8, 16, 511));
        Assert.Equal(AccumulatorType.Int32, AccumulatorBounds.Choose(8, 16, 511, maxAbsBias: 4_194_303));
        Assert.Equal(AccumulatorType.Int64, AccumulatorBounds.Choose(8, 16, 511, maxAbsBias: 4_194_304));
        Assert.Equal(AccumulatorType.Int64, AccumulatorBounds.Choose(8, 16, 512));
    }

    [Fact]
    public void The_requantization_product_needs_128_bits_only_for_wide_layers()
    {
        // 8 bits: 6,553,600·(2^31 − 1) ≈ 1.4e16 < 2^63. 16 bits: 429,496,729,600·(2^31 − 1) ≈ 9.2e20 > 2^63.
        Assert.True(AccumulatorBounds.ProductFitsInt64(AccumulatorBounds.MaxAbs(8, 8, 400, int.MaxValue), 31));
        Assert.False(AccumulatorBounds.ProductFitsInt64(AccumulatorBounds.MaxAbs(16, 16, 400), 31));
        Assert.True(AccumulatorBounds.ProductFitsInt64(AccumulatorBounds.MaxAbs(16, 16, 400), 8));
    }
}
