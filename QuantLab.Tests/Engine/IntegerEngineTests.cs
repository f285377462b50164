using QuantLab.Engine.Calibration;
using QuantLab.Engine.Int;
using QuantLab.Engine.Ptq;
using QuantLab.Engine.Quantization;

namespace QuantLab.Tests.Engine;

public class IntegerEngineTests
{
    /// <summary>A 3×3 input, a 2×2 convolution and a 4→2 linear layer, small enough to compute by hand.</summary>
    private static IntModel Tiny(BiasMode linearBias, RequantSpec requant, RoundingMode rounding = RoundingMode.Floor)
    {
        var conv = new IntLayer("conv")
        {
            Shape = new Conv2dShape(2), InChannels = 1, OutChannels = 1, Weights = [1, 2, 3, 4], WeightBits = 8, WeightScale = [1.0],
            InputScale = 1.0, OutputScale = 10.0, OutputBits = 8, Relu = true, Bias = NoBias.Instance,
            Requant = requant.IsFixedPoint ? new FixedPointRequant(requant.Precision, [1717986918L], [34]) : new FloatRequant([0.1]), // 0.1 ≈ 1717986918·2^-34 (P = 31)
        };
        var linear = new IntLayer("fc")
        {
            Shape = LinearShape.Instance, InChannels = 4, OutChannels = 2, Weights = [1, -1, 0, 0, 0, 0, 1, 1], WeightBits = 8, WeightScale = [1.0],
            InputScale = 10.0, OutputScale = 10.0, OutputBits = 8, Relu = false,
            Bias = linearBias == BiasMode.Int32 ? new Int32Bias([5, -20]) : NoBias.Instance,
            Requant = requant.IsFixedPoint ? new FixedPointRequant(requant.Precision, [1L << 30, 1L << 30], [30, 30]) : new FloatRequant([1.0, 1.0]),
        };
        return new IntModel(rounding, 8, 1.0, [conv, new IntFlatten("flatten"), linear]) { InputShape = [1, 3, 3] };
    }

    private static readonly short[] TinyInput = [1, 2, 3, 4, 5, 6, 7, 8, 9];

    [Fact]
    public void The_reference_path_computes_the_hand_worked_example()
    {
        // conv accumulators: 1·1+2·2+3·4+4·5 = 37, 47, 67, 77; × 0.1, floor → 3, 4, 6, 7.
        // linear: 3 − 4 = −1 and 6 + 7 = 13.
        Assert.Equal(new[] { -1, 13 }, ReferenceKernels.Run(Tiny(BiasMode.None, RequantSpec.Float), TinyInput));
        // With int32 bias [5, −20] added to the accumulators: 4 and −7.
        Assert.Equal(new[] { 4, -7 }, ReferenceKernels.Run(Tiny(BiasMode.Int32, RequantSpec.Float), TinyInput));
        // half-away rounds 3.7 → 4, 4.7 → 5, 6.7 → 7, 7.7 → 8: logits −1 and 15.
        Assert.Equal(new[] { -1, 15 }, ReferenceKernels.Run(Tiny(BiasMode.None, RequantSpec.Float, RoundingMode.HalfAway), TinyInput));
    }

    [Fact]
    public void Fixed_point_requantization_gives_the_same_hand_worked_result()
    {
        // M0·2^-34 is just below 0.1, so floor of 37·m is still 3 (and so on); the fc multiplier is exactly 1.
        Assert.Equal(new[] { -1, 13 }, ReferenceKernels.Run(Tiny(BiasMode.None, RequantSpec.FixedPoint(31)), TinyInput));
        Assert.Equal(new[] { 4, -7 }, ReferenceKernels.Run(Tiny(BiasMode.Int32, RequantSpec.FixedPoint(31)), TinyInput));
    }

    [Fact]
    public void The_fast_path_computes_the_hand_worked_example()
    {
        foreach (var bias in new[] { BiasMode.None, BiasMode.Int32 })
        {
            var model = Tiny(bias, RequantSpec.Float);
            Assert.Equal(ReferenceKernels.Run(model, TinyInput), IntegerEngine.Run(model, TinyInput));
        }
    }

    [Fact]
    public void Max_pool_takes_the_largest_integer_of_each_window()
    {
        int[] input = [1, -5, 2, 0, 3, 4, -1, -2, -7, -8, 6, 5, -9, -6, 7, 9];
        Assert.Equal(new[] { 4, 2, -6, 9 }, ReferenceKernels.MaxPool(input, 1, 4, 4, 2));
    }

