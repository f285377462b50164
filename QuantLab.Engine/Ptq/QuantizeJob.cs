using System.Diagnostics;
using System.Runtime.CompilerServices;
using QuantLab.Engine.Calibration;
using QuantLab.Engine.Export;
using QuantLab.Engine.Int;
using QuantLab.Engine.Model;
using QuantLab.Engine.Quantization;
using QuantLab.Engine.Training;

namespace QuantLab.Engine.Ptq;

/// <summary>What one quantized evaluation measured (PTQ or QAT).</summary>
/// <param name="WeightSqnrDb">Per weight layer, 10·log10(Σw² / Σ(w − s·q)²) of its quantized weights (∞ when exact).</param>
/// <param name="ActivationSqnrDb">Per activation point (scope all), the same ratio of the FP32 model's activations to their
/// quantization error on the point's grid, over the first <see cref="QuantizeJob.ActivationSqnrImages"/> test images.</param>
public sealed record QuantizeResult(
    QuantizationConfig Config,
    double Accuracy,
    double Fp32Accuracy,
    double Agreement,
    string PredictionsSha256,
    double[] PerClassAccuracy,
    int CalibrationImages,
    double Seconds,
    CalibrationResult Ranges,
    IntModel? IntModel,
    ExportedTestSet? TestSet,
    IReadOnlyDictionary<string, double> WeightSqnrDb,
    IReadOnlyDictionary<string, double> ActivationSqnrDb);

/// <summary>
/// Quantization + evaluation of one model for one configuration, with every metric an evaluation reports.
/// PTQ (<see cref="Evaluate"/>, ranges from a calibration) and QAT (<c>QatConversion</c>, learned ranges)
/// both end in <see cref="Measure"/>.
/// </summary>
public static class QuantizeJob
{
    /// <summary>Test images over which activation SQNR is measured (a sample: it runs the FP32 model with activations kept).</summary>
    public const int ActivationSqnrImages = 256;

    /// <summary>Calibration then evaluation in one call (tests, bench); the CLI and workers run the two as separate jobs.</summary>
    public static QuantizeResult Run(Fp32Model model, QuantizationConfig config, LabeledImages train, LabeledImages test,
        int calibrationImages = Calibrator.DefaultImages, int threads = 0, Action<string>? log = null)
    {
        config.Validate();
        var watch = Stopwatch.StartNew();
        var plan = RangePlan.For(config, calibrationImages);
        log?.Invoke($"calibrating (weights: {config.WeightRange.ToOption()}{(plan.Activations is null ? "" : $", activations: {config.ActRange.ToOption()} on {calibrationImages} training images")})");
        var ranges = Calibrator.Calibrate(model, plan.CalibrationImages is { } n ? Calibrator.Sample(train, n) : null, plan);
        var result = Evaluate(model, config, ranges, test, threads);
        return result with { Seconds = watch.Elapsed.TotalSeconds };
    }

    /// <summary>
    /// PTQ: quantization + evaluation with ranges calibrated before (a campaign's evaluate job, whose calibrate
    /// job ran earlier, maybe elsewhere).
    /// </summary>
    /// <param name="fp32Predictions">The FP32 model's predictions on <paramref name="test"/> where known (its training
    /// recorded them): they feed fp32Accuracy and agreement; null runs the FP32 model.</param>
    public static QuantizeResult Evaluate(Fp32Model model, QuantizationConfig config, CalibrationResult ranges, LabeledImages test, int threads = 0,
        int[]? fp32Predictions = null)
    {
        QuantizationOptions.Check(config, model.HasBias);
        IntModel? intModel = config.Scope == QuantScope.All ? PtqBuilder.BuildInteger(model, ranges, config) : null;
        return Measure(model, config, ranges, intModel, test, threads, fp32Predictions);
    }

    /// <summary>
    /// Runs the quantized model on <paramref name="test"/> (the integer engine for scope all, the dequantized
    /// weights in float otherwise) and measures it against the FP32 weights <paramref name="weights"/>.
    /// </summary>
    public static QuantizeResult Measure(Fp32Model weights, QuantizationConfig config, CalibrationResult ranges, IntModel? intModel,
        LabeledImages test, int threads, int[]? fp32Predictions)
    {
        var watch = Stopwatch.StartNew();
        if (fp32Predictions is null || fp32Predictions.Length != test.Count)
            using (var module = weights.ToModule()) fp32Predictions = Evaluation.Predict(module, test);

        int[] predictions;
        ExportedTestSet? testSet = null;
        if (intModel is not null)
        {
            var inputs = QuantizeInputs(intModel, test);
            testSet = new ExportedTestSet(inputs, test.Labels, IntegerEngine.Run(intModel, inputs, threads), LeNet5Architecture.Classes);
            predictions = testSet.Predictions;
        }
        else
        {
            using var module = PtqBuilder.BuildWeightsOnly(weights, ranges, config).ToModule();
            predictions = Evaluation.Predict(module, test);
        }

        double agreement = predictions.Zip(fp32Predictions).Count(p => p.First == p.Second) / (double)predictions.Length;
        var weightSqnr = QuantizationError.WeightSqnrDb(weights, ranges, config);
        var activationSqnr = intModel is null
            ? new Dictionary<string, double>()
            : QuantizationError.ActivationSqnrDb(weights, ranges, config.ActBits, config.Rounding, config.ActSignedness, SqnrSample(test));
        return new QuantizeResult(config, Evaluation.Accuracy(predictions, test.Labels), Evaluation.Accuracy(fp32Predictions, test.Labels),
            agreement, IntExport.PredictionsHash(predictions), PerClass(predictions, test.Labels), ranges.CalibrationImages,
            watch.Elapsed.TotalSeconds, ranges, intModel, testSet, weightSqnr, activationSqnr);
    }

    private static readonly ConditionalWeakTable<LabeledImages, LabeledImages> SqnrSamples = new();

    /// <summary>The first <see cref="ActivationSqnrImages"/> images, as one object per test set (so the model's activations on them are computed once).</summary>
    private static LabeledImages SqnrSample(LabeledImages test) => SqnrSamples.GetValue(test, t => t.Take(Math.Min(ActivationSqnrImages, t.Count)));

    /// <summary>The test images quantized with the model's input step, N × 1024; cached per input step
    /// (<see cref="QuantizedInputCache"/>), so the array is shared and must not be modified.</summary>
    public static short[] QuantizeInputs(IntModel model, LabeledImages images) => QuantizedInputCache.Get(model, images);

    public static double[] PerClass(int[] predictions, byte[] labels)
    {
        var correct = new int[LeNet5Architecture.Classes];
        var total = new int[LeNet5Architecture.Classes];
        for (int i = 0; i < labels.Length; i++)
        {
            total[labels[i]]++;
            if (predictions[i] == labels[i]) correct[labels[i]]++;
        }
        return correct.Zip(total, (c, t) => t == 0 ? 0 : (double)c / t).ToArray();
    }
}
