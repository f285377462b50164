using QuantLab.Engine.Calibration;
using QuantLab.Engine.Ptq;
using QuantLab.Engine.Quantization;
using QuantLab.Engine.Training;

namespace QuantLab.Engine.Qat;

/// <summary>
/// A QAT model → the integer engine, with its learned thresholds and no calibration; evaluated on the
/// test set. What <c>quantlab quantize --model QATDIR</c> and a campaign's QAT evaluation run; the result
/// has the shape of a PTQ run (<see cref="QuantizeJob.Measure"/>).
/// </summary>
public static class QatConversion
{
    /// <param name="requant">Overrides the trained requantization (e.g. the seed's §3.1: a QAT model with M as fixed point).</param>
    /// <param name="fp32Predictions">The trained float weights' predictions on <paramref name="test"/>, where known.</param>
    public static QuantizeResult Run(QatModel model, LabeledImages test, RequantSpec? requant = null, int threads = 0, int[]? fp32Predictions = null)
    {
        var config = model.Config;
        if (requant is not null) config = (config with { Requant = requant }).Validate();
        return QuantizeJob.Measure(model.Weights, config, LearnedRanges(model), model.ToIntModel(requant), test, threads, fp32Predictions);
    }

    /// <summary>The learned thresholds T as ranges [−T, T].</summary>
    public static CalibrationResult LearnedRanges(QatModel model) => new(
        model.Manifest.Thresholds.Weights.ToDictionary(kv => kv.Key, kv => kv.Value.Select(t => new ObservedRange(-t, t)).ToArray()),
        model.Manifest.Thresholds.Activations.ToDictionary(kv => kv.Key, kv => new ObservedRange(-kv.Value, kv.Value)),
        0);
}
