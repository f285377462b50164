using System.CommandLine;
using QuantLab.Engine.Model;
using QuantLab.Engine.Training;

namespace QuantLab.Host.Cli;

/// <summary><c>quantlab train</c>: one FP32 training job by hand, the seed's §1.3 by default.</summary>
public static class TrainCommand
{
    public static Command Create(Func<CliContext> context)
    {
        var defaults = new TrainOptions();
        var output = new Option<string>("--out") { Description = "Directory to write the trained model to (model.json + one .npy per parameter)", Required = true };
        var bias = new Option<bool>("--bias") { Description = "Train LeNet-5 with bias (the seed's §2.5 model)" };
        var epochs = new Option<int>("--epochs") { Description = "Passes over the training set", DefaultValueFactory = _ => defaults.Epochs };
        var batchSize = new Option<int>("--batch-size") { Description = "Mini-batch size", DefaultValueFactory = _ => defaults.BatchSize };
        var lr = new Option<double>("--lr") { Description = "SGD learning rate", DefaultValueFactory = _ => defaults.Lr };
        var momentum = new Option<double>("--momentum") { Description = "SGD momentum", DefaultValueFactory = _ => defaults.Momentum };
        var seed = new Option<int>("--seed") { Description = "Seed of the initial weights and of the shuffling", DefaultValueFactory = _ => defaults.Seed };
        var trainLimit = new Option<int?>("--train-limit") { Description = "Train on the first N training images only" };
        var threads = new Option<int?>("--threads") { Description = "TorchSharp threads (default: QuantLab:Training:Threads, 1); the same seed and thread count give the same weights" };
        var data = DataCommand.DataDirOption();
        var transform = DataCommand.InputTransformOption();
        var json = new Option<bool>("--json") { Description = "Print one JSON document (accuracy as a fraction, epochs, seconds, …); progress goes to stderr" };

        var command = new Command("train", "Train LeNet-5 in FP32 (the seed's §1.3: SGD lr 0.001, momentum 0.9, mini-batch 4, 2 epochs)")
        {
            output, bias, epochs, batchSize, lr, momentum, seed, trainLimit, threads, data, transform, json,
        };
        command.SetAction((parse, cancel) =>
        {
            var ctx = context();
            var options = new TrainOptions
            {
                Bias = parse.GetValue(bias),
                Epochs = parse.GetValue(epochs),
                BatchSize = parse.GetValue(batchSize),
                Lr = parse.GetValue(lr),
                Momentum = parse.GetValue(momentum),
                Seed = parse.GetValue(seed),
                TrainLimit = parse.GetValue(trainLimit),
                Threads = parse.GetValue(threads) ?? ctx.Options.Training.Threads,
            };
            options.Validate();
            bool asJson = parse.GetValue(json);
            var progress = ctx.Progress(asJson);
            var outDir = parse.GetValue(output)!;
            DataCommand.EnsureWritableParent(outDir);
            var dataset = DataAccess.Load(ctx, parse.GetValue(data), parse.GetValue(transform), ctx.Err.WriteLine);

            var result = Trainer.Train(options, dataset.Train, dataset.Test, progress, cancel);
            progress("Finished Training");
            progress($"Accuracy of the network on the test images: {result.TestAccuracy * 100:F2}%");
            var manifest = new ModelManifest
            {
                InputTransform = dataset.Transform,
                TestAccuracy = result.TestAccuracy,
                Training = new TrainingRecord(options.Epochs, options.BatchSize, options.Lr, options.Momentum, options.Seed,
                    options.TrainLimit, options.Threads, result.Seconds),
            };
            Fp32Model.FromModule(result.Model, manifest).Save(outDir);
            result.Model.Dispose();
            if (asJson)
            {
                ctx.WriteJson(new
                {
                    accuracy = result.TestAccuracy,
                    epochs = options.Epochs,
                    seconds = result.Seconds,
                    epochAccuracies = result.Epochs.Select(e => e.TestAccuracy),
                    bias = options.Bias,
                    seed = options.Seed,
                    threads = options.Threads,
                    inputTransform = dataset.Transform,
                    @out = Path.GetFullPath(outDir),
                });
            }
            else
            {
                ctx.Out.WriteLine($"Model written to {Path.GetFullPath(outDir)} ({result.Seconds:F1} s)");
            }
            return Task.FromResult(0);
        });
        return command;
    }
}
