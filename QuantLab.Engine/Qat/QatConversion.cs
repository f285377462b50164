using System.Diagnostics;
using QuantLab.Engine.Calibration;
using QuantLab.Engine.Export;
using QuantLab.Engine.Int;
using QuantLab.Engine.Model;
using QuantLab.Engine.Ptq;
using QuantLab.Engine.Quantization;
using QuantLab.Engine.Training;

namespace QuantLab.Engine.Qat;

/// <summary>
/// A QAT model → the integer engine, with its learned thresholds and no calibration; evaluated on the
/// test set. What <c>quantlab quantize --model QATDIR</c> calls; the result has the shape of a PTQ run.
/// </summary>
public static class QatConversion
{
    /// <param name="requant">Overrides the trained requantization (e.g. the seed's §3.1: a QAT model with M as fixed point).</param>
    public static QuantizeResult Run(QatModel model, LabeledImages test, RequantSpec? requant = null, int threads = 0)
    {
        var watch = Stopwatch.StartNew();
        var config = model.Config;
        if (requant is not null) config = (config with { Requant = requant }).Validate();
        int[] fp32Predictions;
        using (var module = model.Weights.ToModule()) fp32Predictions = Evaluation.Predict(module, test);

        var intModel = model.ToIntModel(requant);
        var inputs = QuantizeJob.QuantizeInputs(intModel, test);
        var testSet = new ExportedTestSet(inputs, test.Labels, IntegerEngine.Run(intModel, inputs, threads), LeNet5Architecture.Classes);
        var predictions = testSet.Predictions;
        var ranges = new CalibrationResult(
            model.Manifest.Thresholds.Weights.ToDictionary(kv => kv.Key, kv => kv.Value.Select(t => new ObservedRange(-t, t)).ToArray()),
            model.Manifest.Thresholds.Activations.ToDictionary(kv => kv.Key, kv => new ObservedRange(-kv.Value, kv.Value)),
            0);
        double agreement = predictions.Zip(fp32Predictions).Count(p => p.First == p.Second) / (double)predictions.Length;
        return new QuantizeResult(config, Evaluation.Accuracy(predictions, test.Labels), Evaluation.Accuracy(fp32Predictions, test.Labels),
            agreement, testSet.PredictionsSha256, QuantizeJob.PerClass(predictions, test.Labels), 0, watch.Elapsed.TotalSeconds,
            ranges, intModel, testSet);
    }
}
