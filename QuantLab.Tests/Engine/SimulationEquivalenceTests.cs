using QuantLab.Engine.Int;
using QuantLab.Engine.Ptq;
using QuantLab.Engine.Quantization;

namespace QuantLab.Tests.Engine;

/// <summary>
/// The integer path against the TorchSharp fake-quant simulation (an independent implementation of
/// DESIGN.md §3) on the whole MNIST test set, for every rounding × requant × bias mode at several bit
/// widths: the logits must be identical. Signed 4-bit here, signed 8-bit in <see cref="EightBitSimulationEquivalenceTests"/>,
/// unsigned activations in <see cref="UnsignedSimulationEquivalenceTests"/>: three classes, which xunit runs side by side.
/// As one class they took about 9 minutes one case after another, and came last in the suite with the second core idle.
/// </summary>
public class SimulationEquivalenceTests
{
    public static TheoryData<string, string, string, int> Combinations(int bits)
    {
        var data = new TheoryData<string, string, string, int>();
        foreach (var rounding in new[] { "floor", "half-even", "half-away" })
        foreach (var requant in new[] { "float", "fixed-point:31", "fixed-point:12" })
        foreach (var bias in new[] { "none", "float", "int32" })
        {
            if (requant != "float" && bias == "float") continue; // impossible: fixed-point needs bias none or int32
            data.Add(rounding, requant, bias, bits);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Combinations), 4)]
    public void Integer_logits_equal_the_fake_quant_simulation_on_the_whole_test_set(string rounding, string requant, string bias, int bits) =>
        AssertEquivalent(rounding, requant, bias, bits);

    /// <summary>The quick trained model with bias, calibrated on 300 training images and quantized with <paramref name="config"/>.</summary>
    internal static IntModel Build(QuantizationConfig config)
    {
        var model = SharedModels.QuickBias;
        return PtqBuilder.BuildInteger(model, Calibrator.Calibrate(model, Calibrator.Sample(SharedMnist.Train, 300), config), config);
    }

    /// <summary>Signed activations; per channel at 4 bits, per tensor otherwise.</summary>
    internal static void AssertEquivalent(string rounding, string requant, string bias, int bits)
    {
        var config = QuantizationConfig.Default with
        {
            WeightBits = bits, ActBits = bits, Rounding = RoundingMode.Parse(rounding), Requant = RequantSpec.Parse(requant),
            Bias = BiasMode.Parse(bias), Granularity = bits == 4 ? Granularity.Channel : Granularity.Tensor,
        };
        var intModel = Build(config);
        var test = SharedMnist.Test;

        var integer = IntegerEngine.Run(intModel, QuantizeJob.QuantizeInputs(intModel, test));
        var simulated = FakeQuantSimulation.Run(intModel, test);

        Assert.Equal(test.Count * 10, integer.Length);
        int mismatches = integer.Zip(simulated).Count(p => p.Item1 != p.Item2);
        Assert.Equal(0, mismatches);
    }

    [Fact]
    public void At_16_bits_with_float_requantization_the_simulation_still_matches()
    {
        var config = QuantizationConfig.Default with { WeightBits = 16, ActBits = 16, Rounding = RoundingMode.HalfEven, Bias = BiasMode.Int32 };
        var intModel = Build(config);
        var images = SharedMnist.TestSubset(1000);
        Assert.Equal(IntegerEngine.Run(intModel, QuantizeJob.QuantizeInputs(intModel, images)), FakeQuantSimulation.Run(intModel, images));
    }

    [Fact]
    public void A_wrong_multiplier_is_caught_by_the_comparison()
    {
        // The comparison can fail: perturb one requantization multiplier of the integer model only.
        var config = QuantizationConfig.Default;
        var intModel = Build(config);
        var conv1 = intModel.Layers.First();
        var perturbed = intModel with { Ops = intModel.Ops.Select(op => op == conv1 ? conv1 with { Requant = new FloatRequant(((FloatRequant)conv1.Requant).Multiplier.Select(m => m * 1.01).ToArray()) } : op).ToList() };
        var images = SharedMnist.TestSubset(500);
        Assert.NotEqual(IntegerEngine.Run(perturbed, QuantizeJob.QuantizeInputs(perturbed, images)), FakeQuantSimulation.Run(intModel, images));
    }
}

/// <summary><see cref="SimulationEquivalenceTests"/> at 8 bits (signed, per tensor).</summary>
public class EightBitSimulationEquivalenceTests
{
    [Theory]
    [MemberData(nameof(SimulationEquivalenceTests.Combinations), 8, MemberType = typeof(SimulationEquivalenceTests))]
    public void Integer_logits_equal_the_fake_quant_simulation_on_the_whole_test_set(string rounding, string requant, string bias, int bits) =>
        SimulationEquivalenceTests.AssertEquivalent(rounding, requant, bias, bits);
}

/// <summary><see cref="SimulationEquivalenceTests"/> with unsigned activations after each ReLU.</summary>
public class UnsignedSimulationEquivalenceTests
{
    public static TheoryData<string, string, int> UnsignedCombinations()
    {
        var data = new TheoryData<string, string, int>();
        foreach (var bits in new[] { 2, 4, 8 })
        foreach (var rounding in new[] { "floor", "half-even", "half-away" })
        foreach (var requant in new[] { "float", "fixed-point:31" })
            data.Add(rounding, requant, bits);
        return data;
    }

    [Theory]
    [MemberData(nameof(UnsignedCombinations))]
    public void With_unsigned_activations_after_relu_integer_logits_equal_the_simulation_on_the_whole_test_set(string rounding, string requant, int bits)
    {
        var config = QuantizationConfig.Default with
        {
            WeightBits = bits, ActBits = bits, Rounding = RoundingMode.Parse(rounding), Requant = RequantSpec.Parse(requant),
            Bias = BiasMode.Int32, Granularity = Granularity.Channel, ActSignedness = ActSignedness.UnsignedAfterRelu,
        };
        var intModel = SimulationEquivalenceTests.Build(config);
        // Every ReLU output is unsigned; the logits (no ReLU) stay signed.
        Assert.Equal(intModel.Layers.Select(l => !l.Relu), intModel.Layers.Select(l => l.OutputSigned));
        Assert.Equal(Quantizer.QMax(bits, signed: false), intModel.Layers.First().OutputClamp.Max);
        var test = SharedMnist.Test;
        Assert.Equal(IntegerEngine.Run(intModel, QuantizeJob.QuantizeInputs(intModel, test)), FakeQuantSimulation.Run(intModel, test));
    }

    [Fact]
    public void Unsigned_16_bit_activations_run_on_the_simd_paths_and_match_the_simulation()
    {
        // Outputs up to 65,535 do not fit int16: the SIMD kernels store them offset by −32768 (TensorLayout.Offset).
        var config = QuantizationConfig.Default with
        {
            WeightBits = 16, ActBits = 16, Rounding = RoundingMode.HalfEven, Bias = BiasMode.Int32, ActSignedness = ActSignedness.UnsignedAfterRelu,
        };
        var intModel = SimulationEquivalenceTests.Build(config);
        Assert.True(CompiledModel.CanCompile(intModel));
        Assert.Contains(new CompiledModel(intModel).Ops, op => op is ConvParams { Output.Offset: true });
        var images = SharedMnist.TestSubset(1000);
        Assert.Equal(IntegerEngine.Run(intModel, QuantizeJob.QuantizeInputs(intModel, images)), FakeQuantSimulation.Run(intModel, images));
    }
}
