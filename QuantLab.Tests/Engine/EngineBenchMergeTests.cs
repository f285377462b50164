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
}
