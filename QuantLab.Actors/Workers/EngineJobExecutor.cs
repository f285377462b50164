using System.Globalization;
using System.Text.Json;
using QuantLab.Actors.Messages;
using QuantLab.Actors.Planning;
using QuantLab.Actors.Storage;
using QuantLab.Engine;
using QuantLab.Engine.Calibration;
using QuantLab.Engine.Model;
using QuantLab.Engine.Ptq;
using QuantLab.Engine.Qat;
using QuantLab.Engine.Quantization;
using QuantLab.Engine.Training;

namespace QuantLab.Actors.Workers;

/// <param name="TorchThreads">TorchSharp's intra-op threads while a job runs (process-wide). Kept small so
/// the actor threads (heartbeats, gossip) always get a core; 1 also makes trainings reproducible.</param>
/// <param name="IntegerThreads">Threads of the integer engine per evaluation (0: all cores).</param>
public sealed record EngineExecutorOptions(int TorchThreads = 1, int IntegerThreads = 1);

/// <summary>
/// Runs campaign jobs with the engine functions the CLI verbs call: <c>train</c> → <see cref="Trainer.Train"/>
/// (as <c>quantlab train</c>), <c>calibrate</c> → <see cref="Calibrator.Calibrate"/>, <c>evaluate</c> →
/// <see cref="QuantizeJob.Evaluate"/> (the second half of <c>quantlab quantize</c>). Models and ranges travel
/// as artifacts (<see cref="EngineArtifacts"/>). A diverged training or a configuration the engine rejects is
/// the configuration's result (not retried); anything else thrown is an infrastructure failure (retried).
/// </summary>
public sealed class EngineJobExecutor(MnistProvider data, EngineExecutorOptions? options = null) : IJobExecutor
{
    private readonly EngineExecutorOptions _options = options ?? new EngineExecutorOptions();

    public JobOutcome Execute(JobDescriptor job, IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> upstream, IArtifactStore artifacts, CancellationToken ct)
    {
        TorchRuntime.SetThreads(_options.TorchThreads);
        var p = job.ParametersElement();
        try
        {
            return job.Kind switch
            {
                JobKind.Train when p.TryGetProperty("qat", out var qat) => QatTrain(p, qat, artifacts, ct),
                JobKind.Train => Train(p, artifacts, ct),
                JobKind.Calibrate => Calibrate(p, artifacts.GetModelOf(upstream, job.Upstream[0]), artifacts),
                JobKind.Evaluate when Str(p, "method") == "qat" => QatEvaluate(p, EngineArtifacts.GetQatModel(
                    upstream.TryGetValue(job.Upstream[0], out var a) ? a : throw new InfrastructureException($"no artifacts of upstream job {job.Upstream[0]}"), artifacts)),
                JobKind.Evaluate => Evaluate(p, artifacts.GetModelOf(upstream, job.Upstream[0]),
                    EngineArtifacts.GetRanges(upstream[job.Upstream[1]], artifacts)),
                _ => throw new ArgumentOutOfRangeException(nameof(job), job.Kind, "unknown job kind"),
            };
        }
        catch (TrainingDivergedException e)
        {
            return JobOutcome.ConfigurationFailure(e.Message);
        }
        catch (BadInputException e)   // the engine rejects the configuration (e.g. ranges of a diverged model)
        {
            return JobOutcome.ConfigurationFailure(e.Message);
        }
    }

    private JobOutcome Train(JsonElement p, IArtifactStore artifacts, CancellationToken ct)
    {
        var (train, test) = Data(p);
        var options = TrainOptionsOf(p);
        var result = Trainer.Train(options, train, test, log: null, ct);
        using var module = result.Model;
        var predictions = Evaluation.Predict(module, test);
        // Seconds 0 in the stored model.json: the same training gives the same blobs (the duration is in the result).
        var manifest = new ModelManifest
        {
            InputTransform = Str(p, "inputTransform"),
            TestAccuracy = result.TestAccuracy,
            Training = new TrainingRecord(options.Epochs, options.BatchSize, options.Lr, options.Momentum, options.Seed, options.TrainLimit, options.Threads, 0),
        };
        var model = Fp32Model.FromModule(module, manifest);
        var numbers = new Dictionary<string, double>
        {
            ["accuracy"] = result.TestAccuracy,
            ["finalLoss"] = result.Epochs[^1].MeanLoss,
            ["trainSeconds"] = result.Seconds,
            ["testImages"] = test.Count,
        };
        AddPerClass(numbers, QuantizeJob.PerClass(predictions, test.Labels));
        return JobOutcome.Success(Metrics(numbers, new() { ["predictionsSha256"] = Engine.Export.IntExport.PredictionsHash(predictions) }),
            EngineArtifacts.PutModel(model, artifacts));
    }

