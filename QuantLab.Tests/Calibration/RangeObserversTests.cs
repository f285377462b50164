using QuantLab.Engine;
using QuantLab.Engine.Calibration;
using QuantLab.Engine.Quantization;

namespace QuantLab.Tests.Calibration;

public class RangeObserversTests
{
    [Theory]
    [InlineData("minmax", typeof(MinMaxObserver))]
    [InlineData("sigma:3", typeof(SigmaObserver))]
    [InlineData("percentile:99.9", typeof(PercentileObserver))]
    [InlineData("entropy", typeof(EntropyObserver))]
    [InlineData("mse", typeof(MseObserver))]
    public void Each_method_has_its_observer(string method, Type expected) =>
        Assert.IsType(expected, RangeObservers.Create(RangeMethod.Parse(method), 8, RoundingMode.Floor));

    [Fact]
    public void Parameters_reach_the_observers()
    {
        Assert.Equal(2.5, ((SigmaObserver)RangeObservers.Create(RangeMethod.Sigma(2.5), 8, RoundingMode.Floor)).K);
        Assert.Equal(99.9, ((PercentileObserver)RangeObservers.Create(RangeMethod.Percentile(99.9), 8, RoundingMode.Floor)).Percentile);
        Assert.Equal(4, ((EntropyObserver)RangeObservers.Create(RangeMethod.Entropy, 4, RoundingMode.Floor)).Bits);
        var mse = (MseObserver)RangeObservers.Create(RangeMethod.Mse, 6, RoundingMode.HalfAway);
        Assert.Equal((6, RoundingMode.HalfAway), (mse.Bits, mse.Rounding));
    }

    [Fact]
    public void Bits_outside_2_to_16_are_bad_input() =>
        Assert.Contains("from 2 to 16", Assert.Throws<BadInputException>(() => RangeObservers.Create(RangeMethod.Mse, 1, RoundingMode.Floor)).Message);
}
