using QuantLab.Engine;
using QuantLab.Engine.Calibration;
using QuantLab.Engine.Int;
using QuantLab.Engine.Ptq;
using QuantLab.Engine.Quantization;
using QuantLab.Tests.Engine;

namespace QuantLab.Tests.Int;

/// <summary>Every kernel path against the scalar reference on a trained LeNet-5 and real MNIST test images.</summary>
public class RealModelKernelPathTests
{
    static RealModelKernelPathTests() => KernelPaths.EmulateAvx512 = true;

    internal static IEnumerable<KernelPath> Paths() =>
        KernelPaths.IsSupported(KernelPath.Avx2) ? [KernelPath.Scalar, KernelPath.Avx2, KernelPath.Avx512] : [KernelPath.Scalar];

    internal static void AssertPathsAgree(int weightBits, int actBits, string rounding, string requant, string bias, string granularity, int images,
        bool emulated = true, ActSignedness signedness = ActSignedness.Signed)
    {
        var config = QuantizationConfig.Default with
        {
            WeightBits = weightBits, ActBits = actBits, Rounding = RoundingMode.Parse(rounding), Requant = RequantSpec.Parse(requant),
            Bias = BiasMode.Parse(bias), Granularity = Granularity.Parse(granularity), ActSignedness = signedness,
        };
        var model = config.Bias == BiasMode.None ? SharedModels.Quick : SharedModels.QuickBias;
        var intModel = PtqBuilder.BuildInteger(model, Calibrator.Calibrate(model, Calibrator.Sample(SharedMnist.Train, 200), config), config);
        var inputs = QuantizeJob.QuantizeInputs(intModel, SharedMnist.TestSubset(images));
        // The scalar path is ReferenceKernels image by image (here on 2 threads).
        var reference = IntegerEngine.Run(new CompiledModel(intModel, KernelPath.Scalar), inputs, threads: 2);
        foreach (var path in (emulated ? Paths() : KernelPaths.Supported).Where(p => p != KernelPath.Scalar))
            Assert.Equal(reference, IntegerEngine.Run(new CompiledModel(intModel, path), inputs, threads: 2));
        // At few activation bits the logits may collapse onto a handful of grid values; from 6 bits on they
        // must vary (else the comparison would be trivially equal).
        if (actBits >= 6) Assert.True(reference.Distinct().Count() > 5, "the logits vary");
    }