    public static TheoryData<int, int, string, string, string, string> FastPathCases() => new()
    {
        { 8, 8, "floor", "float", "int32", "tensor" },
        { 8, 8, "half-even", "fixed-point:31", "int32", "channel" },
        { 4, 6, "half-away", "float", "float", "channel" },
        { 4, 4, "half-even", "fixed-point:8", "int32", "channel" },
        { 6, 6, "floor", "fixed-point:12", "none", "tensor" },
        { 12, 12, "half-even", "float", "int32", "tensor" },
        { 16, 16, "half-away", "fixed-point:31", "int32", "channel" },
        { 16, 16, "floor", "float", "float", "tensor" },
    };

    [Theory]
    [MemberData(nameof(FastPathCases))]
    public void The_fast_path_equals_the_scalar_reference_bit_for_bit(int weightBits, int actBits, string rounding, string requant, string bias, string granularity)
    {
        var config = QuantizationConfig.Default with
        {
            WeightBits = weightBits, ActBits = actBits, Rounding = RoundingMode.Parse(rounding), Requant = RequantSpec.Parse(requant),
            Bias = BiasMode.Parse(bias), Granularity = Granularity.Parse(granularity),
        };
        var model = SharedModels.QuickBias;
        var ranges = Calibrator.Calibrate(model, Calibrator.Sample(SharedMnist.Train, 200), config);
        var intModel = PtqBuilder.BuildInteger(model, ranges, config);
        var images = SharedMnist.TestSubset(300);
        var inputs = QuantizeJob.QuantizeInputs(intModel, images);

        var fast = IntegerEngine.Run(intModel, inputs, threads: 2);
        var reference = IntegerEngine.RunReference(intModel, inputs);
        Assert.Equal(reference, fast);
        foreach (var path in KernelPaths.Supported)
            Assert.Equal(reference, IntegerEngine.Run(new CompiledModel(intModel, path), inputs, threads: 2));
        Assert.True(fast.Distinct().Count() > 5, "the logits vary (the comparison is not trivially equal)");
    }

    [Fact]
    public void At_16_by_16_bits_the_accumulator_bound_exceeds_int32_and_the_engine_widens()
    {
        var config = QuantizationConfig.Default with { WeightBits = 16, ActBits = 16 };
        var model = SharedModels.Quick;
        var intModel = PtqBuilder.BuildInteger(model, Calibrator.Calibrate(model, Calibrator.Sample(SharedMnist.Train, 100), config), config);
        var compiled = new CompiledModel(intModel, KernelPath.Avx2);
        var dots = compiled.Ops.Select(DotOf).OfType<PackedDot>().ToList();
        Assert.Contains(dots, d => d.Kind != AccumulatorKind.Int32);
        Assert.All(dots.Where(d => d.Kind != AccumulatorKind.Int32), d => Assert.True(d.Bound > int.MaxValue));

        // And at 8×8 bits every layer is provably int32-safe.
        var config8 = QuantizationConfig.Default;
        var eight = new CompiledModel(PtqBuilder.BuildInteger(model, Calibrator.Calibrate(model, Calibrator.Sample(SharedMnist.Train, 100), config8), config8), KernelPath.Avx2);
        Assert.All(eight.Ops.Select(DotOf).OfType<PackedDot>(), d => Assert.True(d.Kind == AccumulatorKind.Int32, $"bound {d.Bound}"));
    }

    private static PackedDot? DotOf(CompiledOp op) => op switch { ConvParams c => c.Dot, LinearParams l => l.Dot, _ => null };

    [Fact]
    public void The_bound_is_the_worst_case_of_the_actual_weights()
    {
        // Two output channels: Σ|w| = 6 and 15; inputs up to 100; int32 bias 7 on the second.
        var layer = new IntLayer("l")
        {
            Shape = LinearShape.Instance, InChannels = 3, OutChannels = 2, Weights = [1, -2, 3, -4, 5, -6], WeightBits = 8, WeightScale = [1.0],
            InputScale = 1, OutputScale = 1, OutputBits = 8, Relu = false, Bias = new Int32Bias([0, -7]), Requant = new FloatRequant([1, 1]),
        };
        Assert.Equal(15 * 100 + 7, CompiledModel.Bound(layer, 100));
    }

    [Fact]
    public void Results_do_not_depend_on_the_thread_count()
    {
        var model = SharedModels.Quick;
        var config = QuantizationConfig.Default;
        var intModel = PtqBuilder.BuildInteger(model, Calibrator.Calibrate(model, Calibrator.Sample(SharedMnist.Train, 100), config), config);
        var inputs = QuantizeJob.QuantizeInputs(intModel, SharedMnist.TestSubset(500));
        Assert.Equal(IntegerEngine.Run(intModel, inputs, threads: 1), IntegerEngine.Run(intModel, inputs, threads: 2));
    }
}
