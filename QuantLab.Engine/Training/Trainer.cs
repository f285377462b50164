using System.Diagnostics;
using QuantLab.Engine.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace QuantLab.Engine.Training;

/// <summary>FP32 training of LeNet-5 as the seed does it: SGD with momentum, cross-entropy, shuffled
/// mini-batches, the test accuracy after every epoch.</summary>
public static class Trainer
{
    public sealed record Result(LeNet5 Model, IReadOnlyList<EpochResult> Epochs, double Seconds)
    {
        public double TestAccuracy => Epochs[^1].TestAccuracy;
    }

    /// <param name="log">Receives the seed-format progress lines (<c>[1, 2000] loss: 0.379</c>, then the
    /// epoch's test accuracy in percent).</param>
    public static Result Train(TrainOptions options, LabeledImages train, LabeledImages test,
        Action<string>? log = null, CancellationToken cancel = default)
    {
        options.Validate();
        TorchRuntime.SetThreads(options.Threads);
        var watch = Stopwatch.StartNew();
        if (options.TrainLimit is { } limit) train = train.Take(limit);

        var model = SeededModel(options.Bias, options.Seed);
        var epochs = Fit(model, model.forward, options, train, () => Evaluation.Accuracy(model, test), null, log, cancel);
        return new Result(model, epochs, watch.Elapsed.TotalSeconds);
    }

    /// <summary>A LeNet-5 whose initial weights come from <paramref name="seed"/> alone (<see cref="LeNet5.Seeded"/>),
    /// or <paramref name="from"/>'s weights.</summary>
    internal static LeNet5 SeededModel(bool bias, int seed, Fp32Model? from = null) =>
        from is null ? LeNet5.Seeded(bias, seed) : from.ToModule();

    /// <summary>
    /// The seed's training loop, shared by FP32 training and QAT: SGD over <paramref name="model"/>'s
    /// parameters with the loss of <paramref name="forward"/>, mini-batches in the order of a
    /// <see cref="DeterministicShuffle"/> seeded with <see cref="TrainOptions.Seed"/>.
    /// </summary>
    /// <param name="beforeStep">Called before every mini-batch with (step, total steps), steps counted from 0
    /// over all epochs (QAT freezes its activation ranges from it).</param>
    /// <param name="evaluate">The test accuracy after an epoch.</param>
    /// <param name="extra">Parameters trained with the model's, by the same SGD (LSQ's steps).</param>
    /// <param name="afterStep">Called after every optimizer step (LSQ keeps its steps positive there).</param>
    internal static List<EpochResult> Fit(LeNet5 model, Func<Tensor, Tensor> forward, TrainOptions options, LabeledImages train,
        Func<double> evaluate, Action<long, long>? beforeStep, Action<string>? log, CancellationToken cancel, IEnumerable<TorchSharp.Modules.Parameter>? extra = null,
        Action? afterStep = null)
    {
        using var optimizer = new MomentumSgd(model.parameters().Concat(extra ?? []), options.Lr, options.Momentum);
        using var criterion = nn.CrossEntropyLoss();
        using var images = train.ImagesTensor();
        using var labels = train.LabelsTensor();
        var shuffle = new DeterministicShuffle((ulong)options.Seed);
        var epochs = new List<EpochResult>();
        int batches = (train.Count + options.BatchSize - 1) / options.BatchSize;
        long totalSteps = (long)batches * options.Epochs;

        for (int epoch = 1; epoch <= options.Epochs; epoch++)
        {
            model.train();
            var order = shuffle.Permutation(train.Count);
            double running = 0, total = 0;
            for (int b = 0; b < batches; b++)
            {
                cancel.ThrowIfCancellationRequested();
                beforeStep?.Invoke((long)(epoch - 1) * batches + b, totalSteps);
                using var scope = NewDisposeScope();
                var slice = order.AsSpan(b * options.BatchSize, Math.Min(options.BatchSize, train.Count - b * options.BatchSize));
                var index = tensor(slice.ToArray().Select(i => (long)i).ToArray());
                optimizer.ZeroGrad();
                var loss = criterion.forward(forward(images.index_select(0, index)), labels.index_select(0, index));
                loss.backward();
                optimizer.Step();
                afterStep?.Invoke();
                double value = loss.item<float>();
                if (!double.IsFinite(value))
                    throw new TrainingDivergedException($"training diverged: loss is {value} at epoch {epoch}, mini-batch {b + 1} (lr {options.Lr}, momentum {options.Momentum})");
                running += value;
                total += value;
                if ((b + 1) % options.LogEvery == 0)
                {
                    log?.Invoke($"[{epoch}, {b + 1}] loss: {running / options.LogEvery:F3}");
                    running = 0;
                }
            }
            double accuracy = evaluate();
            log?.Invoke($"{accuracy * 100:F2}");
            epochs.Add(new EpochResult(epoch, accuracy, total / batches));
        }
        return epochs;
    }
}
