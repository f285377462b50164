using QuantLab.Engine.Model;
using QuantLab.Engine.Ptq;
using QuantLab.Engine.Qat;
using QuantLab.Engine.Quantization;
using QuantLab.Engine.Training;
using QuantLab.Tests.Engine;
using Xunit.Abstractions;

namespace QuantLab.Tests.Qat;

/// <summary>
/// The full trainings behind issue 4's targets, each at most once per run (lazily, so a filter that picks
/// one test trains only what it needs): the seed's FP32 model (2 epochs, mini-batch 4, seed 1) and QAT
/// runs with the same data, epochs and seed — 8-bit with float M, 8-bit with fixed-point M, 4-bit, 2-bit —
/// in the seed's QAT setting otherwise (floor, minmax, per tensor, no bias).
/// </summary>
public sealed class QatTargetModels
{
    private readonly Lazy<(Fp32Model Model, double Seconds)> _fp32 = new(() =>
    {
        lock (TorchThreads.Gate)
        {
            var r = Trainer.Train(new TrainOptions(), SharedMnist.Train, SharedMnist.Test);
            using var module = r.Model;
            return (Fp32Model.FromModule(module, new ModelManifest { TestAccuracy = r.TestAccuracy }), r.Seconds);
        }
    });
    private readonly Dictionary<string, Lazy<QatTrainer.Result>> _qat;

    public QatTargetModels()
    {
        var seed = QuantizationConfig.Default;
        _qat = new()
        {
            ["8-bit"] = Qat(seed),
            ["8-bit fixed-point"] = Qat(seed with { Requant = RequantSpec.FixedPoint() }),
            ["4-bit"] = Qat(seed with { WeightBits = 4, ActBits = 4 }),
            ["2-bit"] = Qat(seed with { WeightBits = 2, ActBits = 2 }),
        };
    }

    private static Lazy<QatTrainer.Result> Qat(QuantizationConfig config) => new(() =>
    {
        lock (TorchThreads.Gate)
            return QatTrainer.Train(new QatOptions { Config = config }, new TrainOptions(), SharedMnist.Train, SharedMnist.Test);
    });

    public (Fp32Model Model, double Seconds) Fp32 => _fp32.Value;
    public QatTrainer.Result this[string name] => _qat[name].Value;
}

public sealed class SlowQatTargetTests(QatTargetModels models, ITestOutputHelper output) : IClassFixture<QatTargetModels>
{
    private void Describe(string name, QatTrainer.Result r) => output.WriteLine(
        $"QAT {name}: integer {r.TestAccuracy * 100:F2}% (epochs {string.Join(", ", r.Epochs.Select(e => $"{e.TestAccuracy * 100:F2}"))}), " +
        $"float weights {r.Fp32Accuracy * 100:F2}%, {r.Seconds:F1} s ({r.Seconds / r.Epochs.Count:F1} s per epoch); " +
        $"float32 training forward vs exact: {r.Float32.PredictionMismatches} predictions, {r.Float32.LogitMismatches} logits of {r.Float32.Count} images");

    [Fact]
    public void Slow_qat_at_8_bits_reaches_98_percent_and_reports_the_integer_accuracy()
    {
        var r = models["8-bit"];
        Describe("8-bit, float M (seed 98.11 %)", r);
        Assert.True(r.TestAccuracy >= 0.980, $"accuracy {r.TestAccuracy}");
        var converted = QatConversion.Run(r.Model, SharedMnist.Test);
        Assert.Equal(r.TestAccuracy, converted.Accuracy);
        // The exact fake-quant simulation agrees with the integer engine on every logit.
        Assert.Equal(converted.TestSet!.Logits, FakeQuantSimulation.Run(converted.IntModel!, SharedMnist.Test));
    }

    [Fact]
    public void Slow_qat_at_8_bits_with_fixed_point_m_reaches_98_percent()
    {
        var trained = models["8-bit fixed-point"];
        Describe("8-bit, trained and converted with fixed-point M (P = 31)", trained);
        Assert.True(trained.TestAccuracy >= 0.980, $"accuracy {trained.TestAccuracy}");
        Assert.Equal(trained.TestAccuracy, QatConversion.Run(trained.Model, SharedMnist.Test).Accuracy);

        // The seed's §3.1 route: the float-M QAT model, converted with M as a fixed-point number.
        var seedRoute = QatConversion.Run(models["8-bit"].Model, SharedMnist.Test, RequantSpec.FixedPoint());
        output.WriteLine($"QAT 8-bit (float M) converted with fixed-point M: {seedRoute.Accuracy * 100:F2}% (seed 98.14 %)");
        Assert.True(seedRoute.Accuracy >= 0.980, $"accuracy {seedRoute.Accuracy}");
    }

    /// <remarks>At 2 bits the margin is thin (measured: QAT 14.75 %, PTQ 9.80 %, PTQ collapsed to one class
    /// under floor rounding); README.md ("Quantization-aware training") states the figures and the caveat.</remarks>
    [Theory]
    [InlineData(4)]
    [InlineData(2)]
    public void Slow_qat_beats_ptq_of_the_same_fp32_training_at_low_bit_widths(int bits)
    {
        var (fp32, seconds) = models.Fp32;
        var config = QuantizationConfig.Default with { WeightBits = bits, ActBits = bits };
        var ptq = QuantizeJob.Run(fp32, config, SharedMnist.Train, SharedMnist.Test);
        var qat = models[$"{bits}-bit"];
        output.WriteLine($"FP32 (2 epochs, seed 1): {fp32.Manifest.TestAccuracy * 100:F2}% in {seconds:F1} s; PTQ {bits}-bit: {ptq.Accuracy * 100:F2}%");
        Describe($"{bits}-bit", qat);
        Assert.True(qat.TestAccuracy > ptq.Accuracy, $"QAT {qat.TestAccuracy} vs PTQ {ptq.Accuracy}");
    }
}
