using System.Diagnostics;
using QuantLab.Engine.Int;
using QuantLab.Engine.Model;
using QuantLab.Engine.Ptq;
using QuantLab.Engine.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace QuantLab.Engine.Qat;

/// <summary>
/// How far the float32 training-time fake-quant forward is from the exact (integer) model on a set of
/// images: predictions and logits that differ. The exact model is what every accuracy reports; this
/// measures the approximation the training gradient sees.
/// </summary>
public sealed record Float32Agreement(int Count, int PredictionMismatches, int LogitMismatches);

/// <summary>
/// Quantization-aware training of LeNet-5 (seed §3.1): the seed's SGD loop (<see cref="Trainer"/>) over the
/// fake-quantized forward of <see cref="QatNetwork"/>, from scratch or from an FP32 model, with the
/// activation-range schedule of <see cref="QatOptions"/>. After every epoch the model is converted to the
/// integer engine and evaluated exactly: the accuracy reported is the integer accuracy.
/// </summary>
public static class QatTrainer
{
    /// <param name="ActivationUpdates">Per activation point, the mini-batches that moved its threshold (the steps before the freeze).</param>
    public sealed record Result(QatModel Model, IReadOnlyList<EpochResult> Epochs, double Seconds, double Fp32Accuracy,
        double? FromAccuracy, Float32Agreement Float32, IReadOnlyDictionary<string, long> ActivationUpdates)
    {
        /// <summary>The integer model's test accuracy after the last epoch.</summary>
        public double TestAccuracy => Epochs[^1].TestAccuracy;
    }

    /// <param name="from">An FP32 model to fine-tune (its bias setting wins over <see cref="TrainOptions.Bias"/>); null trains from scratch.</param>
    /// <param name="fromPath">Where <paramref name="from"/> was read from (a directory's full path, or a campaign job), recorded in the manifest.</param>
    public static Result Train(QatOptions qat, TrainOptions options, LabeledImages train, LabeledImages test,
        Fp32Model? from = null, string? fromPath = null, Action<string>? log = null, CancellationToken cancel = default)
    {
        options.Validate();
        bool bias = from?.HasBias ?? options.Bias;
        qat.Validate(bias);
        TorchRuntime.SetThreads(options.Threads);
        var watch = Stopwatch.StartNew();
        if (options.TrainLimit is { } limit) train = train.Take(limit);

        using var module = Trainer.SeededModel(bias, options.Seed, from);
        double? fromAccuracy = from is null ? null : Evaluation.Accuracy(module, test);
        var network = new QatNetwork(module, qat);
        long freezeStep = 0, totalSteps = 0;
        var epochs = Trainer.Fit(module, x => network.Forward(x, observe: true), options with { Bias = bias }, train,
            () => IntegerAccuracy(Snapshot(network, null), test),
            (step, total) =>
            {
                totalSteps = total;
                // Under lsq nothing is frozen: the freeze step is the end.
                freezeStep = qat.Method == QatMethod.Lsq ? total : qat.FreezeStep(total);
                if (step == freezeStep) network.FreezeActivationRanges();
            },
            log, cancel, network.ExtraParameters, network.Steps is { } steps ? steps.KeepPositive : null);

        double fp32Accuracy = Evaluation.Accuracy(module, test);
        double seconds = watch.Elapsed.TotalSeconds;
        var manifest = new Partial(
            Schedule(qat, freezeStep, totalSteps),
            new TrainingRecord(options.Epochs, options.BatchSize, options.Lr, options.Momentum, options.Seed, options.TrainLimit, options.Threads, seconds),
            fromPath, epochs[^1].TestAccuracy, fp32Accuracy);
        var model = Snapshot(network, manifest);
        var agreement = CompareFloat32(network, model, test);
        return new Result(model, epochs, seconds, fp32Accuracy, fromAccuracy, agreement,
            network.Activations.ToDictionary(kv => kv.Key, kv => kv.Value.Updates));
    }

