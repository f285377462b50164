using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using QuantLab.Engine.Calibration;
using QuantLab.Engine.Model;
using QuantLab.Engine.Quantization;
using QuantLab.Engine.Training;

namespace QuantLab.Engine.Ptq;

/// <summary>Reads one activation point's values of one batch; the values are shared and must not be changed.</summary>
public delegate void ActivationVisitor(string point, ReadOnlySpan<float> values);

/// <summary>
/// What calibration and the metrics compute from an FP32 model alone, whatever the rest of a configuration:
/// its activations on an image set, its weight ranges per (layer, range request, granularity) and its activation
/// ranges per (image set, range request). Each is computed once per model object and image-set object and then
/// shared, so the hundreds of calibrate and evaluate jobs of a sweep over one model run each FP32 forward pass and
/// each distinct range computation once (a worker process keeps the models of recent jobs:
/// <c>EngineArtifacts.GetModel</c>). Everything here lives exactly as long as its model object: a model nobody
/// holds any more takes its statistics with it.
/// The results are the ones an uncached computation gives, bit for bit: the same observers see the same values in
/// the same batches.
/// </summary>
public sealed class ModelStatistics
{
    /// <summary>Images per FP32 forward pass (and so per batch an observer sees).</summary>
    public const int Batch = 500;

    private static readonly ConditionalWeakTable<Fp32Model, ModelStatistics> ByModel = new();

    private readonly Fp32Model _model;
    private readonly ConcurrentDictionary<(string Layer, RangeRequest Request, Granularity Granularity), Lazy<ObservedRange[]>> _weightRanges = new();
    private readonly ConditionalWeakTable<LabeledImages, OnImages> _onImages = new();

    /// <summary>What is known of the model on one image set: its activations (per batch size) and activation ranges.</summary>
    private sealed class OnImages
    {
        public readonly ConcurrentDictionary<int, Lazy<IReadOnlyList<(string Point, float[] Values)>>> Activations = new();
        public readonly ConcurrentDictionary<RangeRequest, Lazy<IReadOnlyDictionary<string, ObservedRange>>> Ranges = new();
        /// <summary>Activation SQNRs per grid (<see cref="QuantizationError.ActivationSqnrDb"/>).</summary>
        public readonly ConcurrentDictionary<string, Lazy<IReadOnlyDictionary<string, double>>> Sqnr = new(StringComparer.Ordinal);
    }

    private int _forwardPasses, _rangeComputations, _sqnrComputations;

    private ModelStatistics(Fp32Model model) => _model = model;

    /// <summary>Image sets the FP32 model has been run over so far (each once).</summary>
    public int ForwardPasses => Volatile.Read(ref _forwardPasses);

    /// <summary>Weight-layer and activation range computations run so far (each distinct one once).</summary>
    public int RangeComputations => Volatile.Read(ref _rangeComputations);

    /// <summary>Activation SQNR computations run so far (each distinct grid on each image set once).</summary>
    public int SqnrComputations => Volatile.Read(ref _sqnrComputations);

    public static ModelStatistics Of(Fp32Model model) => ByModel.GetValue(model, m => new ModelStatistics(m));

    /// <summary>Every activation point's values (after ReLU) on <paramref name="images"/>, batch by batch in image order.</summary>
    public void ForEachActivation(LabeledImages images, ActivationVisitor visit, int batch = Batch)
    {
        var recorded = Once(On(images).Activations, batch, b =>
        {
            Interlocked.Increment(ref _forwardPasses);
            var batches = new List<(string, float[])>();
            Calibrator.ForEachActivation(_model, images, (point, values) => batches.Add((point, values)), b);
            return (IReadOnlyList<(string, float[])>)batches;
        });
        foreach (var (point, values) in recorded) visit(point, values);
    }

    /// <summary>The ranges of one weight layer (one per tensor, or one per output channel).</summary>
    public ObservedRange[] WeightRanges(string layer, RangeRequest request, Granularity granularity) =>
        (ObservedRange[])Once(_weightRanges, (layer, request, granularity),
            _ =>
            {
                Interlocked.Increment(ref _rangeComputations);
                return Calibrator.WeightRanges(_model.Layer(layer).Weight, request, granularity);
            }).Clone();

    /// <summary>Every activation point's range on <paramref name="images"/>, one observer of <paramref name="request"/> per point.</summary>
    public IReadOnlyDictionary<string, ObservedRange> ActivationRanges(LabeledImages images, RangeRequest request) =>
        Once(On(images).Ranges, request, r =>
        {
            Interlocked.Increment(ref _rangeComputations);
            var observers = ActivationPoints.All.ToDictionary(p => p, _ => r.CreateObserver());
            ForEachActivation(images, (point, values) => observers[point].Observe(values));
            return (IReadOnlyDictionary<string, ObservedRange>)observers.ToDictionary(kv => kv.Key, kv => kv.Value.Compute());
        });

    /// <summary>
    /// The activation SQNRs on <paramref name="images"/> under <paramref name="grid"/> (a text naming every input of the
    /// computation besides the model and the images), computed by <paramref name="compute"/> once. The evaluations of a
    /// sweep that differ only in their weights or requantization measure the same activation grids: the bit-width sweep's
    /// 7,350 evaluations have about a hundred.
    /// </summary>
    public IReadOnlyDictionary<string, double> ActivationSqnr(LabeledImages images, string grid, Func<IReadOnlyDictionary<string, double>> compute) =>
        Once(On(images).Sqnr, grid, _ =>
        {
            Interlocked.Increment(ref _sqnrComputations);
            return compute();
        });

    private OnImages On(LabeledImages images) => _onImages.GetValue(images, _ => new OnImages());

    /// <summary>The value under <paramref name="key"/>, computed by the first caller while later ones wait for it.</summary>
    private static TValue Once<TKey, TValue>(ConcurrentDictionary<TKey, Lazy<TValue>> memo, TKey key, Func<TKey, TValue> compute) where TKey : notnull
    {
        var lazy = memo.GetOrAdd(key, k => new Lazy<TValue>(() => compute(k)));
        try { return lazy.Value; }
        catch
        {
            memo.TryRemove(new KeyValuePair<TKey, Lazy<TValue>>(key, lazy));   // a failure is no result: the next caller tries again
            throw;
        }
    }
}
