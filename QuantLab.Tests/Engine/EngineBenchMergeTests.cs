using QuantLab.Engine.Int;
using QuantLab.Engine.Reports;

namespace QuantLab.Tests.Engine;

/// <summary>Rounds of <c>quantlab bench</c> merged into one report: each row's fastest round, ratios against the fastest baselines.</summary>
public class EngineBenchMergeTests
{
    private static BenchResult Row(string name, string path, double rate) =>
        new(name, path, 2, "8/8", rate, 0, 0, 1000, 10_000, 10_000 / rate);

    private static EngineBenchReport Round(double scalar, double torch, double engine, double evaluate, double inference, long allocated) =>
        new("scalar", KernelPath.Avx2, [KernelPath.Scalar, KernelPath.Avx2],
            [Row("scalar", "scalar", scalar), Row("torch", "torch-fp32", torch), Row("engine", "avx2", engine)],
            new EvaluateBench("8/8", evaluate, inference, evaluate / inference, allocated));

    [Fact]
    public void Each_row_keeps_its_fastest_round_and_ratios_use_the_fastest_baselines()
    {
        // Round 1: the engine row was disturbed; round 2: TorchSharp was slower and the scalar reference faster.
        var merged = EngineBench.Merge([Round(1500, 30_000, 200_000, 0.040, 0.035, 100), Round(1600, 20_000, 300_000, 0.036, 0.034, 120)]);

        Assert.Equal(2, merged.Rounds);
        Assert.Equal([1600.0, 30_000, 300_000], merged.Benchmarks.Select(b => b.ImagesPerSecond));
        Assert.Equal(300_000 / 30_000.0, merged.Benchmarks[2].RatioToTorch, 9);
        Assert.Equal(300_000 / 1600.0, merged.Benchmarks[2].RatioToBaseline, 9);
        Assert.Equal(1.0, merged.Benchmarks[0].RatioToBaseline, 9);
        Assert.Equal(1.0, merged.Benchmarks[1].RatioToTorch, 9);
        Assert.Equal(0.036, merged.Evaluate.EvaluateSeconds, 9);
        Assert.Equal(0.034, merged.Evaluate.InferenceSeconds, 9);
        Assert.Equal(0.036 / 0.034, merged.Evaluate.Ratio, 9);
        Assert.Equal(120, merged.Evaluate.EvaluateAllocatedBytes);
    }

    [Fact]
    public void Rounds_of_different_rows_are_refused()
    {
        var other = Round(1, 1, 1, 1, 1, 1) with { Benchmarks = [Row("scalar", "scalar", 1), Row("torch", "torch-fp32", 1)] };
        Assert.Throws<ArgumentException>(() => EngineBench.Merge([Round(1, 1, 1, 1, 1, 1), other]));
        Assert.Throws<ArgumentException>(() => EngineBench.Merge([]));
    }

    [Fact]
    public void The_summary_reads_the_default_paths_8_8_rows_and_its_slowest_other_configuration()
    {
        BenchResult R(string path, int threads, string config, double rate, double toTorch = 0) =>
            new($"{path} {config} {threads}", path, threads, config, rate, 0, toTorch, 0, 10_000, 10_000 / rate);
        var report = new EngineBenchReport("scalar", KernelPath.Avx512, [KernelPath.Scalar, KernelPath.Avx2, KernelPath.Avx512],
            [R("scalar", 1, "8/8", 1_000), R("torch-fp32", 2, "fp32", 40_000, 1), R("avx2", 1, "8/8", 150_000), R("avx2", 2, "8/8", 250_000, 6.25),
             R("avx512", 1, "8/8", 200_000), R("avx512", 2, "8/8", 360_000, 9), R("avx512", 1, "16/16", 80_000), R("avx512", 2, "16/16", 160_000),
             R("avx512", 2, "4/4", 380_000), R("avx512", 2, "8/8 per-channel", 300_000)],
            new EvaluateBench("8/8", 0.03, 0.028, 0.03 / 0.028, 1));

        var summary = BenchSummary.Of(report)!;

        Assert.Equal(("avx512", 2, 9.0), (summary.Path, summary.Threads, summary.RatioToTorch));
        Assert.Equal(200_000 / 360_000.0, summary.OneThreadShare!.Value, 9);
        Assert.Equal("16/16", summary.SlowestConfig);
        Assert.Equal(360_000 / 160_000.0, summary.SlowestFactor!.Value, 9);

        // One core: no share to state; a scalar-only machine: no summary at all.
        var oneCore = report with { Benchmarks = report.Benchmarks.Where(b => b.Threads == 1).ToList() };
        Assert.Null(BenchSummary.Of(oneCore)!.OneThreadShare);
        Assert.Null(BenchSummary.Of(report with { BestPath = KernelPath.Scalar }));
    }
}