    /// <summary>The manifest's record of how the steps were learned; the method only under lsq, so observe models are written as before.</summary>
    private static QatSchedule Schedule(QatOptions qat, long freezeStep, long totalSteps) =>
        new(qat.EmaConstant, qat.FreezeFraction, freezeStep, totalSteps, qat.Method == QatMethod.Observe ? null : qat.Method.ToOption());

    private sealed record Partial(QatSchedule Schedule, TrainingRecord Training, string? From, double TestAccuracy, double Fp32Accuracy);

    /// <summary>The QAT model of the network's current state: its weights, the PTQ observers' thresholds of
    /// those weights (the weight range method, per tensor or channel) or under lsq the thresholds of the
    /// learned weight steps, and the activation thresholds.</summary>
    private static QatModel Snapshot(QatNetwork network, Partial? details)
    {
        var config = network.Config;
        var weights = Fp32Model.FromModule(network.Module, new ModelManifest { TestAccuracy = details?.Fp32Accuracy });
        var weightThresholds = network.Steps?.WeightThresholds() ?? ActivationPoints.WeightLayers.ToDictionary(layer => layer,
            layer => Calibrator.WeightRanges(weights.Layer(layer).Weight, config.WeightRange, config.WeightBits, config.Rounding, config.Granularity)
                .Select(r => r.Threshold).ToArray());
        var manifest = new QatManifest
        {
            Bias = weights.HasBias,
            Quantization = QuantizationSettings.From(config),
            Thresholds = new LearnedThresholds(weightThresholds, network.ActivationThresholds()),
            Qat = details?.Schedule ?? Schedule(network.Options, 0, 0),
            Training = details?.Training,
            From = details?.From,
            TestAccuracy = details?.TestAccuracy,
            Fp32Accuracy = details?.Fp32Accuracy,
        };
        return new QatModel { Manifest = manifest, Weights = weights };
    }

    /// <summary>The integer model's logits on <paramref name="images"/> (N × 10): the exact QAT logits.</summary>
    public static int[] IntegerLogits(QatModel model, LabeledImages images, int threads = 0)
    {
        var intModel = model.ToIntModel();
        return IntegerEngine.Run(intModel, QuantizeJob.QuantizeInputs(intModel, images), threads);
    }

    public static double IntegerAccuracy(QatModel model, LabeledImages images) =>
        Evaluation.Accuracy(IntegerEngine.Predictions(IntegerLogits(model, images), LeNet5Architecture.Classes), images.Labels);

    /// <summary>The float32 fake-quant forward's logits divided by the output step and rounded (its integers), N × 10.</summary>
    public static int[] Float32Logits(QatNetwork network, LabeledImages images, int chunk = 1000)
    {
        double outputStep = Quantization.Quantizer.Step(network.ActivationThresholds()["output"], network.Config.ActBits);
        var logits = new int[images.Count * LeNet5Architecture.Classes];
        using var _ = no_grad();
        using var all = images.ImagesTensor();
        for (int start = 0; start < images.Count; start += chunk)
        {
            using var scope = NewDisposeScope();
            int n = Math.Min(chunk, images.Count - start);
            var values = network.Forward(all.narrow(0, start, n), observe: false).to(float64).data<double>().ToArray();
            for (int i = 0; i < values.Length; i++) logits[start * LeNet5Architecture.Classes + i] = (int)Math.Round(values[i] / outputStep);
        }
        return logits;
    }

    /// <summary>Counts where the float32 training forward and the exact integer model disagree.</summary>
    public static Float32Agreement CompareFloat32(QatNetwork network, QatModel model, LabeledImages images)
    {
        var exact = IntegerLogits(model, images);
        var approx = Float32Logits(network, images);
        var pe = IntegerEngine.Predictions(exact, LeNet5Architecture.Classes);
        var pa = IntegerEngine.Predictions(approx, LeNet5Architecture.Classes);
        return new Float32Agreement(images.Count, pe.Zip(pa).Count(p => p.First != p.Second), exact.Zip(approx).Count(p => p.First != p.Second));
    }
}
