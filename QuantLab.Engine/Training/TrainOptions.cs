namespace QuantLab.Engine.Training;

/// <summary>FP32 training settings; the defaults are the seed's (§1.3): SGD lr 0.001, momentum 0.9,
/// mini-batch 4, 2 epochs, the loss printed every 2,000 mini-batches.</summary>
public sealed record TrainOptions
{
    public bool Bias { get; init; }
    public int Epochs { get; init; } = 2;
    public int BatchSize { get; init; } = 4;
    public double Lr { get; init; } = 0.001;
    public double Momentum { get; init; } = 0.9;
    public int Seed { get; init; } = 1;
    /// <summary>Use only the first N training images (null: all 60,000).</summary>
    public int? TrainLimit { get; init; }
    /// <summary>TorchSharp intra-op threads; the same count and seed give the same weights.</summary>
    public int Threads { get; init; } = 1;
    public int LogEvery { get; init; } = 2000;

    public void Validate()
    {
        if (Epochs < 1) throw new BadInputException($"--epochs must be at least 1 (got {Epochs})");
        if (BatchSize < 1) throw new BadInputException($"--batch-size must be at least 1 (got {BatchSize})");
        if (!(Lr > 0) || double.IsInfinity(Lr)) throw new BadInputException($"--lr must be a positive number (got {Lr})");
        if (Momentum is < 0 or >= 1) throw new BadInputException($"--momentum must be in [0, 1) (got {Momentum})");
        if (TrainLimit is < 1) throw new BadInputException($"--train-limit must be at least 1 (got {TrainLimit})");
        if (Threads < 1) throw new BadInputException($"--threads must be at least 1 (got {Threads})");
        if (LogEvery < 1) throw new BadInputException($"the loss interval must be at least 1 (got {LogEvery})");
    }
}

public sealed record EpochResult(int Epoch, double TestAccuracy, double MeanLoss);

/// <summary>Training diverged (NaN or infinite loss): a property of the configuration, not an infrastructure fault.</summary>
public sealed class TrainingDivergedException(string message) : Exception(message);
