using QuantLab.Engine;
using QuantLab.Engine.Calibration;
using QuantLab.Engine.Int;
using QuantLab.Engine.Jobs;
using QuantLab.Engine.Model;
using QuantLab.Engine.Ptq;
using QuantLab.Engine.Qat;
using QuantLab.Engine.Quantization;
using QuantLab.Engine.Training;
using QuantLab.Tests.Engine;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;
using RoundingMode = QuantLab.Engine.Quantization.RoundingMode;

namespace QuantLab.Tests.Qat;

/// <summary>LSQ (<c>--qat-method lsq</c>): the step gradient, the initial steps, training and exact conversion.</summary>
public sealed class LsqTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ql-lsq-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void The_step_gradient_is_lsqs_inside_below_and_above_the_range_times_the_scale()
    {
        // 2-bit signed: Q_N = 2, Q_P = 1; s = 0.5, so v = x/s = −3 (below), −0.7, 0.26 (inside), 1.2 and exactly 1 (above: v ≥ Q_P).
        float[] values = [-1.5f, -0.35f, 0.13f, 0.6f, 0.5f];
        const double g = 0.25;
        using var x = tensor(values).requires_grad_();
        using var s = tensor(0.5f).requires_grad_();
        using var y = FakeQuant.ApplyLearned(x, s, s, -2, 1, RoundingMode.HalfEven, g);
        y.sum().backward();

        Assert.Equal([-1.0f, -0.5f, 0f, 0.5f, 0.5f], y.data<float>().ToArray());
        Assert.Equal([0f, 1f, 1f, 0f, 0f], x.grad!.data<float>().ToArray());
        // −Q_N; R(−0.7) − (−0.7) = −1 + 0.7; R(0.26) − 0.26 = −0.26; Q_P; Q_P.
        double expected = g * (-2 + (-1 + 0.7) + (0 - 0.26) + 1 + 1);
        Assert.Equal(expected, s.grad!.item<float>(), 1e-6);
    }

    [Theory]
    [InlineData(RoundingMode.HalfEven, -0.5)]   // R(2.5) = 2 under half-even: 2 − 2.5
    [InlineData(RoundingMode.HalfAway, 0.5)]    // R(2.5) = 3: 3 − 2.5
    [InlineData(RoundingMode.Floor, -0.5)]      // R(2.5) = 2
    public void The_step_gradient_rounds_as_the_configured_mode(RoundingMode rounding, double expected)
    {
        // Unsigned 2-bit: Q_N = 0, Q_P = 3; v = 2.5 lies inside; g = 1.
        using var x = tensor(new[] { 2.5f }).requires_grad_();
        using var s = tensor(1f).requires_grad_();
        using var y = FakeQuant.ApplyLearned(x, s, s, 0, 3, rounding, 1);
        y.sum().backward();
        Assert.Equal(expected, s.grad!.item<float>(), 1e-6);
        Assert.Equal(FakeQuantSimulation.Round(tensor(2.5), rounding).item<double>(), y.item<float>());
    }

    [Theory]
    [InlineData("tensor")]
    [InlineData("channel")]
    public void Steps_start_at_twice_the_mean_magnitude_over_the_root_of_qp(string granularity)
    {
        var config = SharedQatModels.LsqTwoBit with { Granularity = Granularity.Parse(granularity) };
        using var module = new LeNet5(false);
        var steps = new LsqSteps(module, config);
        var w = Fp32Model.FromModule(module, new ModelManifest()).Layer("conv3").Weight;
        int channels = w.Shape[0], per = w.Data.Length / channels;
        double[] expected = granularity == "tensor"
            ? [2 * w.Data.Average(v => Math.Abs((double)v)) / Math.Sqrt(1)]   // Q_P = 1 for 2-bit weights
            : Enumerable.Range(0, channels).Select(c => 2 * w.Data.Skip(c * per).Take(per).Average(v => Math.Abs((double)v))).ToArray();
        var actual = steps.WeightSteps("conv3");
        Assert.Equal(expected.Length, actual.Length);
        Assert.All(expected.Zip(actual), p => Assert.Equal(p.Item1, p.Item2, 1e-6 * p.Item1));

        // Activations: from the first training batch (conv1 is a ReLU output: unsigned, Q_P = 3), later batches leave it.
        Assert.Throws<InvalidOperationException>(() => steps.ActivationStep("conv1"));
        using var first = tensor(new[] { 0f, 1f, 2f, 5f }).reshape(1, 4);
        steps.Initialize("conv1", first);
        Assert.Equal(2 * 2.0 / Math.Sqrt(3), steps.ActivationStep("conv1"), 1e-6);
        using var second = tensor(new[] { 100f }).reshape(1, 1);
        steps.Initialize("conv1", second);
        Assert.Equal(2 * 2.0 / Math.Sqrt(3), steps.ActivationStep("conv1"), 1e-6);
        // The input image is signed: Q_P = 1 at 2 bits.
        using var image = tensor(new[] { -1f, 3f }).reshape(1, 2);
        steps.Initialize("input", image);
        Assert.Equal(2 * 2.0, steps.ActivationStep("input"), 1e-6);
    }

    [Fact]
    public void A_step_pushed_through_zero_is_held_at_the_floor_read_as_collapsed_there_and_positive_steps_are_untouched()
    {
        using var module = new LeNet5(false);
        var steps = new LsqSteps(module, SharedQatModels.LsqTwoBit);
        using var batch = tensor(new[] { -1f, 3f }).reshape(1, 2);
        foreach (var point in ActivationPoints.All) steps.Initialize(point, batch);
        var before = steps.WeightSteps("conv1");
        var output = steps.Parameters.Last();   // the output point's step, last of the activation points
        using (no_grad()) using (var value = (-0.00034f).ToScalar()) output.fill_(value);
        Assert.Throws<QuantLab.Engine.Training.TrainingDivergedException>(() => steps.ActivationStep("output"));
        steps.KeepPositive();
        Assert.Equal(LsqSteps.MinStep, output.detach().item<float>());
        var collapsed = Assert.Throws<QuantLab.Engine.Training.TrainingDivergedException>(() => steps.ActivationStep("output"));
        Assert.Contains("collapsed", collapsed.Message);
        using (no_grad()) using (var value = 0.01f.ToScalar()) output.fill_(value);   // a step its gradient raised again is an ordinary step
        Assert.Equal(0.01, steps.ActivationStep("output"), 1e-7);
        Assert.Equal(before, steps.WeightSteps("conv1"));   // bit for bit
    }

    [Fact]
    public void A_learned_step_is_stored_as_the_threshold_whose_step_it_is_bit_for_bit()
    {
        var random = new Random(7);
        for (int i = 0; i < 20000; i++)
        {
            int bits = random.Next(2, 17);
            bool signed = random.Next(2) == 0;
            double step = (float)Math.Exp(random.NextDouble() * 20 - 10);
            Assert.Equal(step, Quantizer.Step(Quantizer.Threshold(step, bits, signed), bits, signed));
        }
        Assert.Equal(LsqSteps.GradScale(150, 1), 1 / Math.Sqrt(150));
    }

    [Fact]
    public void A_short_lsq_run_learns_moves_its_steps_and_converts_exactly()
    {
        var r = SharedQatModels.LsqTwoBitUnsigned;
        var config = SharedQatModels.LsqTwoBit;
        output.WriteLine($"LSQ W2/A2 unsigned from a 4,000-image FP32 model ({SharedModels.Quick.Manifest.TestAccuracy:P2}), 1 epoch / 4000 images: integer {r.TestAccuracy:P2}, float weights {r.Fp32Accuracy:P2}, {r.Seconds:F1} s; " +
                         $"float32 forward vs exact: {r.Float32.PredictionMismatches} predictions, {r.Float32.LogitMismatches} logits of {r.Float32.Count}");
        Assert.True(r.TestAccuracy > 0.7, $"accuracy {r.TestAccuracy}");
        Assert.Equal(r.TestAccuracy, QatTrainer.IntegerAccuracy(r.Model, SharedMnist.Test));
        Assert.Equal("lsq", r.Model.Manifest.Qat.Method);
        Assert.Empty(r.ActivationUpdates);

        // The steps moved away from their start (the FP32 weights' 2⟨|w|⟩/√Q_P).
        using (var start = SharedModels.Quick.ToModule())
        {
            var initial = new LsqSteps(start, config);
            foreach (var layer in ActivationPoints.WeightLayers)
            {
                var learned = r.Model.Manifest.Thresholds.Weights[layer].Select(t => Quantizer.Step(t, 2)).ToArray();
                var before = initial.WeightSteps(layer);
                Assert.True(learned.Zip(before).Max(p => Math.Abs(p.Item1 / p.Item2 - 1)) > 0.01, $"{layer}: the steps did not move");
            }
        }

        // The training forward runs on the grid the model converts to: the float32 forward and the integer model agree.
        Assert.True(r.Float32.PredictionMismatches <= 50, $"{r.Float32.PredictionMismatches} prediction mismatches");
        var intModel = r.Model.ToIntModel();
        Assert.Equal(intModel.Layers.Select(l => !l.Relu), intModel.Layers.Select(l => l.OutputSigned));

        // The model directory holds the learned steps: a reload gives the same integer network.
        var dir = Path.Combine(_dir, "lsq");
        r.Model.Save(dir);
        Assert.Contains("\"method\": \"lsq\"", File.ReadAllText(Path.Combine(dir, "model.json")));
        Assert.Equal(QatTrainer.IntegerLogits(r.Model, SharedMnist.Test), QatTrainer.IntegerLogits(QatModel.Load(dir), SharedMnist.Test));
    }

    [Fact]
    public void The_same_seed_gives_the_same_lsq_weights_and_steps_bit_for_bit()
    {
        var a = SharedQatModels.Train(SharedQatModels.LsqTwoBit, bias: false, limit: 400, seed: 21, method: QatMethod.Lsq).Model;
        var b = SharedQatModels.Train(SharedQatModels.LsqTwoBit, bias: false, limit: 400, seed: 21, method: QatMethod.Lsq).Model;
        foreach (var name in a.Weights.Parameters.Keys)
            Assert.Equal(a.Weights.Parameters[name].Data.Select(BitConverter.SingleToInt32Bits), b.Weights.Parameters[name].Data.Select(BitConverter.SingleToInt32Bits));
        Assert.Equal(a.Manifest.Thresholds.Activations, b.Manifest.Thresholds.Activations);
        Assert.Equal(a.Manifest.Thresholds.Weights, b.Manifest.Thresholds.Weights);
    }

    [Fact]
    public void Lsq_refuses_calibration_set_range_methods_and_unknown_methods_are_listed()
    {
        var options = new QatOptions { Config = QuantizationConfig.Default with { ActRange = RangeMethod.Entropy }, Method = QatMethod.Lsq };
        var e = Assert.Throws<BadInputException>(() => options.Validate(false));
        Assert.Contains("--qat-method lsq", e.Message);
        Assert.Contains("--act-range", e.Message);
        Assert.Contains("observe, lsq", Assert.Throws<BadInputException>(() => QatMethod.Parse("adam")).Message);
        Assert.Equal(QatMethod.Lsq, QatMethod.Parse(" LSQ "));
    }

    [Fact]
    public void The_method_is_in_an_lsq_jobs_record_and_absent_from_an_observe_jobs()
    {
        var observe = new QatTrainJob(new TrainOptions(), new QatOptions { Config = QuantizationConfig.Default }, DataSelection.Default);
        var lsq = observe with { Qat = observe.Qat with { Method = QatMethod.Lsq } };
        Assert.DoesNotContain("method", JobCodec.Canonical(observe));
        Assert.Contains("\"method\":\"lsq\"", JobCodec.Canonical(lsq));
        Assert.Equal(QatMethod.Lsq, ((QatTrainJob)JobCodec.Read(JobCodec.Canonical(lsq))).Qat.Method);
        Assert.Equal(QatMethod.Observe, ((QatTrainJob)JobCodec.Read(JobCodec.Canonical(observe))).Qat.Method);
        Assert.NotEqual(JobCodec.Key(observe, "d", "e"), JobCodec.Key(lsq, "d", "e"));
    }
}
