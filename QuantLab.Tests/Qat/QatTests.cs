using QuantLab.Engine;
using QuantLab.Engine.Calibration;
using QuantLab.Engine.Int;
using QuantLab.Engine.Model;
using QuantLab.Engine.Ptq;
using QuantLab.Engine.Qat;
using QuantLab.Engine.Quantization;
using QuantLab.Engine.Training;
using QuantLab.Tests.Engine;
using Xunit.Abstractions;
using static TorchSharp.torch;
using RoundingMode = QuantLab.Engine.Quantization.RoundingMode;

namespace QuantLab.Tests.Qat;

/// <summary>Small QAT models trained once per test run (1 epoch on 4,000 images, a few seconds each).</summary>
public static class SharedQatModels
{
    private static readonly Lazy<QatTrainer.Result> FloatM = new(() => Train(QuantizationConfig.Default, bias: false));
    private static readonly Lazy<QatTrainer.Result> FixedBias = new(() => Train(QuantizationConfig.Default with
    {
        Requant = RequantSpec.FixedPoint(), Bias = BiasMode.Int32, Granularity = Granularity.Channel, Rounding = RoundingMode.HalfAway,
    }, bias: true));
    private static readonly Lazy<QatTrainer.Result> FloatBias = new(() => Train(QuantizationConfig.Default with
    {
        WeightBits = 4, ActBits = 4, Bias = BiasMode.Float, Rounding = RoundingMode.HalfEven, WeightRange = RangeMethod.Sigma(3), ActRange = RangeMethod.Sigma(4),
    }, bias: true));

    private static readonly Lazy<QatTrainer.Result> Unsigned4 = new(() => Train(QuantizationConfig.Default with
    {
        WeightBits = 4, ActBits = 4, Requant = RequantSpec.FixedPoint(), Bias = BiasMode.Int32, Granularity = Granularity.Channel,
        Rounding = RoundingMode.HalfEven, ActSignedness = ActSignedness.UnsignedAfterRelu,
    }, bias: true));

    /// <summary>W2/A2 unsigned-after-relu, half-even, per channel: the LSQ test configuration.</summary>
    public static readonly QuantizationConfig LsqTwoBit = QuantizationConfig.Default with
    {
        WeightBits = 2, ActBits = 2, ActSignedness = ActSignedness.UnsignedAfterRelu, Rounding = RoundingMode.HalfEven, Granularity = Granularity.Channel,
    };

    private static readonly Lazy<QatTrainer.Result> Lsq2 = new(() => Train(LsqTwoBit, bias: false, method: QatMethod.Lsq, from: SharedModels.Quick));

    /// <summary>The seed's QAT setting (8-bit, floor, minmax, per tensor, float M), no bias.</summary>
    public static QatTrainer.Result Seed => FloatM.Value;
    /// <summary>Fixed-point M (P = 31), int32 bias, per-channel weights, half-away rounding.</summary>
    public static QatTrainer.Result FixedPointWithBias => FixedBias.Value;
    /// <summary>4-bit, float bias, half-even rounding, sigma ranges.</summary>
    public static QatTrainer.Result FourBitFloatBias => FloatBias.Value;
    /// <summary>4-bit unsigned-after-relu, fixed-point M, int32 bias, per channel, half-even.</summary>
    public static QatTrainer.Result FourBitUnsigned => Unsigned4.Value;
    /// <summary>LSQ on <see cref="LsqTwoBit"/>, fine-tuning <see cref="SharedModels.Quick"/>.</summary>
    public static QatTrainer.Result LsqTwoBitUnsigned => Lsq2.Value;

    public static QatTrainer.Result Train(QuantizationConfig config, bool bias, int limit = 4000, int seed = 5, int epochs = 1, double freeze = 0.25,
        QatMethod method = QatMethod.Observe, Fp32Model? from = null)
    {
        lock (TorchThreads.Gate)
            return QatTrainer.Train(new QatOptions { Config = config, FreezeFraction = freeze, Method = method },
                new TrainOptions { Bias = bias, Epochs = epochs, TrainLimit = limit, Seed = seed }, SharedMnist.Train, SharedMnist.Test, from, from is null ? null : "quick");
    }
}

