using QuantLab.Engine;
using QuantLab.Engine.Calibration;
using QuantLab.Engine.Quantization;

namespace QuantLab.Tests.Quantization;

public class QuantizationConfigTests
{
    private static readonly QuantizationConfig Seed = new(
        QuantScope.All, 8, 8, RangeMethod.MinMax, RangeMethod.Sigma(3), Granularity.Tensor,
        RoundingMode.Floor, RequantSpec.Float, BiasMode.Float);

    [Fact]
    public void Float_requant_with_float_bias_is_valid() => Assert.Same(Seed, Seed.Validate());

    [Theory]
    [InlineData("none")]
    [InlineData("int32")]
    public void Fixed_point_requant_with_none_or_int32_bias_is_valid(string bias)
    {
        var config = Seed with { Requant = RequantSpec.FixedPoint(16), Bias = BiasMode.Parse(bias) };
        Assert.True(config.TryValidate(out var problem), problem);
        config.Validate();
    }

    [Fact]
    public void Fixed_point_requant_with_float_bias_is_rejected_with_a_clear_message()
    {
        var config = Seed with { Requant = RequantSpec.FixedPoint(), Bias = BiasMode.Float };
        Assert.False(config.TryValidate(out var problem));
        var e = Assert.Throws<BadInputException>(() => config.Validate());
        Assert.Contains(problem, e.Message);
        Assert.Contains("fixed-point:31", e.Message);
        Assert.Contains("bias float", e.Message);
        Assert.Contains("none or int32", e.Message);
    }

    [Theory]
    [InlineData(1, 8)]
    [InlineData(17, 8)]
    [InlineData(8, 1)]
    [InlineData(8, 32)]
    public void Bit_widths_outside_2_to_16_are_rejected(int weightBits, int actBits)
    {
        var e = Assert.Throws<BadInputException>(() => (Seed with { WeightBits = weightBits, ActBits = actBits }).Validate());
        Assert.Contains("from 2 to 16", e.Message);
    }

    [Fact]
    public void ToString_lists_every_option_in_canonical_spelling()
    {
        var config = Seed with { Requant = RequantSpec.FixedPoint(), Bias = BiasMode.Int32, Granularity = Granularity.Channel };
        Assert.Equal(
            "weight-bits=8 act-bits=8 weight-range=minmax act-range=sigma:3 granularity=channel rounding=floor requant=fixed-point:31 bias=int32 scope=all act-signedness=signed",
            config.ToString());
    }
}
