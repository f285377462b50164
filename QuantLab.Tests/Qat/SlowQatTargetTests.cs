using QuantLab.Engine.Model;
using QuantLab.Engine.Ptq;
using QuantLab.Engine.Qat;
using QuantLab.Engine.Quantization;
using QuantLab.Engine.Training;
using QuantLab.Tests.Engine;
using Xunit.Abstractions;

namespace QuantLab.Tests.Qat;

/// <summary>
/// The full trainings behind issue 4's targets, once per run: the seed's FP32 model (2 epochs, mini-batch 4, seed 1)
/// and QAT runs with the same data, epochs and seed — 8-bit with float M, 8-bit with fixed-point M, 4-bit, 2-bit —
/// in the seed's QAT setting otherwise (floor, minmax, per tensor, no bias). The first test that needs one trains all
/// five, two at a time, each on one intra-op thread, as <c>run --workers 2</c> does (concurrent trainings give
/// bit-identical weights: <see cref="Training.SeededInitTests"/>), holding the gate so that no other test changes the
/// thread count meanwhile. One after another, each taking the gate in turn, this class spanned 15–17 minutes of
/// 31–32-minute runs of the suite on a 2-core AMD EPYC, every other torch test waiting behind it; two at a time the five
/// took 6.6 minutes, with the same figures as one after another (FP32 98.66 %, QAT 4-bit 96.32 %, 2-bit 15.71 %).
/// </summary>
public sealed class QatTargetModels
{
    private readonly Lazy<Trained> _trained = new(Train);

    private sealed record Trained((Fp32Model Model, double Seconds) Fp32, IReadOnlyDictionary<string, QatTrainer.Result> Qat);

    private static Trained Train()
    {
        var seed = QuantizationConfig.Default;
        var configs = new Dictionary<string, QuantizationConfig>
        {
            ["8-bit"] = seed,
            ["8-bit fixed-point"] = seed with { Requant = RequantSpec.FixedPoint() },
            ["4-bit"] = seed with { WeightBits = 4, ActBits = 4 },
            ["2-bit"] = seed with { WeightBits = 2, ActBits = 2 },
        };
        (Fp32Model, double) fp32 = default;
        var qat = new System.Collections.Concurrent.ConcurrentDictionary<string, QatTrainer.Result>();
        var trainings = configs.Select(c => (Action)(() =>
            qat[c.Key] = QatTrainer.Train(new QatOptions { Config = c.Value }, new TrainOptions(), SharedMnist.Train, SharedMnist.Test)))
            .Prepend(() =>
            {
                var r = Trainer.Train(new TrainOptions(), SharedMnist.Train, SharedMnist.Test);
                using var module = r.Model;
                fp32 = (Fp32Model.FromModule(module, new ModelManifest { TestAccuracy = r.TestAccuracy }), r.Seconds);
            })
            .ToArray();
        lock (TorchThreads.Gate)
            Parallel.Invoke(new ParallelOptions { MaxDegreeOfParallelism = 2 }, trainings);
        return new Trained(fp32, qat);
    }

    public (Fp32Model Model, double Seconds) Fp32 => _trained.Value.Fp32;
    public QatTrainer.Result this[string name] => _trained.Value.Qat[name];
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
