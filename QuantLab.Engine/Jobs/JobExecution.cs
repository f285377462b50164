using System.Globalization;
using QuantLab.Engine.Export;
using QuantLab.Engine.Model;
using QuantLab.Engine.Ptq;
using QuantLab.Engine.Qat;
using QuantLab.Engine.Quantization;
using QuantLab.Engine.Training;

namespace QuantLab.Engine.Jobs;

/// <summary>
/// What a job measured, under the names campaigns record and reports read: numbers (<c>accuracy</c>,
/// <c>fp32Accuracy</c>, <c>agreement</c>, <c>testImages</c>, <c>perClassAccuracy.0..9</c>,
/// <c>weightSqnrDb.&lt;layer&gt;</c>, <c>activationSqnrDb.&lt;point&gt;</c>, <c>finalLoss</c>, <c>trainSeconds</c>,
/// <c>calibrationImages</c>, <c>threshold.&lt;point&gt;</c>, …) and text (<c>predictionsSha256</c>, <c>engineVersion</c>; trainings also <c>cpu</c> and <c>torchKernels</c>).
/// </summary>
public sealed record JobMeasurements(IReadOnlyDictionary<string, double> Numbers, IReadOnlyDictionary<string, string> Text);

public sealed record Fp32TrainOutput(Fp32Model Model, int[] TestPredictions, Trainer.Result Training, JobMeasurements Measurements);

public sealed record QatTrainOutput(QatModel Model, QatTrainer.Result Training, string PredictionsSha256, JobMeasurements Measurements);

public sealed record CalibrateOutput(CalibrationResult Ranges, JobMeasurements Measurements);

public sealed record EvaluateOutput(QuantizeResult Result, JobMeasurements Measurements);

