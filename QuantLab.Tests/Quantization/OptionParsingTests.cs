using QuantLab.Engine;
using QuantLab.Engine.Calibration;
using QuantLab.Engine.Quantization;

namespace QuantLab.Tests.Quantization;

public class OptionParsingTests
{
    [Theory]
    [InlineData("floor", RoundingMode.Floor)]
    [InlineData("half-even", RoundingMode.HalfEven)]
    [InlineData("half-away", RoundingMode.HalfAway)]
    [InlineData(" Half-Even ", RoundingMode.HalfEven)]
    public void Rounding_spellings_parse(string text, RoundingMode expected)
    {
        Assert.Equal(expected, RoundingMode.Parse(text));
        Assert.Equal(expected, RoundingMode.Parse(expected.ToOption()));
    }

    [Fact]
    public void Canonical_spellings_are_the_documented_ones()
    {
        Assert.Equal(["floor", "half-even", "half-away"], Enum.GetValues<RoundingMode>().Select(m => m.ToOption()));
        Assert.Equal(["tensor", "channel"], Enum.GetValues<Granularity>().Select(m => m.ToOption()));
        Assert.Equal(["none", "float", "int32"], Enum.GetValues<BiasMode>().Select(m => m.ToOption()));
        Assert.Equal(["weights", "all"], Enum.GetValues<QuantScope>().Select(m => m.ToOption()));
    }

    [Theory]
    [InlineData("tensor", Granularity.Tensor)]
    [InlineData("channel", Granularity.Channel)]
    public void Granularity_spellings_parse(string text, Granularity expected) =>
        Assert.Equal(expected, Granularity.Parse(text));

    [Theory]
    [InlineData("none", BiasMode.None)]
    [InlineData("float", BiasMode.Float)]
    [InlineData("int32", BiasMode.Int32)]
    public void Bias_spellings_parse(string text, BiasMode expected) => Assert.Equal(expected, BiasMode.Parse(text));

    [Theory]
    [InlineData("weights", QuantScope.Weights)]
    [InlineData("all", QuantScope.All)]
    public void Scope_spellings_parse(string text, QuantScope expected) => Assert.Equal(expected, QuantScope.Parse(text));

    [Theory]
    [InlineData("float", RequantMode.Float, 0, "float")]
    [InlineData("fixed-point", RequantMode.FixedPoint, 31, "fixed-point:31")]
    [InlineData("fixed-point:31", RequantMode.FixedPoint, 31, "fixed-point:31")]
    [InlineData("fixed-point:8", RequantMode.FixedPoint, 8, "fixed-point:8")]
    [InlineData("fixed-point:16", RequantMode.FixedPoint, 16, "fixed-point:16")]
    public void Requant_spellings_parse_and_print_canonically(string text, RequantMode mode, int precision, string canonical)
    {
        var spec = RequantSpec.Parse(text);
        Assert.Equal(mode, spec.Mode);
        Assert.Equal(precision, spec.Precision);
        Assert.Equal(canonical, spec.ToString());
        Assert.Equal(spec, RequantSpec.Parse(spec.ToString()));
    }

    [Fact]
    public void Fixed_point_without_precision_equals_fixed_point_31()
    {
        Assert.Equal(RequantSpec.Parse("fixed-point:31"), RequantSpec.Parse("fixed-point"));
        Assert.Equal(RequantSpec.FixedPoint(), RequantSpec.FixedPoint(31));
        Assert.NotEqual(RequantSpec.FixedPoint(30), RequantSpec.FixedPoint(31));
    }

    [Theory]
    [InlineData("minmax", "minmax", 0, "minmax")]
    [InlineData("sigma:3", "sigma", 3, "sigma:3")]
    [InlineData("sigma:3.0", "sigma", 3, "sigma:3")]
    [InlineData("sigma:2.5", "sigma", 2.5, "sigma:2.5")]
    [InlineData("sigma:1e1", "sigma", 10, "sigma:10")]
    [InlineData("percentile:99", "percentile", 99, "percentile:99")]
    [InlineData("percentile:99.99", "percentile", 99.99, "percentile:99.99")]
    [InlineData("percentile:100", "percentile", 100, "percentile:100")]
    [InlineData("entropy", "entropy", 0, "entropy")]
    [InlineData("mse", "mse", 0, "mse")]
    [InlineData("MinMax", "minmax", 0, "minmax")]
    public void Range_method_spellings_parse_and_print_canonically(string text, string name, double parameter, string canonical)
    {
        var method = RangeMethod.Parse(text);
        Assert.Equal(name, method.Name);
        Assert.Equal(parameter, method.Parameter);
        Assert.Equal(canonical, method.ToString());
        Assert.Equal(method, RangeMethod.Parse(method.ToString()));
    }

