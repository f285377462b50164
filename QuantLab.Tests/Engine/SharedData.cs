using QuantLab.Engine.Data;
using QuantLab.Engine.Model;
using QuantLab.Engine.Training;

namespace QuantLab.Tests.Engine;

/// <summary>The real MNIST (through the normal acquisition order), loaded once per test run.</summary>
public static class SharedMnist
{
    private static readonly Lazy<(LabeledImages Train, LabeledImages Test)> Data = new(() =>
        MnistImages.Load(MnistAcquirer.FromOptions(new MnistDataOptions()).Acquire(), InputTransform.Resize));

    public static LabeledImages Train => Data.Value.Train;
    public static LabeledImages Test => Data.Value.Test;
    public static LabeledImages TestSubset(int count) => Test.Take(count);
}

/// <summary>Small models trained once per test run (seconds, not minutes): good enough to have
/// realistic weight and activation distributions for the numeric tests.</summary>
public static class SharedModels
{
    private static readonly Lazy<Fp32Model> QuickBiasModel = new(() => Train(bias: true, seed: 3));
    private static readonly Lazy<Fp32Model> QuickModel = new(() => Train(bias: false, seed: 4));

    /// <summary>LeNet-5 with bias, 1 epoch on 4,000 images.</summary>
    public static Fp32Model QuickBias => QuickBiasModel.Value;
    /// <summary>LeNet-5 without bias, 1 epoch on 4,000 images.</summary>
    public static Fp32Model Quick => QuickModel.Value;

    private static Fp32Model Train(bool bias, int seed)
    {
        lock (TorchThreads.Gate)
        {
            var result = Trainer.Train(new TrainOptions { Bias = bias, Seed = seed, Epochs = 1, TrainLimit = 4000 }, SharedMnist.Train, SharedMnist.Test);
            using var module = result.Model;
            return Fp32Model.FromModule(module, new ModelManifest { TestAccuracy = result.TestAccuracy });
        }
    }
}

/// <summary>TorchSharp's thread count is process-wide; whatever trains (and relies on a fixed count
/// for determinism) holds this lock.</summary>
public static class TorchThreads
{
    public static readonly Lock Gate = new();
}