/// <summary>
/// The engine's entry points for the four job records: <c>quantlab train</c>, <c>quantlab quantize</c> and a
/// campaign worker all call these with the same records and get the same outputs; only where the inputs come
/// from (files, or artifacts of upstream jobs) and where the outputs go differ.
/// <paramref name="test"/> arguments are the whole test set of the job's input transform; each job takes its
/// own <see cref="DataSelection.TestLimit"/>.
/// </summary>
public static class JobExecution
{
    public static Fp32TrainOutput Train(Fp32TrainJob job, LabeledImages train, LabeledImages test, int threads,
        Action<string>? log = null, CancellationToken cancel = default)
    {
        test = job.Data.Test(test);
        var options = job.Training with { Threads = threads };
        options.Validate();
        var result = Trainer.Train(options, train, test, log, cancel);
        using var module = result.Model;
        var predictions = Evaluation.Predict(module, test);
        // Seconds 0 in model.json: the same training gives the same files, so its artifacts are the same
        // blobs (the duration is in the measurements and the output).
        var manifest = new ModelManifest
        {
            InputTransform = job.Data.InputTransform,
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
        return new Fp32TrainOutput(model, predictions, result, Trained(numbers, IntExport.PredictionsHash(predictions)));
    }

    /// <param name="from">With <c>quantlab train --qat --from</c>: the FP32 model to fine-tune, and where it was read from.</param>
    public static QatTrainOutput Train(QatTrainJob job, LabeledImages train, LabeledImages test, int threads,
        (Fp32Model Model, string Path)? from = null, Action<string>? log = null, CancellationToken cancel = default)
    {
        test = job.Data.Test(test);
        var result = QatTrainer.Train(job.Qat, job.Training with { Threads = threads }, train, test, from?.Model, from?.Path, log, cancel);
        var model = new QatModel { Manifest = result.Model.Manifest with { InputTransform = job.Data.InputTransform }, Weights = result.Model.Weights };
        var evaluation = QatConversion.Run(model, test, threads: 1);
        var numbers = new Dictionary<string, double>
        {
            ["accuracy"] = result.TestAccuracy,
            ["fp32Accuracy"] = result.Fp32Accuracy,
            ["finalLoss"] = result.Epochs[^1].MeanLoss,
            ["trainSeconds"] = result.Seconds,
            ["testImages"] = test.Count,
            ["float32PredictionMismatches"] = result.Float32.PredictionMismatches,
        };
        // Fine-tuning: the accuracy of the FP32 model it started from, before any QAT step.
        if (result.FromAccuracy is { } start) numbers["fromAccuracy"] = start;
        AddPerClass(numbers, evaluation.PerClassAccuracy);
        return new QatTrainOutput(model, result, evaluation.PredictionsSha256, Trained(numbers, evaluation.PredictionsSha256));
    }

    /// <param name="train">The training set of the job's input transform; the calibration sample is drawn from it.</param>
    public static CalibrateOutput Calibrate(CalibrateJob job, Fp32Model model, LabeledImages train)
    {
        var plan = job.Ranges;
        var ranges = Calibrator.Calibrate(model, plan.CalibrationImages is { } n ? Calibrator.Sample(train, n) : null, plan);
        var numbers = new Dictionary<string, double> { ["calibrationImages"] = ranges.CalibrationImages };
        foreach (var (point, range) in ranges.Activations) numbers[$"threshold.{point}"] = range.Threshold;
        return new CalibrateOutput(ranges, Measured(numbers, null));
    }

    /// <summary>A PTQ evaluation: <paramref name="model"/> quantized with <paramref name="ranges"/>.</summary>
    /// <param name="fp32Predictions">The FP32 model's predictions on the job's test images, where its training recorded them.</param>
    public static EvaluateOutput Evaluate(EvaluateJob job, Fp32Model model, CalibrationResult ranges, LabeledImages test, int threads, int[]? fp32Predictions = null)
    {
        if (job.Method != EvaluationMethod.Ptq) throw new BadInputException("a QAT evaluation takes a QAT model, not an FP32 model and ranges");
        test = job.Data.Test(test);
        var result = QuantizeJob.Evaluate(model, job.Quantization, ranges, test, threads, fp32Predictions);
        return new EvaluateOutput(result, EvaluationMeasurements(result, test.Count));
    }

    /// <summary>A QAT evaluation: the model's learned ranges; the record may change only the requantization.</summary>
    public static EvaluateOutput Evaluate(EvaluateJob job, QatModel model, LabeledImages test, int threads)
    {
        if (job.Method != EvaluationMethod.Qat) throw new BadInputException("a PTQ evaluation takes an FP32 model and its ranges, not a QAT model");
        if (job.Quantization with { Requant = model.Config.Requant } != model.Config)
            throw new BadInputException($"the QAT model was trained for {model.Config}; its learned ranges fix every option but requant (asked: {job.Quantization})");
        test = job.Data.Test(test);
        var result = QatConversion.Run(model, test, job.Quantization.Requant, threads);
        return new EvaluateOutput(result, EvaluationMeasurements(result, test.Count));
    }

    private static JobMeasurements EvaluationMeasurements(QuantizeResult result, int testImages)
    {
        var numbers = new Dictionary<string, double>
        {
            ["accuracy"] = result.Accuracy,
            ["fp32Accuracy"] = result.Fp32Accuracy,
            ["agreement"] = result.Agreement,
            ["testImages"] = testImages,
        };
        AddPerClass(numbers, result.PerClassAccuracy);
        foreach (var (layer, db) in result.WeightSqnrDb) numbers[$"weightSqnrDb.{layer}"] = db;
        foreach (var (point, db) in result.ActivationSqnrDb) numbers[$"activationSqnrDb.{point}"] = db;
        return Measured(numbers, result.PredictionsSha256);
    }

    private static void AddPerClass(Dictionary<string, double> numbers, double[] perClass)
    {
        for (int c = 0; c < perClass.Length; c++) numbers[$"perClassAccuracy.{c.ToString(CultureInfo.InvariantCulture)}"] = perClass[c];
    }

    /// <summary>A training's measurements, with the CPU and libtorch kernels it ran on: float kernels differ by CPU, and so do trained weights.</summary>
    private static JobMeasurements Trained(Dictionary<string, double> numbers, string predictionsSha256)
    {
        var measured = Measured(numbers, predictionsSha256);
        var text = new Dictionary<string, string>(measured.Text) { ["cpu"] = TorchRuntime.CpuDescription, ["torchKernels"] = TorchRuntime.Kernels };
        return measured with { Text = text };
    }

    private static JobMeasurements Measured(Dictionary<string, double> numbers, string? predictionsSha256)
    {
        var text = new Dictionary<string, string> { ["engineVersion"] = EngineInfo.Version };
        if (predictionsSha256 is not null) text["predictionsSha256"] = predictionsSha256;
        return new JobMeasurements(numbers, text);
    }
}
