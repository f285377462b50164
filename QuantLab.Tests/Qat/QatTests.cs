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

/// <summary>Small QAT models trained once per test run (1 epoch on 4,000 images).</summary>
public static class SharedQatModels
{
    private static readonly Lazy<QatTrainer.Result> FloatM = new(() => Train(QuantizationConfig.Default, bias: false));
    private static readonly Lazy<QatTrainer.Result> FixedBias = new(() => Train(QuantizationConfig.Default with
    {
        Requant = RequantSpec.FixedPoint(), Bias = BiasMode.Int32, Granularity = Granularity.Channel, Rounding = RoundingMode.HalfAway,
    }, bias: true));

    /// <summary>The seed's QAT setting (8-bit, floor, minmax, per tensor, float M), no bias.</summary>
    public static QatTrainer.Result Seed => FloatM.Value;
    /// <summary>Fixed-point M, int32 bias, per-channel weights, half-away rounding.</summary>
    public static QatTrainer.Result FixedPointWithBias => FixedBias.Value;

    public static QatTrainer.Result Train(QuantizationConfig config, bool bias, int limit = 4000, int seed = 5, int epochs = 1)
    {
        lock (TorchThreads.Gate)
            return QatTrainer.Train(new QatOptions { Config = config }, new TrainOptions { Bias = bias, Epochs = epochs, TrainLimit = limit, Seed = seed },
                SharedMnist.Train, SharedMnist.Test);
    }
}

public sealed class QatTests(ITestOutputHelper output)
{
    [Fact]
    public void A_short_qat_run_learns_and_reports_the_integer_accuracy()
    {
        var r = SharedQatModels.Seed;
        output.WriteLine($"QAT 1 epoch / 4000 images: integer {r.TestAccuracy:P2}, float weights {r.Fp32Accuracy:P2}, {r.Seconds:F1} s; " +
                         $"float32 forward vs exact: {r.Float32.PredictionMismatches} predictions, {r.Float32.LogitMismatches} logits of {r.Float32.Count}");
        Assert.True(r.TestAccuracy > 0.7, $"accuracy {r.TestAccuracy}");
        Assert.Equal(r.TestAccuracy, QatTrainer.IntegerAccuracy(r.Model, SharedMnist.Test));
    }
}