    private JobOutcome Calibrate(JsonElement p, Fp32Model model, IArtifactStore artifacts)
    {
        var config = Config(p, model.HasBias, forCalibration: true);
        CalibrationResult ranges;
        if (p.TryGetProperty("actRange", out _))
        {
            var (train, _) = Data(p);
            ranges = Calibrator.Calibrate(model, Calibrator.Sample(train, p.GetProperty("calibration").GetInt32()), config);
        }
        else   // scope weights: the activations are not quantized, so only weight ranges are needed
        {
            ranges = new CalibrationResult(
                ActivationPoints.WeightLayers.ToDictionary(l => l, l => Calibrator.WeightRanges(model.Layer(l).Weight, config.WeightRange, config.WeightBits, config.Rounding, config.Granularity)),
                new Dictionary<string, ObservedRange>(), 0);
        }
        var numbers = new Dictionary<string, double> { ["calibrationImages"] = ranges.CalibrationImages };
        foreach (var (point, range) in ranges.Activations) numbers[$"threshold.{point}"] = range.Threshold;
        return JobOutcome.Success(Metrics(numbers, []), new Dictionary<string, string> { [EngineArtifacts.Ranges] = EngineArtifacts.PutRanges(ranges, artifacts) });
    }

    private JobOutcome Evaluate(JsonElement p, Fp32Model model, CalibrationResult ranges)
    {
        var (_, test) = Data(p);
        var config = Config(p, model.HasBias, forCalibration: false);
        var result = QuantizeJob.Evaluate(model, config, ranges, test, _options.IntegerThreads);
        var numbers = EvaluationNumbers(result, test.Count);
        foreach (var layer in ActivationPoints.WeightLayers)
            numbers[$"weightSqnrDb.{layer}"] = WeightSqnrDb(model.Layer(layer).Weight, ranges.Weights[layer], config);
        return JobOutcome.Success(Metrics(numbers, new() { ["predictionsSha256"] = result.PredictionsSha256 }));
    }

    // ---- QAT ---------------------------------------------------------------------------------------------

    /// <summary>A <c>train</c> job with a <c>qat</c> object: <see cref="QatTrainer.Train"/>, as <c>quantlab train --qat</c>.
    /// Its reported accuracy is the integer engine's on the converted model.</summary>
    private JobOutcome QatTrain(JsonElement p, JsonElement qat, IArtifactStore artifacts, CancellationToken ct)
    {
        var (train, test) = Data(p);
        var options = TrainOptionsOf(p);
        var qatOptions = new QatOptions { Config = Config(qat, options.Bias, forCalibration: false) };
        var result = QatTrainer.Train(qatOptions, options, train, test, log: null, cancel: ct);
        var numbers = new Dictionary<string, double>
        {
            ["accuracy"] = result.TestAccuracy,
            ["fp32Accuracy"] = result.Fp32Accuracy,
            ["finalLoss"] = result.Epochs[^1].MeanLoss,
            ["trainSeconds"] = result.Seconds,
            ["testImages"] = test.Count,
            ["float32PredictionMismatches"] = result.Float32.PredictionMismatches,
        };
        return JobOutcome.Success(Metrics(numbers, []), EngineArtifacts.PutQatModel(result.Model, artifacts));
    }

    /// <summary>The evaluate job of a QAT model: conversion with its learned ranges (no calibrate job), as
    /// <c>quantlab quantize --model QATDIR</c>.</summary>
    private JobOutcome QatEvaluate(JsonElement p, QatModel model)
    {
        var (_, test) = Data(p);
        var requant = p.TryGetProperty("requant", out var r) ? RequantSpec.Parse(r.GetString()) : null;
        var result = QatConversion.Run(model, test, requant, _options.IntegerThreads);
        return JobOutcome.Success(Metrics(EvaluationNumbers(result, test.Count), new() { ["predictionsSha256"] = result.PredictionsSha256 }));
    }

    // ---- helpers -------------------------------------------------------------------------------------

    private TrainOptions TrainOptionsOf(JsonElement p) => new()
    {
        Bias = p.GetProperty("bias").GetBoolean(),
        Epochs = p.GetProperty("epochs").GetInt32(),
        BatchSize = p.GetProperty("batchSize").GetInt32(),
        Lr = p.GetProperty("lr").GetDouble(),
        Momentum = p.GetProperty("momentum").GetDouble(),
        Seed = p.GetProperty("seed").GetInt32(),
        TrainLimit = p.TryGetProperty("trainLimit", out var limit) ? limit.GetInt32() : null,
        Threads = _options.TorchThreads,
    };