public sealed class QatTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ql-qat-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    [Theory]
    [InlineData(RoundingMode.Floor)]
    [InlineData(RoundingMode.HalfAway)]
    public void The_straight_through_estimator_passes_the_gradient_inside_the_range_only(RoundingMode rounding)
    {
        // 3 bits: q ∈ [−4, 3]; step 0.25. x/s = −12, −4.8, −1.6, 0, 2.4, 3.6, 10.
        using var x = tensor(new[] { -3.0f, -1.2f, -0.4f, 0.0f, 0.6f, 0.9f, 2.5f }).requires_grad_(true);
        using var step = tensor(0.25f);
        using var y = FakeQuant.Apply(x, step, 3, rounding);
        using var sum = y.sum();
        sum.backward();
        var expectedValue = rounding == RoundingMode.Floor
            ? new[] { -1.0f, -1.0f, -0.5f, 0.0f, 0.5f, 0.75f, 0.75f }
            : new[] { -1.0f, -1.0f, -0.5f, 0.0f, 0.5f, 0.75f, 0.75f }; // −1.6 → −2, 2.4 → 2, 3.6 → 4 clipped to 3 (outside)
        Assert.Equal(expectedValue, y.data<float>().ToArray());
        var expectedGrad = rounding == RoundingMode.Floor
            ? new[] { 0f, 0f, 1f, 1f, 1f, 1f, 0f }   // floor(3.6) = 3 is inside
            : new[] { 0f, 0f, 1f, 1f, 1f, 0f, 0f };  // round(3.6) = 4 > qmax: clipped, no gradient
        Assert.Equal(expectedGrad, x.grad!.data<float>().ToArray());
    }

    [Fact]
    public void The_fake_quant_value_is_exactly_step_times_the_clamped_integer()
    {
        using var x = randn(1000, generator: new TorchSharp.torch.Generator(7)).requires_grad_(true);
        using var step = tensor(0.0137f);
        using var y = FakeQuant.Apply(x, step, 4, RoundingMode.HalfEven);
        using var expected = x.detach().div(step).round().ClampTo(-8L, 7L).mul(step);
        Assert.Equal(expected.data<float>().ToArray(), y.detach().data<float>().ToArray());
    }

    [Fact]
    public void The_moving_average_follows_batches_until_frozen()
    {
        var ema = new MovingAverageThreshold(RangeMethod.MinMax, 0.5);
        using (var a = tensor(new[] { 1f, -4f })) ema.Observe(a);
        Assert.Equal(4.0, ema.Threshold);                       // the first batch sets T
        using (var b = tensor(new[] { 2f, 0f })) ema.Observe(b);
        Assert.Equal(3.0, ema.Threshold);                       // (1 − 0.5)·4 + 0.5·2
        ema.Freeze();
        using (var c = tensor(new[] { 100f })) ema.Observe(c);
        Assert.Equal(3.0, ema.Threshold);
        Assert.Equal(2, ema.Updates);

        var sigma = new MovingAverageThreshold(RangeMethod.Sigma(2), 1.0);
        using (var d = tensor(new[] { 1f, 3f })) sigma.Observe(d);  // mean 2, σ 1 → |2| + 2·1
        Assert.Equal(4.0, sigma.Threshold!.Value, 12);
    }

    [Fact]
    public void A_non_finite_activation_range_is_divergence()
    {
        var ema = new MovingAverageThreshold(RangeMethod.MinMax, 0.01);
        using var values = tensor(new[] { 1f, float.NaN });
        Assert.Throws<TrainingDivergedException>(() => ema.Observe(values));
    }

    [Fact]
    public void Activation_ranges_stop_moving_at_the_freeze_step()
    {
        // 400 images, batch 4, 1 epoch: 100 steps; freezing the last 30 % leaves steps 0..69 observing.
        var r = SharedQatModels.Train(QuantizationConfig.Default, bias: false, limit: 400, epochs: 1, freeze: 0.3);
        Assert.Equal(70, r.Model.Manifest.Qat.FreezeStep);
        Assert.Equal(100, r.Model.Manifest.Qat.TotalSteps);
        Assert.All(r.ActivationUpdates.Values, updates => Assert.Equal(70L, updates));
        Assert.Equal(70, new QatOptions { Config = QuantizationConfig.Default, FreezeFraction = 0.3 }.FreezeStep(100));
        Assert.Equal(100, new QatOptions { Config = QuantizationConfig.Default, FreezeFraction = 0 }.FreezeStep(100));
    }

    [Fact]
    public void A_short_qat_run_learns_and_reports_the_integer_accuracy()
    {
        var r = SharedQatModels.Seed;
        output.WriteLine($"QAT 1 epoch / 4000 images: integer {r.TestAccuracy:P2}, float weights {r.Fp32Accuracy:P2}, {r.Seconds:F1} s; " +
                         $"float32 forward vs exact: {r.Float32.PredictionMismatches} predictions, {r.Float32.LogitMismatches} logits of {r.Float32.Count}");
        Assert.True(r.TestAccuracy > 0.7, $"accuracy {r.TestAccuracy}");
        Assert.Equal(r.TestAccuracy, QatTrainer.IntegerAccuracy(r.Model, SharedMnist.Test));
        Assert.Equal(r.TestAccuracy, r.Model.Manifest.TestAccuracy);
        // The float32 training forward is an approximation of the exact model: it may differ, but rarely.
        Assert.True(r.Float32.PredictionMismatches <= 50, $"{r.Float32.PredictionMismatches} prediction mismatches");
    }

    public static TheoryData<string> Models() => ["seed", "fixed-point+int32 bias", "4-bit+float bias", "4-bit unsigned-after-relu", "2-bit lsq unsigned-after-relu"];

    private static QatTrainer.Result Model(string name) => name switch
    {
        "seed" => SharedQatModels.Seed,
        "fixed-point+int32 bias" => SharedQatModels.FixedPointWithBias,
        "4-bit unsigned-after-relu" => SharedQatModels.FourBitUnsigned,
        "2-bit lsq unsigned-after-relu" => SharedQatModels.LsqTwoBitUnsigned,
        _ => SharedQatModels.FourBitFloatBias,
    };

    [Fact]
    public void Unsigned_after_relu_qat_trains_on_the_grid_it_converts_to_and_survives_save_and_load()
    {
        var r = SharedQatModels.FourBitUnsigned;
        output.WriteLine($"QAT 4/4 unsigned, 1 epoch / 4000 images: integer {r.TestAccuracy:P2}; float32 forward vs exact: " +
                         $"{r.Float32.PredictionMismatches} predictions, {r.Float32.LogitMismatches} logits of {r.Float32.Count}");
        // The reported accuracy is the integer model's. The float32 training forward is only close to it at 4 bits after
        // one epoch, signed too (measured with this configuration: signed 882 predictions and 42,339 logits of 10,000 images
        // differ, unsigned 536 and 25,995); a forward on another grid than the converted one would disagree on most images.
        Assert.Equal(r.TestAccuracy, QatTrainer.IntegerAccuracy(r.Model, SharedMnist.Test));
        Assert.True(r.Float32.PredictionMismatches <= 1000, $"{r.Float32.PredictionMismatches} prediction mismatches");
        var intModel = r.Model.ToIntModel();
        Assert.Equal(intModel.Layers.Select(l => !l.Relu), intModel.Layers.Select(l => l.OutputSigned));
        Assert.Equal(Quantizer.Step(r.Model.Manifest.Thresholds.Activations["conv3"], 4, signed: false), intModel.Layers.Single(l => l.Name == "conv3").OutputScale);

        var dir = Path.Combine(_dir, "unsigned");
        r.Model.Save(dir);
        Assert.Contains("unsigned-after-relu", File.ReadAllText(Path.Combine(dir, "model.json")));
        var back = QatModel.Load(dir);
        Assert.Equal(ActSignedness.UnsignedAfterRelu, back.Config.ActSignedness);
        Assert.Equal(QatTrainer.IntegerLogits(r.Model, SharedMnist.Test), QatTrainer.IntegerLogits(back, SharedMnist.Test));

        // Weights below 2 bits are refused on reading too, naming the file's JSON path and the allowed widths.
        var manifest = Path.Combine(dir, "model.json");
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("\"weightBits\": 4", "\"weightBits\": 1"));
        var e = Assert.Throws<BadInputException>(() => QatModel.Load(dir));
        Assert.Contains("$.quantization", e.Message);
        Assert.Contains("2 to 16", e.Message);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Fake_quant_logits_equal_integer_logits_on_the_whole_test_set(string name)
    {
        var model = Model(name).Model;
        var intModel = model.ToIntModel();
        var test = SharedMnist.Test;
        var integer = IntegerEngine.Run(intModel, QuantizeJob.QuantizeInputs(intModel, test));
        var fakeQuant = FakeQuantSimulation.Run(intModel, test);
        Assert.Equal(test.Count * 10, integer.Length);
        Assert.Equal(0, integer.Zip(fakeQuant).Count(p => p.Item1 != p.Item2));
        Assert.Equal(integer, QatTrainer.IntegerLogits(model, test));
    }

    [Fact]
    public void Conversion_uses_the_learned_thresholds_and_no_calibration()
    {
        var model = SharedQatModels.FixedPointWithBias.Model;
        var intModel = model.ToIntModel();
        var config = model.Config;
        Assert.Equal(Quantizer.Step(model.Manifest.Thresholds.Activations["input"], config.ActBits), intModel.InputScale);
        var conv3 = intModel.Layers.Single(l => l.Name == "conv3");
        Assert.Equal(16, conv3.WeightScale.Length);
        Assert.Equal(model.Manifest.Thresholds.Weights["conv3"].Select(t => Quantizer.Step(t, config.WeightBits)), conv3.WeightScale);
        Assert.Equal(Quantizer.Step(model.Manifest.Thresholds.Activations["conv3"], config.ActBits), conv3.OutputScale);
        Assert.IsType<FixedPointRequant>(conv3.Requant);
        Assert.IsType<Int32Bias>(conv3.Bias);
        // The weight thresholds are the PTQ observer's on the trained weights.
        Assert.Equal(Calibrator.WeightRanges(model.Weights.Layer("conv3").Weight, RangeMethod.MinMax, 8, config.Rounding, Granularity.Channel).Select(r => r.Threshold),
            model.Manifest.Thresholds.Weights["conv3"]);
    }

    [Fact]
    public void A_small_qat_model_converts_on_a_hand_checked_layer()
    {
        // conv1's output channel 0 at (12, 12) on the first test image (inside the digit), computed by hand from the QAT model's own numbers
        // (float weights, thresholds, DESIGN.md §3), against the integer engine's layer.
        var model = SharedQatModels.Seed.Model;
        var intModel = model.ToIntModel();
        var (weight, _) = model.Weights.Layer("conv1");
        var t = model.Manifest.Thresholds;
        double sIn = Quantizer.Step(t.Activations["input"], 8), sw = Quantizer.Step(t.Weights["conv1"][0], 8), sy = Quantizer.Step(t.Activations["conv1"], 8);
        var image = SharedMnist.Test.Pixels.AsSpan(0, 1024);
        long acc = 0;
        for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++)
        {
            int xq = Quantizer.Quantize(image[(12 + i) * 32 + 12 + j], new QuantParams(sIn, 8, RoundingMode.Floor));
            int wq = Quantizer.Quantize(weight.Data[i * 5 + j], new QuantParams(sw, 8, RoundingMode.Floor));
            acc += (long)xq * wq;
        }
        int expected = (int)Math.Clamp(Math.Floor(acc * (sw * sIn / sy)), 0, 127);
        var inputs = new short[1024];
        intModel.QuantizeInput(image, inputs);
        var conv1 = ReferenceKernels.Conv2d(intModel.Layers.First(), inputs.Select(v => (int)v).ToArray(), 32, 32, RoundingMode.Floor);
        Assert.Equal(expected, conv1[12 * 28 + 12]);
        Assert.NotEqual(0, acc);
    }

    [Fact]
    public void A_qat_model_directory_reloads_exactly()
    {
        var model = SharedQatModels.FixedPointWithBias.Model;
        var dir = Path.Combine(_dir, "qat");
        model.Save(dir);
        var loaded = QatModel.Load(dir);
        Assert.Equal(model.Config, loaded.Config);
        foreach (var (name, array) in model.Weights.Parameters)
            Assert.Equal(array.Data.Select(BitConverter.SingleToInt32Bits), loaded.Weights.Parameters[name].Data.Select(BitConverter.SingleToInt32Bits));
        Assert.Equal(model.Manifest.Thresholds.Activations, loaded.Manifest.Thresholds.Activations);
        foreach (var (layer, thresholds) in model.Manifest.Thresholds.Weights) Assert.Equal(thresholds, loaded.Manifest.Thresholds.Weights[layer]);
        var images = SharedMnist.TestSubset(2000);
        Assert.Equal(QatTrainer.IntegerLogits(model, images), QatTrainer.IntegerLogits(loaded, images));
        Assert.Throws<BadInputException>(() => Fp32Model.Load(dir));
    }

    [Fact]
    public void A_damaged_qat_manifest_is_refused_naming_the_field()
    {
        var dir = Path.Combine(_dir, "qat");
        SharedQatModels.Seed.Model.Save(dir);
        var path = Path.Combine(dir, "model.json");
        File.WriteAllText(path, File.ReadAllText(path).Replace("\"conv5\": 0.", "\"conv5\": -0."));
        var e = Assert.Throws<BadInputException>(() => QatModel.Load(dir));
        Assert.Contains("activations.conv5", e.Message);
    }

    [Fact]
    public void The_same_seed_gives_the_same_qat_weights_and_thresholds_bit_for_bit()
    {
        var config = QuantizationConfig.Default with { Requant = RequantSpec.FixedPoint(16) };
        var a = SharedQatModels.Train(config, bias: false, limit: 1200, seed: 21).Model;
        var b = SharedQatModels.Train(config, bias: false, limit: 1200, seed: 21).Model;
        var c = SharedQatModels.Train(config, bias: false, limit: 1200, seed: 22).Model;
        foreach (var name in a.Weights.Parameters.Keys)
            Assert.Equal(a.Weights.Parameters[name].Data.Select(BitConverter.SingleToInt32Bits), b.Weights.Parameters[name].Data.Select(BitConverter.SingleToInt32Bits));
        Assert.Equal(a.Manifest.Thresholds.Activations, b.Manifest.Thresholds.Activations);
        Assert.NotEqual(a.Weights.Parameters["conv1.weight"].Data, c.Weights.Parameters["conv1.weight"].Data);
        Assert.NotEqual(a.Manifest.Thresholds.Activations["conv1"], c.Manifest.Thresholds.Activations["conv1"]);
    }

    [Fact]
    public void Fine_tuning_starts_from_the_given_fp32_weights()
    {
        var start = SharedModels.Quick;
        QatTrainer.Result r;
        lock (TorchThreads.Gate)
            r = QatTrainer.Train(new QatOptions { Config = QuantizationConfig.Default }, new TrainOptions { Epochs = 1, TrainLimit = 400, Lr = 1e-9, Momentum = 0 },
                SharedMnist.Train, SharedMnist.Test, start, "quick");
        // With a vanishing learning rate the weights stay (almost) the FP32 ones, and the start is measured.
        Assert.Equal(start.Manifest.TestAccuracy, r.FromAccuracy);
        var w0 = start.Parameters["conv3.weight"].Data;
        var w1 = r.Model.Weights.Parameters["conv3.weight"].Data;
        Assert.True(w0.Zip(w1).Max(p => Math.Abs(p.Item1 - p.Item2)) < 1e-5);
        Assert.EndsWith("quick", r.Model.Manifest.From);
    }

    [Theory]
    [InlineData("entropy", "minmax", "entropy")]
    [InlineData("minmax", "percentile:99.9", "percentile")]
    [InlineData("mse", "minmax", "mse")]
    public void Range_methods_qat_cannot_observe_per_batch_are_refused(string weightRange, string actRange, string named)
    {
        var options = new QatOptions { Config = QuantizationConfig.Default with { WeightRange = RangeMethod.Parse(weightRange), ActRange = RangeMethod.Parse(actRange) } };
        var e = Assert.Throws<BadInputException>(() => options.Validate(false));
        Assert.Contains(named, e.Message);
    }

    [Fact]
    public void Other_impossible_qat_settings_are_refused_before_training()
    {
        var baseline = new QatOptions { Config = QuantizationConfig.Default };
        Assert.Contains("scope", Assert.Throws<BadInputException>(() => (baseline with { Config = QuantizationConfig.Default with { Scope = QuantScope.Weights } }).Validate(false)).Message);
        Assert.Contains("bias", Assert.Throws<BadInputException>(() => (baseline with { Config = QuantizationConfig.Default with { Bias = BiasMode.Int32 } }).Validate(false)).Message);
        Assert.Contains("fixed-point", Assert.Throws<BadInputException>(() => (baseline with { Config = QuantizationConfig.Default with { Bias = BiasMode.Float, Requant = RequantSpec.FixedPoint() } }).Validate(true)).Message);
        Assert.Throws<BadInputException>(() => (baseline with { FreezeFraction = 1 }).Validate(false));
        Assert.Throws<BadInputException>(() => (baseline with { EmaConstant = 0 }).Validate(false));
        // The trainer refuses the same way, before any step.
        Assert.Throws<BadInputException>(() => QatTrainer.Train(baseline with { Config = QuantizationConfig.Default with { ActRange = RangeMethod.Entropy } },
            new TrainOptions(), SharedMnist.Train, SharedMnist.Test));
    }
}

