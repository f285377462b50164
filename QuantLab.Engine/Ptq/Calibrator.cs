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

    /// <summary>A fixed, seeded sample of <paramref name="count"/> training images (in index order).</summary>
    public static LabeledImages Sample(LabeledImages train, int count, int seed = DefaultSeed)
    {
        if (count < 1) throw new BadInputException($"the calibration set is empty (--calibration {count}); it needs at least 1 image");
        count = Math.Min(count, train.Count);
        var chosen = new DeterministicShuffle((ulong)seed).Permutation(train.Count).Take(count).Order().ToArray();
        var pixels = new float[count * LabeledImages.PixelsPerImage];
        var labels = new byte[count];
        for (int i = 0; i < count; i++)
        {
            Array.Copy(train.Pixels, chosen[i] * LabeledImages.PixelsPerImage, pixels, i * LabeledImages.PixelsPerImage, LabeledImages.PixelsPerImage);
            labels[i] = train.Labels[chosen[i]];
        }
        return new LabeledImages(pixels, labels);
    }

    public static CalibrationResult Calibrate(Fp32Model model, LabeledImages calibration, QuantizationConfig config) =>
        Calibrate(model, calibration, RangePlan.For(config, calibration.Count));

    /// <summary>The ranges <paramref name="plan"/> asks for; <paramref name="calibration"/> is read only where it asks for activation ranges.</summary>
    public static CalibrationResult Calibrate(Fp32Model model, LabeledImages? calibration, RangePlan plan)
    {
        var weights = new Dictionary<string, ObservedRange[]>();
        foreach (var layer in ActivationPoints.WeightLayers)
            weights[layer] = WeightRanges(model.Layer(layer).Weight, plan.Weights, plan.Granularity);
        if (plan.Activations is not { } activations) return new CalibrationResult(weights, new Dictionary<string, ObservedRange>(), 0);
        if (calibration is null || calibration.Count == 0) throw new BadInputException("the calibration set is empty");
        return new CalibrationResult(weights, ActivationRanges(model, calibration, _ => activations.CreateObserver()), calibration.Count);
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

    /// <summary>Feeds every activation point's values (after ReLU) on the calibration images to one observer per point.</summary>
    public static Dictionary<string, ObservedRange> ActivationRanges(Fp32Model model, LabeledImages images, Func<string, IRangeObserver> observerFor, int batch = 500)
    {
        var observers = ActivationPoints.All.ToDictionary(p => p, observerFor);
        ForEachActivation(model, images, (point, values) => observers[point].Observe(values), batch);
        return observers.ToDictionary(kv => kv.Key, kv => kv.Value.Compute());
    }

    /// <summary>Runs the FP32 model over <paramref name="images"/> in batches and hands each point's values to <paramref name="visit"/>.</summary>
    public static void ForEachActivation(Fp32Model model, LabeledImages images, Action<string, float[]> visit, int batch = 500)
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
