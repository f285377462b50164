using System.CommandLine;
using QuantLab.Engine;
using QuantLab.Engine.Jobs;
using QuantLab.Engine.Model;
using QuantLab.Engine.Qat;
using QuantLab.Engine.Quantization;
using QuantLab.Engine.Training;

namespace QuantLab.Host.Cli;

/// <summary><c>quantlab train</c>: one training job by hand: FP32 (the seed's §1.3) by default, or
/// quantization-aware (<c>--qat</c>, the seed's §3.1), from scratch or from an FP32 model (<c>--from</c>).</summary>
public static class TrainCommand
{
    public static Command Create(Func<CliContext> context)
    {
        var defaults = new TrainOptions();
        var flags = new QuantizationFlags();
        var outOption = new Option<string>("--out") { Description = "Directory to write the trained model to (model.json + one .npy per parameter)", Required = true };
        var bias = new Option<string?>("--bias")
        {
            Description = "Train LeNet-5 with bias (the seed's §2.5 model); with --qat optionally the bias mode: int32 (the default), float, or none (a model without bias)",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var epochs = new Option<int>("--epochs") { Description = "Passes over the training set", DefaultValueFactory = _ => defaults.Epochs };
        var batchSize = new Option<int>("--batch-size") { Description = "Mini-batch size", DefaultValueFactory = _ => defaults.BatchSize };
        var lr = new Option<double>("--lr") { Description = "SGD learning rate", DefaultValueFactory = _ => defaults.Lr };
        var momentum = new Option<double>("--momentum") { Description = "SGD momentum", DefaultValueFactory = _ => defaults.Momentum };
        var seed = new Option<int>("--seed") { Description = "Seed of the initial weights and of the shuffling", DefaultValueFactory = _ => defaults.Seed };
        var trainLimit = new Option<int?>("--train-limit") { Description = "Train on the first N training images only" };
        var threads = new Option<int?>("--threads") { Description = "TorchSharp threads (default: QuantLab:Training:Threads, 1); the same seed and thread count give the same weights" };
        var qat = new Option<bool>("--qat") { Description = "Quantization-aware training for the integer path (the quantization flags say which); writes a quantlab.qat/1 model" };
        var from = new Option<string?>("--from") { Description = "With --qat: start from this FP32 model directory (written by 'quantlab train') instead of random weights" };
        var freeze = new Option<double>("--freeze-fraction") { Description = "With --qat: the last fraction of the mini-batch steps during which activation ranges are frozen", DefaultValueFactory = _ => QatOptions.DefaultFreezeFraction };
        var ema = new Option<double>("--ema-constant") { Description = "With --qat: activation ranges move by T ← (1−c)·T + c·T_batch", DefaultValueFactory = _ => QatOptions.DefaultEmaConstant };
        var method = new Option<string>("--qat-method")
        {
            Description = "With --qat: how the quantizers' steps are found: observe (the default: weight ranges and moving averages of activation ranges) " +
                          "or lsq (every step trained by gradient descent, Esser et al. 2020; by the same SGD and lr as the weights)",
            DefaultValueFactory = _ => QatMethod.Observe.ToOption(),
        };
        var data = DataCommand.DataDirOption();
        var transform = DataCommand.InputTransformOption();
        var json = new Option<bool>("--json") { Description = "Print one JSON document (accuracy as a fraction, epochs, seconds, …); progress goes to stderr" };

        var command = new Command("train", "Train LeNet-5 in FP32 (the seed's §1.3: SGD lr 0.001, momentum 0.9, mini-batch 4, 2 epochs), or quantization-aware with --qat (§3.1)")
        {
            outOption, bias, epochs, batchSize, lr, momentum, seed, trainLimit, threads, qat, from, method, freeze, ema, data, transform, json,
        };
        foreach (var option in flags.AllButBias) command.Add(option);
        command.SetAction((parse, cancel) =>
        {
            var ctx = context();
            bool biasGiven = parse.GetResult(bias) is { Implicit: false };
            BiasMode? biasMode = parse.GetValue(bias) is { } modeText ? BiasMode.Parse(modeText) : null;
            var options = new TrainOptions
            {
                Bias = biasGiven && biasMode != BiasMode.None,
                Epochs = parse.GetValue(epochs),
                BatchSize = parse.GetValue(batchSize),
                Lr = parse.GetValue(lr),
                Momentum = parse.GetValue(momentum),
                Seed = parse.GetValue(seed),
                TrainLimit = parse.GetValue(trainLimit),
                Threads = parse.GetValue(threads) ?? ctx.Options.Training.Threads,
            };
            options.Validate();
            bool isQat = parse.GetValue(qat);
            if (!isQat)
            {
                if (biasMode is not null)
                    throw new BadInputException($"--bias {biasMode.Value.ToOption()} names a bias mode, which only applies with --qat; FP32 training takes --bias alone");
                var qatOnly = flags.Given(parse).Concat(new Option[] { from, method, freeze, ema }.Where(o => parse.GetResult(o) is { Implicit: false }).Select(o => o.Name)).ToList();
                if (qatOnly.Count > 0)
                    throw new BadInputException($"{string.Join(", ", qatOnly)} {(qatOnly.Count == 1 ? "applies" : "apply")} only to quantization-aware training: add --qat (FP32 training has no quantization)");
            }
            bool asJson = parse.GetValue(json);
            var outDir = parse.GetValue(outOption)!;
            DataCommand.EnsureWritableParent(outDir);
            if (isQat)
            {
                var qatMethod = ReadMethod(parse.GetValue(method));
                if (qatMethod == QatMethod.Lsq && new Option[] { freeze, ema }.Where(o => parse.GetResult(o) is { Implicit: false }).Select(o => o.Name).ToList() is { Count: > 0 } schedule)
                    throw new BadInputException($"{string.Join(", ", schedule)} {(schedule.Count == 1 ? "applies" : "apply")} only to --qat-method observe (lsq trains its activation steps; it has no moving averages to freeze)");
                return Task.FromResult(TrainQat(ctx, parse, options, flags, outDir, parse.GetValue(from), qatMethod, parse.GetValue(freeze), parse.GetValue(ema),
                    biasGiven, biasMode, parse.GetValue(data), parse.GetValue(transform), asJson, cancel));
            }

            var progress = ctx.Progress(asJson);
            var dataset = DataAccess.Load(ctx, parse.GetValue(data), parse.GetValue(transform), ctx.Err.WriteLine);
            // The same record and entry point as a campaign's train job.
            var output = JobExecution.Train(new Fp32TrainJob(options, new DataSelection(dataset.Transform)), dataset.Train, dataset.Test, options.Threads, progress, cancel);
            var result = output.Training;
            progress("Finished Training");
            progress($"Accuracy of the network on the test images: {result.TestAccuracy * 100:F2}%");
            output.Model.Save(outDir);
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
                    predictionsSha256 = output.Measurements.Text["predictionsSha256"],
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

    private static QatMethod ReadMethod(string? text)
    {
        try { return QatMethod.Parse(text); }
        catch (BadInputException e) { throw new BadInputException($"--qat-method: {e.Message}", e); }
    }

    private static int TrainQat(CliContext ctx, ParseResult parse, TrainOptions options, QuantizationFlags flags, string outDir, string? fromDir,
        QatMethod method, double freezeFraction, double emaConstant, bool biasGiven, BiasMode? biasMode, string? dataDir, string? transform, bool asJson, CancellationToken cancel)
    {
        // Everything the engine would refuse is refused here, before the data is loaded or a step is taken.
        var start = fromDir is null ? null : QatStart.Load(fromDir, biasGiven && biasMode is null, transform);
        if (start is not null) transform = start.Manifest.InputTransform;
        bool hasBias = start?.HasBias ?? options.Bias;
        var qat = new QatOptions { Config = flags.Read(parse, hasBias, biasMode), FreezeFraction = freezeFraction, EmaConstant = emaConstant, Method = method }.Validate(hasBias);

        var progress = ctx.Progress(asJson);
        var dataset = DataAccess.Load(ctx, dataDir, transform, ctx.Err.WriteLine);
        progress($"QAT{(method == QatMethod.Lsq ? " (lsq)" : "")}: {QuantizationOptions.Describe(qat.Config)}{(start is null ? ", from scratch" : $", from {Path.GetFullPath(fromDir!)}")}");
        // The same record and entry point as a campaign's QAT train job (campaigns train from scratch).
        var job = new QatTrainJob(options with { Bias = hasBias }, qat, new DataSelection(dataset.Transform));
        var output = JobExecution.Train(job, dataset.Train, dataset.Test, options.Threads, start is null ? null : (start, Path.GetFullPath(fromDir!)), progress, cancel);
        var result = output.Training;
        var model = output.Model;
        progress("Finished Training");
        progress($"Accuracy of the integer network on the test images: {result.TestAccuracy * 100:F2}% (float weights without quantization {result.Fp32Accuracy * 100:F2}%)");
        model.Save(outDir);
        if (asJson)
        {
            ctx.WriteJson(new
            {
                accuracy = result.TestAccuracy,
                fp32Accuracy = result.Fp32Accuracy,
                fromAccuracy = result.FromAccuracy,
                epochs = options.Epochs,
                seconds = result.Seconds,
                epochAccuracies = result.Epochs.Select(e => e.TestAccuracy),
                predictionsSha256 = output.PredictionsSha256,
                float32Forward = new
                {
                    count = result.Float32.Count,
                    predictionMismatches = result.Float32.PredictionMismatches,
                    logitMismatches = result.Float32.LogitMismatches,
                },
                quantization = QuantizationSettings.From(qat.Config),
                qat = result.Model.Manifest.Qat,
                bias = hasBias,
                seed = options.Seed,
                threads = options.Threads,
                inputTransform = dataset.Transform,
                from = fromDir is null ? null : Path.GetFullPath(fromDir),
                @out = Path.GetFullPath(outDir),
            });
        }
        else
        {
            ctx.Out.WriteLine($"QAT model written to {Path.GetFullPath(outDir)} ({result.Seconds:F1} s); " +
                              $"float32 training forward differs from the integer model on {result.Float32.PredictionMismatches} of {result.Float32.Count} predictions");
        }
        return 0;
    }
}