    public static TheoryData<int, int, string, string, string, string> Cases() => new()
    {
        { 8, 8, "floor", "float", "none", "tensor" },
        { 2, 3, "half-even", "fixed-point:8", "int32", "channel" },
        { 5, 16, "half-away", "float", "float", "channel" },
        { 16, 4, "floor", "fixed-point:31", "none", "tensor" },
        { 16, 16, "half-even", "float", "int32", "channel" },
        { 11, 13, "half-away", "fixed-point:20", "int32", "tensor" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Every_path_equals_the_reference_on_1000_test_images(int weightBits, int actBits, string rounding, string requant, string bias, string granularity) =>
        AssertPathsAgree(weightBits, actBits, rounding, requant, bias, granularity, 1000);

    /// <summary>unsigned-after-relu on every SIMD path, 2..16 bits (16-bit unsigned outputs, up to 65,535, stored offset
    /// by −32768: <see cref="TensorLayout.Offset"/>).</summary>
    public static TheoryData<int, int, string, string, string, string> UnsignedCases() => new()
    {
        { 8, 8, "half-even", "fixed-point:31", "int32", "channel" },
        { 2, 2, "floor", "float", "none", "tensor" },
        { 4, 4, "half-away", "fixed-point:16", "int32", "channel" },
        { 16, 15, "half-even", "float", "int32", "channel" },
        { 16, 16, "half-away", "float", "int32", "tensor" },
        { 8, 16, "floor", "fixed-point:31", "none", "channel" },
    };

    [Theory]
    [MemberData(nameof(UnsignedCases))]
    public void With_unsigned_activations_every_path_equals_the_reference_on_1000_test_images(int weightBits, int actBits, string rounding, string requant,
        string bias, string granularity) =>
        AssertPathsAgree(weightBits, actBits, rounding, requant, bias, granularity, 1000, signedness: ActSignedness.UnsignedAfterRelu);

    [Fact]
    public void Inputs_outside_the_input_grid_are_refused_by_the_simd_paths()
    {
        var config = QuantizationConfig.Default with { ActBits = 4 };
        var model = SharedModels.Quick;
        var intModel = PtqBuilder.BuildInteger(model, Calibrator.Calibrate(model, Calibrator.Sample(SharedMnist.Train, 100), config), config);
        var inputs = (short[])QuantizeJob.QuantizeInputs(intModel, SharedMnist.TestSubset(3)).Clone();
        inputs[1500] = 100; // a 4-bit grid ends at 7
        foreach (var path in Paths().Where(p => p != KernelPath.Scalar))
        {
            var error = Assert.Throws<BadInputException>(() => IntegerEngine.Run(new CompiledModel(intModel, path), inputs));
            Assert.Contains("4-bit input grid", error.Message);
        }
    }
}

/// <summary>The whole 10,000-image test set for a grid of configurations, every path this machine runs natively
/// against the reference (minutes; emulated AVX-512 is left to the 1000-image tests).</summary>
public class SlowRealModelKernelPathGridTests
{
    public static TheoryData<int, int, string, string, string, string> Grid()
    {
        var data = new TheoryData<int, int, string, string, string, string>();
        string[] roundings = ["floor", "half-even", "half-away"];
        string[] requants = ["float", "fixed-point:31", "fixed-point:12"];
        string[] biases = ["none", "int32", "float"];
        int i = 0;
        foreach (var (w, a) in new[] { (2, 2), (4, 4), (8, 8), (8, 16), (16, 8), (16, 16) })
        foreach (var granularity in new[] { "tensor", "channel" })
        {
            var requant = requants[i % 3];
            var bias = requant == "float" ? biases[i % 3] : biases[i % 2];
            data.Add(w, a, roundings[i % 3], requant, bias, granularity);
            i++;
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Grid))]
    public void Every_path_equals_the_reference_on_the_whole_test_set(int weightBits, int actBits, string rounding, string requant, string bias, string granularity) =>
        RealModelKernelPathTests.AssertPathsAgree(weightBits, actBits, rounding, requant, bias, granularity, 10_000, emulated: false);
}

public class QuantizedInputCacheTests
{
    [Fact]
    public void The_test_set_is_quantized_once_per_input_step()
    {
        var config = QuantizationConfig.Default;
        var model = SharedModels.Quick;
        var intModel = PtqBuilder.BuildInteger(model, Calibrator.Calibrate(model, Calibrator.Sample(SharedMnist.Train, 100), config), config);
        var images = SharedMnist.TestSubset(50);
        var first = QuantizeJob.QuantizeInputs(intModel, images);
        Assert.Same(first, QuantizeJob.QuantizeInputs(intModel with { }, images));
        // Another input step is another entry, with the values of the contract (q = clamp(R(x / s_in))).
        var other = intModel with { InputScale = intModel.InputScale * 2 };
        var second = QuantizeJob.QuantizeInputs(other, images);
        Assert.NotSame(first, second);
        var expected = new short[images.Pixels.Length];
        for (int i = 0; i < images.Count; i++)
            other.QuantizeInput(images.Pixels.AsSpan(i * 1024, 1024), expected.AsSpan(i * 1024, 1024));
        Assert.Equal(expected, second);
    }

    [Fact]
    public void A_sweep_cycling_through_fifteen_input_steps_finds_each_one_quantized_again()
    {
        // The bit-width sweep's plan order cycles through 15 input steps (5 activation ranges × 3 roundings) per weight range.
        var config = QuantizationConfig.Default;
        var model = SharedModels.Quick;
        var intModel = PtqBuilder.BuildInteger(model, Calibrator.Calibrate(model, Calibrator.Sample(SharedMnist.Train, 100), config), config);
        var images = SharedMnist.TestSubset(50).Take(20);   // an image set of this test's own: no other test shares its entries
        var steps = Enumerable.Range(1, 15).Select(i => intModel with { InputScale = intModel.InputScale * (1 + i / 16.0) }).ToList();
        var first = steps.Select(m => QuantizeJob.QuantizeInputs(m, images)).ToList();
        for (int i = 0; i < steps.Count; i++)
            Assert.Same(first[i], QuantizeJob.QuantizeInputs(steps[i], images));
    }
}
