using System.Diagnostics;
using QuantLab.Engine.Export;
using QuantLab.Engine.Int;
using QuantLab.Engine.Model;
using QuantLab.Engine.Quantization;
using QuantLab.Engine.Training;

namespace QuantLab.Engine.Ptq;

/// <summary>What one post-training quantization run measured.</summary>
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
    ExportedTestSet? TestSet);

/// <summary>
/// Calibration + quantization + evaluation of one FP32 model for one configuration: the function the
/// <c>quantlab quantize</c> verb and a campaign's evaluate job both call.
/// </summary>
public static class QuantizeJob
{
    public static QuantizeResult Run(Fp32Model model, QuantizationConfig config, LabeledImages train, LabeledImages test,
        int calibrationImages = Calibrator.DefaultImages, int threads = 0, Action<string>? log = null)
    {
        config.Validate();
        var watch = Stopwatch.StartNew();
        var calibration = Calibrator.Sample(train, calibrationImages);
        log?.Invoke($"calibrating on {calibration.Count} training images (weights: {config.WeightRange.ToOption()}, activations: {config.ActRange.ToOption()})");
        var ranges = Calibrator.Calibrate(model, calibration, config);
        var result = Evaluate(model, config, ranges, test, threads);
        return result with { Seconds = watch.Elapsed.TotalSeconds };
    }

    /// <summary>
    /// Quantization + evaluation with ranges calibrated before (a campaign's evaluate job, whose calibrate
    /// job ran earlier, maybe elsewhere): the second half of <see cref="Run"/>.
    /// </summary>
    /// <param name="fp32Predictions">The FP32 model's predictions on <paramref name="test"/> when the caller has them
    /// (they do not depend on the configuration); null runs the FP32 forward pass.</param>
    public static QuantizeResult Evaluate(Fp32Model model, QuantizationConfig config, CalibrationResult ranges, LabeledImages test, int threads = 0,
        int[]? fp32Predictions = null)
    {
        config.Validate();
        var watch = Stopwatch.StartNew();
        if (fp32Predictions is null)
            using (var module = model.ToModule()) fp32Predictions = Evaluation.Predict(module, test);

        int[] predictions;
        IntModel? intModel = null;
        ExportedTestSet? testSet = null;
        if (config.Scope == QuantScope.All)
        {
            intModel = PtqBuilder.BuildInteger(model, ranges, config);
            var inputs = QuantizeInputs(intModel, test);
            var logits = IntegerEngine.Run(intModel, inputs, threads);
            testSet = new ExportedTestSet(inputs, test.Labels, logits, LeNet5Architecture.Classes);
            predictions = testSet.Predictions;
        }
        else
        {
            using var module = PtqBuilder.BuildWeightsOnly(model, ranges, config).ToModule();
            predictions = Evaluation.Predict(module, test);
        }

        double agreement = predictions.Zip(fp32Predictions).Count(p => p.First == p.Second) / (double)predictions.Length;
        return new QuantizeResult(config, Evaluation.Accuracy(predictions, test.Labels), Evaluation.Accuracy(fp32Predictions, test.Labels),
            agreement, IntExport.PredictionsHash(predictions), PerClass(predictions, test.Labels), ranges.CalibrationImages,
            watch.Elapsed.TotalSeconds, ranges, intModel, testSet);
    }

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
