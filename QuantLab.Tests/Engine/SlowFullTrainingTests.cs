using QuantLab.Engine.Model;
using QuantLab.Engine.Ptq;
using QuantLab.Engine.Quantization;
using QuantLab.Engine.Training;
using Xunit.Abstractions;

namespace QuantLab.Tests.Engine;

/// <summary>Trains the seed's two models in full (2 epochs, mini-batch 4; about a minute each).</summary>
public sealed class SeedModels
{
    public SeedModels()
    {
        lock (TorchThreads.Gate)
        {
            NoBias = Train(bias: false);
            WithBias = Train(bias: true);
        }
    }

    public (Fp32Model Model, Trainer.Result Result) NoBias { get; }
    public (Fp32Model Model, Trainer.Result Result) WithBias { get; }

    private static (Fp32Model, Trainer.Result) Train(bool bias)
    {
        var result = Trainer.Train(new TrainOptions { Bias = bias }, SharedMnist.Train, SharedMnist.Test);
        using var module = result.Model;
        return (Fp32Model.FromModule(module, new ModelManifest { TestAccuracy = result.TestAccuracy }), result);
    }
}

/// <summary>The long checks: the full 2-epoch training of the seed (§1.3) and the PTQ accuracy targets
/// on the resulting models (§2.2, §2.4, §2.5).</summary>
public sealed class SlowFullTrainingTests(SeedModels models, ITestOutputHelper output) : IClassFixture<SeedModels>
{
    [Fact]
    public void Slow_the_seeds_fp32_training_reaches_98_3_percent_in_two_epochs()
    {
        var (_, result) = models.NoBias;
        output.WriteLine($"FP32 (no bias): {result.TestAccuracy * 100:F2}% after epochs {string.Join(", ", result.Epochs.Select(e => $"{e.TestAccuracy * 100:F2}"))} in {result.Seconds:F1} s");
        Assert.True(result.TestAccuracy >= 0.983, $"accuracy {result.TestAccuracy}");
        Assert.Equal(2, result.Epochs.Count);
    }

    [Fact]
    public void Slow_ptq_at_8_bits_stays_within_the_targets_of_fp32()
    {
        var seedConfig = QuantizationConfig.Default; // 8/8 bits, min/max, per tensor, floor, float M
        var (model, trained) = models.NoBias;

        var weightsOnly = QuantizeJob.Run(model, seedConfig with { Scope = QuantScope.Weights }, SharedMnist.Train, SharedMnist.Test);
        var all = QuantizeJob.Run(model, seedConfig, SharedMnist.Train, SharedMnist.Test);
        var (biasModel, biasTrained) = models.WithBias;
        var withBias = QuantizeJob.Run(biasModel, seedConfig with { Bias = BiasMode.Int32 }, SharedMnist.Train, SharedMnist.Test);

        output.WriteLine($"§2.2 weights only, 8-bit: {weightsOnly.Accuracy * 100:F2}% (FP32 {weightsOnly.Fp32Accuracy * 100:F2}%; seed 98.67%)");
        output.WriteLine($"§2.4 weights + activations, 8-bit: {all.Accuracy * 100:F2}% (seed 98.69%)");
        output.WriteLine($"§2.5 with bias, FP32 {withBias.Fp32Accuracy * 100:F2}% (seed 97.77%), int32 bias: {withBias.Accuracy * 100:F2}% (seed 97.77%)");

        Assert.Equal(trained.TestAccuracy, weightsOnly.Fp32Accuracy, 9);
        Assert.Equal(biasTrained.TestAccuracy, withBias.Fp32Accuracy, 9);
        Assert.True(Math.Abs(weightsOnly.Accuracy - weightsOnly.Fp32Accuracy) <= 0.003, $"weights-only {weightsOnly.Accuracy} vs {weightsOnly.Fp32Accuracy}");
        Assert.True(Math.Abs(all.Accuracy - all.Fp32Accuracy) <= 0.005, $"all {all.Accuracy} vs {all.Fp32Accuracy}");
        Assert.True(Math.Abs(withBias.Accuracy - withBias.Fp32Accuracy) <= 0.003, $"bias int32 {withBias.Accuracy} vs {withBias.Fp32Accuracy}");
    }
}
