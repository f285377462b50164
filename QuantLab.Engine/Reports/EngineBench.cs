using System.Diagnostics;
using QuantLab.Engine.Int;
using QuantLab.Engine.Model;
using QuantLab.Engine.Ptq;
using QuantLab.Engine.Quantization;
using QuantLab.Engine.Training;
using static TorchSharp.torch;

namespace QuantLab.Engine.Reports;

public sealed record BenchResult(string Name, double ImagesPerSecond, double RatioToBaseline, int Images, double Seconds);

/// <summary>
/// Engine throughput on the MNIST test set, stated as ratios against a baseline measured in the same
/// run: the scalar reference integer path on one thread. Wall-clock figures vary with the machine;
/// the ratios are what to compare.
/// </summary>
public static class EngineBench
{
    public static IReadOnlyList<BenchResult> Run(LabeledImages train, LabeledImages test, int referenceImages = 1000, Action<string>? log = null)
    {
        TorchRuntime.EnsureInitialized();
        manual_seed(1);
        Fp32Model model;
        using (var module = new LeNet5(bias: false)) model = Fp32Model.FromModule(module, new ModelManifest());
        var config = QuantizationConfig.Default;
        var ranges = Calibrator.Calibrate(model, Calibrator.Sample(train, 500), config);
        var intModel = PtqBuilder.BuildInteger(model, ranges, config);
        var compiled = new CompiledModel(intModel);
        var inputs = QuantizeJob.QuantizeInputs(intModel, test);
        int n = test.Count;

        var results = new List<BenchResult>();
        var referenceInputs = inputs.AsSpan(0, Math.Min(referenceImages, n) * LabeledImages.PixelsPerImage).ToArray();
        var baseline = Measure("integer reference (scalar, 1 thread) [baseline]", referenceInputs.Length / LabeledImages.PixelsPerImage,
            () => IntegerEngine.RunReference(intModel, referenceInputs));
        Add(baseline);
        Add(Measure("integer fast path (1 thread)", n, () => IntegerEngine.Run(compiled, inputs, threads: 1)));
        Add(Measure($"integer fast path ({Environment.ProcessorCount} threads)", n, () => IntegerEngine.Run(compiled, inputs, threads: 0)));
        using (var module = model.ToModule())
        {
            TorchRuntime.SetThreads(Environment.ProcessorCount);
            Add(Measure($"TorchSharp FP32 inference ({Environment.ProcessorCount} threads, batch 1000)", n, () => Evaluation.Predict(module, test)));
        }
        return results;

        void Add((string Name, int Images, double Seconds) m)
        {
            double rate = m.Images / m.Seconds;
            double baseRate = baseline.Images / baseline.Seconds;
            var r = new BenchResult(m.Name, rate, rate / baseRate, m.Images, m.Seconds);
            results.Add(r);
            log?.Invoke($"{r.Name}: {r.ImagesPerSecond:N0} images/s ({r.RatioToBaseline:F1}× baseline)");
        }
    }

    /// <summary>One warm-up run, then the best of three timed runs.</summary>
    private static (string Name, int Images, double Seconds) Measure(string name, int images, Action action)
    {
        action();
        double best = double.MaxValue;
        for (int i = 0; i < 3; i++)
        {
            var watch = Stopwatch.StartNew();
            action();
            best = Math.Min(best, watch.Elapsed.TotalSeconds);
        }
        return (name, images, best);
    }
}
