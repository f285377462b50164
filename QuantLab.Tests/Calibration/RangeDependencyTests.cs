using QuantLab.Engine.Calibration;
using QuantLab.Engine.Jobs;
using QuantLab.Engine.Quantization;

namespace QuantLab.Tests.Calibration;

/// <summary>
/// Every registered range method declares the quantization options its result depends on, and calibrate keys
/// hold exactly those. These tests compute ranges under every value of every option for every method, so a
/// method that reads an option it has not declared (and would let one key stand for different ranges) fails here.
/// </summary>
public class RangeDependencyTests
{
    private static readonly int[] Bits = [2, 3, 4, 5, 8, 12, 16];
    private static readonly RoundingMode[] Roundings = [RoundingMode.Floor, RoundingMode.HalfEven, RoundingMode.HalfAway];

    /// <summary>Tensors of different shapes: Laplace-like weights, a post-ReLU activation with many zeros, a skewed one.</summary>
    private static IEnumerable<float[]> Tensors()
    {
        var random = new Random(7);
        yield return Enumerable.Range(0, 3000).Select(_ => (float)(Math.Log(random.NextDouble() + 1e-12) * (random.Next(2) == 0 ? -0.05 : 0.05))).ToArray();
        yield return Enumerable.Range(0, 3000).Select(_ => (float)Math.Max(0, random.NextDouble() * 4 - 1.5)).ToArray();
        yield return Enumerable.Range(0, 2000).Select(_ => (float)(Math.Pow(random.NextDouble(), 4) * 9 - 0.5)).ToArray();
    }

    private static RangeMethod Example(RangeMethodInfo m) => RangeMethod.Parse(m.Parameter is null ? m.Name : $"{m.Name}:{m.Parameter.Example}");

    private static ObservedRange Compute(RangeMethodInfo method, ObserverContext context, float[] values)
    {
        var observer = method.Create(Example(method).Parameter, context);
        observer.Observe(values);
        return observer.Compute();
    }

    public static IEnumerable<object[]> Methods() => RangeObservers.Methods.Select(m => new object[] { m.Name });

    [Theory]
    [MemberData(nameof(Methods))]
    public void A_method_whose_range_changes_with_an_option_declares_it(string name)
    {
        var method = RangeObservers.Methods.Single(m => m.Name == name);
        foreach (var values in Tensors())
        {
            bool bitsMatter = false, roundingMatters = false;
            foreach (var rounding in Roundings)
            {
                var byBits = Bits.Select(b => Compute(method, new ObserverContext(b, rounding), values)).Distinct().Count();
                bitsMatter |= byBits > 1;
            }
            foreach (var bits in Bits)
            {
                var byRounding = Roundings.Select(r => Compute(method, new ObserverContext(bits, r), values)).Distinct().Count();
                roundingMatters |= byRounding > 1;
            }
            if (bitsMatter) Assert.True(method.DependsOn.HasFlag(RangeDependency.Bits), $"{name}'s range changes with the bit width, which it does not declare");
            if (roundingMatters) Assert.True(method.DependsOn.HasFlag(RangeDependency.Rounding), $"{name}'s range changes with the rounding, which it does not declare");
        }
    }

    [Theory]
    [InlineData("entropy", RangeDependency.Bits)]
    [InlineData("mse", RangeDependency.Bits | RangeDependency.Rounding)]
    [InlineData("aciq", RangeDependency.Bits)]
    [InlineData("minmax", RangeDependency.None)]
    [InlineData("sigma", RangeDependency.None)]
    [InlineData("percentile", RangeDependency.None)]
    public void The_declared_dependencies_are_real(string name, RangeDependency declared)
    {
        var method = RangeObservers.Methods.Single(m => m.Name == name);
        Assert.Equal(declared, method.DependsOn);
        var values = Tensors().First();
        if (declared.HasFlag(RangeDependency.Bits))
            Assert.True(Bits.Select(b => Compute(method, new ObserverContext(b, RoundingMode.Floor), values)).Distinct().Count() > 1);
        if (declared.HasFlag(RangeDependency.Rounding))
            Assert.Contains(Tensors(), v => Roundings.Select(r => Compute(method, new ObserverContext(3, r), v)).Distinct().Count() > 1);
    }

    public static IEnumerable<object[]> MethodsAndOptions() =>
        from m in RangeObservers.Methods
        from option in new[] { "weightBits", "actBits", "rounding", "granularity", "requant", "bias" }
        select new object[] { m.Name, option };

    /// <summary>The key of a calibration: configurations that differ only in an option its methods depend on get
    /// different keys; ones that differ only in an option they ignore share one.</summary>
    [Theory]
    [MemberData(nameof(MethodsAndOptions))]
    public void Calibrate_keys_follow_the_declared_dependencies(string name, string option)
    {
        var info = RangeObservers.Methods.Single(m => m.Name == name);
        var method = Example(info);
        var a = QuantizationConfig.Default with { WeightRange = method, ActRange = method, Bias = BiasMode.Int32 };
        var b = option switch
        {
            "weightBits" => a with { WeightBits = 4 },
            "actBits" => a with { ActBits = 4 },
            "rounding" => a with { Rounding = RoundingMode.HalfEven },
            "granularity" => a with { Granularity = Granularity.Channel },
            "requant" => a with { Requant = RequantSpec.FixedPoint() },
            "bias" => a with { Bias = BiasMode.Float },
            _ => throw new ArgumentException(option),
        };
        static string Key(QuantizationConfig c) => JobCodec.Key(CalibrateJob.For("model", c, 500, "resize"), "d", "e");
        bool shouldDiffer = option switch
        {
            "weightBits" or "actBits" => info.DependsOn.HasFlag(RangeDependency.Bits),
            "rounding" => info.DependsOn.HasFlag(RangeDependency.Rounding),
            "granularity" => true,    // one weight range per tensor or one per channel
            _ => false,               // requantization and bias never change a range
        };
        Assert.Equal(shouldDiffer, Key(a) != Key(b));
    }
}