    private (LabeledImages Train, LabeledImages Test) Data(JsonElement p)
    {
        var (train, test) = data.Get(Str(p, "inputTransform"));
        return (train, p.TryGetProperty("testLimit", out var limit) ? test.Take(limit.GetInt32()) : test);
    }

    /// <summary>The engine configuration the canonical parameters describe; fields a job's parameters leave out
    /// (because its result does not depend on them) take the defaults.</summary>
    private static QuantizationConfig Config(JsonElement p, bool modelHasBias, bool forCalibration)
    {
        string? Opt(string name) => p.TryGetProperty(name, out var v) ? v.ValueKind == JsonValueKind.Number ? v.GetRawText() : v.GetString() : null;
        var d = QuantizationConfig.Default;
        var config = new QuantizationConfig(
            Opt("scope") is { } scope ? QuantScope.Parse(scope) : d.Scope,
            Opt("weightBits") is { } wb ? int.Parse(wb, CultureInfo.InvariantCulture) : d.WeightBits,
            Opt("actBits") is { } ab ? int.Parse(ab, CultureInfo.InvariantCulture) : d.ActBits,
            Opt("weightRange") is { } wr ? RangeMethod.Parse(wr) : d.WeightRange,
            Opt("actRange") is { } ar ? RangeMethod.Parse(ar) : d.ActRange,
            Opt("granularity") is { } g ? Granularity.Parse(g) : d.Granularity,
            Opt("rounding") is { } r ? RoundingMode.Parse(r) : d.Rounding,
            Opt("requant") is { } rq ? RequantSpec.Parse(rq) : d.Requant,
            forCalibration ? BiasMode.None : Opt("bias") is { } b ? BiasMode.Parse(b) : modelHasBias ? BiasMode.Int32 : BiasMode.None);
        return config.Validate();
    }

    /// <summary>10·log10(Σw² / Σ(w − s·q)²) of one layer's weights under the configuration (∞ when exact).</summary>
    private static double WeightSqnrDb(Engine.Export.NpyArray<float> weight, ObservedRange[] ranges, QuantizationConfig config)
    {
        var sw = ranges.Select(r => Quantizer.Step(r.Threshold, config.WeightBits)).ToArray();
        var q = PtqBuilder.QuantizeWeights(weight, sw, config.WeightBits, config.Rounding);
        int per = weight.Data.Length / weight.Shape[0];
        double signal = 0, noise = 0;
        for (int i = 0; i < q.Length; i++)
        {
            double w = weight.Data[i], e = w - q[i] * (sw.Length == 1 ? sw[0] : sw[i / per]);
            signal += w * w;
            noise += e * e;
        }
        return noise == 0 ? double.PositiveInfinity : 10 * Math.Log10(signal / noise);
    }

    /// <summary>What every evaluation reports, PTQ or QAT: accuracy, the FP32 model's, agreement with it, per class.</summary>
    private static Dictionary<string, double> EvaluationNumbers(QuantizeResult result, int testImages)
    {
        var numbers = new Dictionary<string, double>
        {
            ["accuracy"] = result.Accuracy,
            ["fp32Accuracy"] = result.Fp32Accuracy,
            ["agreement"] = result.Agreement,
            ["testImages"] = testImages,
        };
        AddPerClass(numbers, result.PerClassAccuracy);
        return numbers;
    }

    private static void AddPerClass(Dictionary<string, double> numbers, double[] perClass)
    {
        for (int c = 0; c < perClass.Length; c++) numbers[$"perClassAccuracy.{c}"] = perClass[c];
    }

    private static JobMetrics Metrics(Dictionary<string, double> numbers, Dictionary<string, string> text)
    {
        text["engineVersion"] = EngineInfo.Version;
        return new JobMetrics(numbers, text);
    }

    private static string Str(JsonElement p, string name) => p.TryGetProperty(name, out var v) ? v.GetString() ?? "" : "";
}

internal static class ArtifactStoreModelExtensions
{
    public static Fp32Model GetModelOf(this IArtifactStore store, IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> upstream, string key) =>
        EngineArtifacts.GetModel(upstream.TryGetValue(key, out var a) ? a : throw new InfrastructureException($"no artifacts of upstream job {key}"), store);
}