    [Fact]
    public void Range_method_factories_equal_parsed_values()
    {
        Assert.Equal(RangeMethod.Sigma(3), RangeMethod.Parse("sigma:3"));
        Assert.Equal(RangeMethod.Percentile(99.9), RangeMethod.Parse("percentile:99.9"));
        Assert.NotEqual(RangeMethod.Sigma(3), RangeMethod.Percentile(3));
        Assert.Equal("sigma:0.1", RangeMethod.Sigma(0.1).ToString());
    }

    [Theory]
    [InlineData("2", 2)]
    [InlineData("8", 8)]
    [InlineData("16", 16)]
    public void Bit_widths_parse(string text, int expected) => Assert.Equal(expected, BitWidth.Parse(text));

    public static TheoryData<string, Func<string?, object>, string[]> BadValues => new()
    {
        { "round", s => RoundingMode.Parse(s), ["floor", "half-even", "half-away"] },
        { "half_even", s => RoundingMode.Parse(s), ["floor", "half-even", "half-away"] },
        { "", s => RoundingMode.Parse(s), ["floor", "half-even", "half-away"] },
        { "layer", s => Granularity.Parse(s), ["tensor", "channel"] },
        { "int16", s => BiasMode.Parse(s), ["none", "float", "int32"] },
        { "activations", s => QuantScope.Parse(s), ["weights", "all"] },
        { "fixed", s => RequantSpec.Parse(s), ["float", "fixed-point", "fixed-point:P", "8", "31"] },
        { "fixed-point:7", s => RequantSpec.Parse(s), ["float", "fixed-point", "fixed-point:P", "8", "31"] },
        { "fixed-point:32", s => RequantSpec.Parse(s), ["float", "fixed-point", "fixed-point:P", "8", "31"] },
        { "fixed-point:", s => RequantSpec.Parse(s), ["float", "fixed-point", "fixed-point:P"] },
        { "fixed-point:16.5", s => RequantSpec.Parse(s), ["float", "fixed-point", "fixed-point:P"] },
        { "min-max", s => RangeMethod.Parse(s), ["minmax", "sigma:K", "percentile:P", "entropy", "mse"] },
        { "sigma", s => RangeMethod.Parse(s), ["minmax", "sigma:K", "percentile:P", "entropy", "mse"] },
        { "sigma:0", s => RangeMethod.Parse(s), ["minmax", "sigma:K", "percentile:P", "entropy", "mse"] },
        { "sigma:-3", s => RangeMethod.Parse(s), ["minmax", "sigma:K", "percentile:P", "entropy", "mse"] },
        { "sigma:abc", s => RangeMethod.Parse(s), ["minmax", "sigma:K", "percentile:P", "entropy", "mse"] },
        { "sigma:NaN", s => RangeMethod.Parse(s), ["minmax", "sigma:K", "percentile:P", "entropy", "mse"] },
        { "sigma:Infinity", s => RangeMethod.Parse(s), ["minmax", "sigma:K", "percentile:P", "entropy", "mse"] },
        { "percentile:0", s => RangeMethod.Parse(s), ["minmax", "sigma:K", "percentile:P", "entropy", "mse"] },
        { "percentile:100.5", s => RangeMethod.Parse(s), ["minmax", "sigma:K", "percentile:P", "entropy", "mse"] },
        { "percentile", s => RangeMethod.Parse(s), ["minmax", "sigma:K", "percentile:P", "entropy", "mse"] },
        { "entropy:2", s => RangeMethod.Parse(s), ["minmax", "sigma:K", "percentile:P", "entropy", "mse"] },
        { "1", s => BitWidth.Parse(s), ["2", "16"] },
        { "17", s => BitWidth.Parse(s), ["2", "16"] },
        { "8.5", s => BitWidth.Parse(s), ["2", "16"] },
        { "eight", s => BitWidth.Parse(s), ["2", "16"] },
    };

    [Theory]
    [MemberData(nameof(BadValues))]
    public void Bad_values_are_bad_input_naming_the_value_and_the_allowed_ones(string text, Func<string?, object> parse, string[] allowed)
    {
        var e = Assert.Throws<BadInputException>(() => parse(text));
        Assert.Equal(2, e.ExitCode);
        Assert.Contains($"'{text}'", e.Message);
        foreach (var a in allowed) Assert.Contains(a, e.Message);
    }

    [Fact]
    public void A_missing_value_is_bad_input_too()
    {
        var e = Assert.Throws<BadInputException>(() => RoundingMode.Parse(null));
        Assert.Contains("(missing)", e.Message);
        Assert.Contains("half-away", e.Message);
    }

    [Fact]
    public void Out_of_range_factory_arguments_are_bad_input()
    {
        Assert.Throws<BadInputException>(() => RequantSpec.FixedPoint(7));
        Assert.Throws<BadInputException>(() => RangeMethod.Sigma(0));
        Assert.Throws<BadInputException>(() => RangeMethod.Percentile(double.NaN));
        Assert.Throws<BadInputException>(() => BitWidth.Validate(17));
    }
}
