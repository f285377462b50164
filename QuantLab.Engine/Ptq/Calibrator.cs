using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using QuantLab.Engine.Calibration;
using QuantLab.Engine.Model;
using QuantLab.Engine.Quantization;
using QuantLab.Engine.Training;
using static TorchSharp.torch;
using RoundingMode = QuantLab.Engine.Quantization.RoundingMode;

namespace QuantLab.Engine.Ptq;

/// <summary>Ranges of one model for one quantization configuration: weight ranges per layer (one
/// entry per tensor or per output channel) and activation ranges per point.</summary>
public sealed record CalibrationResult(
    IReadOnlyDictionary<string, ObservedRange[]> Weights,
    IReadOnlyDictionary<string, ObservedRange> Activations,
    int CalibrationImages);

/// <summary>Runs the range observers over a model's weights and over its activations on a calibration set.</summary>
public static class Calibrator
{
    public const int DefaultImages = 1000;
    public const int DefaultSeed = 12345;

    private static readonly ConditionalWeakTable<LabeledImages, ConcurrentDictionary<(int Count, int Seed), LabeledImages>> Samples = new();

    /// <summary>
    /// A fixed, seeded sample of <paramref name="count"/> training images (in index order). The same arguments give the
    /// same object, so what <see cref="ModelStatistics"/> knows of a model on a calibration set is found again.
    /// </summary>
    public static LabeledImages Sample(LabeledImages train, int count, int seed = DefaultSeed)
    {
        if (count < 1) throw new BadInputException($"the calibration set is empty (--calibration {count}); it needs at least 1 image");
        count = Math.Min(count, train.Count);
        return Samples.GetValue(train, _ => new()).GetOrAdd((count, seed), k =>
        {
            var chosen = new DeterministicShuffle((ulong)k.Seed).Permutation(train.Count).Take(k.Count).Order().ToArray();
            var pixels = new float[k.Count * LabeledImages.PixelsPerImage];
            var labels = new byte[k.Count];
            for (int i = 0; i < k.Count; i++)
            {
                Array.Copy(train.Pixels, chosen[i] * LabeledImages.PixelsPerImage, pixels, i * LabeledImages.PixelsPerImage, LabeledImages.PixelsPerImage);
                labels[i] = train.Labels[chosen[i]];
            }
            return new LabeledImages(pixels, labels);
        });
    }

    public static CalibrationResult Calibrate(Fp32Model model, LabeledImages calibration, QuantizationConfig config) =>
        Calibrate(model, calibration, RangePlan.For(config, calibration.Count));

    /// <summary>
    /// The ranges <paramref name="plan"/> asks for; <paramref name="calibration"/> is read only where it asks for activation
    /// ranges. Through <see cref="ModelStatistics"/>: a range computed before for this model object is not computed again.
    /// </summary>
    public static CalibrationResult Calibrate(Fp32Model model, LabeledImages? calibration, RangePlan plan)
    {
        var statistics = ModelStatistics.Of(model);
        var weights = ActivationPoints.WeightLayers.ToDictionary(layer => layer, layer => statistics.WeightRanges(layer, plan.Weights, plan.Granularity));
        if (plan.Activations is not { } activations) return new CalibrationResult(weights, new Dictionary<string, ObservedRange>(), 0);
        if (calibration is null || calibration.Count == 0) throw new BadInputException("the calibration set is empty");
        return new CalibrationResult(weights, statistics.ActivationRanges(calibration, activations), calibration.Count);
    }

    public static ObservedRange[] WeightRanges(Export.NpyArray<float> weight, RangeMethod method, int bits, RoundingMode rounding, Granularity granularity) =>
        WeightRanges(weight, RangeRequest.For(method, bits, rounding), granularity);

    public static ObservedRange[] WeightRanges(Export.NpyArray<float> weight, RangeRequest request, Granularity granularity)
    {
        int outputs = weight.Shape[0], per = weight.Data.Length / outputs;
        if (granularity == Granularity.Tensor)
        {
            var observer = request.CreateObserver();
            observer.Observe(weight.Data);
            return [observer.Compute()];
        }
        var ranges = new ObservedRange[outputs];
        for (int o = 0; o < outputs; o++)
        {
            var observer = request.CreateObserver();
            observer.Observe(weight.Data.AsSpan(o * per, per));
            ranges[o] = observer.Compute();
        }
        return ranges;
    }

    /// <summary>
    /// Runs the FP32 model over <paramref name="images"/> in batches and hands each point's values to <paramref name="visit"/>.
    /// The computation itself: callers go through <see cref="ModelStatistics.ForEachActivation"/>, which runs it once per model and image set.
    /// </summary>
    internal static void ForEachActivation(Fp32Model model, LabeledImages images, Action<string, float[]> visit, int batch)
    {
        using var module = model.ToModule();
        module.eval();
        using var _ = no_grad();
        using var all = images.ImagesTensor();
        for (int start = 0; start < images.Count; start += batch)
        {
            using var scope = NewDisposeScope();
            int n = Math.Min(batch, images.Count - start);
            foreach (var (point, value) in module.ForwardWithActivations(all.narrow(0, start, n)))
                visit(point, value.contiguous().data<float>().ToArray());
        }
    }
}
