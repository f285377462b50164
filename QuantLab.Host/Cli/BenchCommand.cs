using System.CommandLine;
using QuantLab.Engine.Int;
using QuantLab.Engine.Reports;

namespace QuantLab.Host.Cli;

/// <summary><c>quantlab bench</c>: engine throughput as ratios against a baseline measured in the same run.</summary>
public static class BenchCommand
{
    /// <summary>How every row is timed, as <c>--help</c> and the table's footer state it. The peers get a longer warm-up
    /// because TorchSharp runs at about half its speed for its first seconds after the engine rows.</summary>
    static readonly string Timing = $"the best of at least {EngineBench.TimedRuns} runs and {EngineBench.TimedSeconds} s, after {EngineBench.WarmUpSeconds} s of warm-up; "
        + $"the peers (TorchSharp FP32, ONNX Runtime): {EngineBench.PeerTimedSeconds} s of runs after {EngineBench.PeerWarmUpSeconds} s of warm-up";

    public static Command Create(Func<CliContext> context)
    {
        var json = new Option<bool>("--json")
        {
            Description = "Print one JSON document: cores; rounds; path (the kernel path used by default: scalar|avx2|avx512); supportedPaths; "
                + "baseline (name of benchmarks[0], the scalar reference on 1 thread); benchmarks[] {name, path (scalar|avx2|avx512|torch-fp32|onnxruntime-exact|onnxruntime-qdq), "
                + "threads, config (8/8, 4/4, 16/16, 8/8 per-channel, 8/8 fixed-point:31, 8/8 int32 bias, fp32), imagesPerSecond, "
                + "ratioToBaseline (÷ scalar reference), ratioToTorch (÷ TorchSharp FP32 of the same run), allocatedBytesPer10k (all threads), "
                + $"images, seconds ({Timing}, in the row's fastest round)}}; " + "evaluate {config, evaluateSeconds (QuantizeJob.Evaluate with FP32 predictions given), "
                + "inferenceSeconds (the integer engine alone on the same images), ratio, evaluateAllocatedBytes (one evaluate job run on one thread, counted on that thread alone)}; "
                + "summary {path (the default path), threads (all cores), ratioToTorch (its 8/8 row on all threads ÷ TorchSharp FP32), oneThreadShare (its 8/8 images/s on 1 thread ÷ on all threads; "
                + "null on one core), slowestConfig (the slowest other configuration on all threads), slowestFactor (8/8 images/s ÷ that configuration's)}, null without a SIMD path",
        };
        var rounds = new Option<int>("--rounds")
        {
            Description = $"Measure every row this many times (1..{EngineBench.MaxRounds}), a whole round apart, and keep each row's fastest round (TorchSharp's too): "
                + "on a shared machine a core taken by another tenant for a second or more then spoils one round of a row, not the row",
            DefaultValueFactory = _ => EngineBench.DefaultRounds,
        };
        var data = DataCommand.DataDirOption();
        var orchestration = new Option<bool>("--orchestration") { Description = "Instead: jobs per second of orchestration alone (trivial jobs) on one node and on three in-process cluster nodes" };
        var jobs = new Option<int>("--jobs") { Description = "Trivial jobs per orchestration measurement (each after a 1,000-job warm-up); the default measures the steady rate, a few hundred mostly the start", DefaultValueFactory = _ => 20_000 };
        var provider = new Option<string>("--provider")
        {
            Description = "With --orchestration: sqlite (SQLite files alone), or postgresql: also on scratch databases of the server of " +
                          "QuantLab:Storage:ConnectionString (its user needs CREATEDB), beside SQLite in the same run",
            DefaultValueFactory = _ => "sqlite",
        };
        var command = new Command("bench", "Integer engine and FP32 inference throughput on the MNIST test set, as ratios to the scalar reference path") { data, json, rounds, orchestration, jobs, provider };
        command.SetAction(async (parse, cancel) =>
        {
            var ctx = context();
            if (!parse.GetValue(orchestration) && parse.GetValue(provider) != "sqlite")
                throw new QuantLab.Engine.BadInputException("--provider measures orchestration: give it with --orchestration");
            if (parse.GetValue(orchestration) && parse.GetResult(rounds) is { Implicit: false })
                throw new QuantLab.Engine.BadInputException("--rounds repeats the engine bench: it does not go with --orchestration");
            if (parse.GetValue(orchestration))
            {
                var n = parse.GetValue(jobs);
                if (n is < 1 or > 100_000) throw new QuantLab.Engine.BadInputException($"--jobs must be 1..100000 (got {n})");
                var postgres = parse.GetValue(provider) switch
                {
                    "sqlite" => null,
                    "postgresql" => LabOptions.PostgresServer(ctx),
                    var other => throw new QuantLab.Engine.BadInputException($"--provider '{other}'; allowed: sqlite, postgresql"),
                };
                var measured = await QuantLab.Host.Lab.OrchestrationBench.RunAsync(ctx.Options, n, workersPerNode: 2, ctx.Err.WriteLine, postgres);
                if (parse.GetValue(json)) ctx.WriteJson(new { cores = Environment.ProcessorCount, orchestration = measured });
                else
                {
                    ctx.Out.WriteLine($"{"benchmark",-46}{"nodes",6}{"workers/node",14}{"jobs",7}{"seconds",10}{"jobs/s",10}");
                    foreach (var r in measured) ctx.Out.WriteLine($"{r.Name,-46}{r.Nodes,6}{r.WorkersPerNode,14}{r.Jobs,7}{r.Seconds,10:F2}{r.JobsPerSecond,10:F1}");
                    ctx.Out.WriteLine($"({Environment.ProcessorCount} cores; one journal per run; the 3 nodes share this process)");
                }
                return 0;
            }
            int roundCount = parse.GetValue(rounds);
            if (roundCount < 1 || roundCount > EngineBench.MaxRounds)
                throw new QuantLab.Engine.BadInputException($"--rounds must be 1..{EngineBench.MaxRounds} (got {roundCount})");
            var dataset = DataAccess.Load(ctx, parse.GetValue(data), "resize", ctx.Err.WriteLine);
            bool asJson = parse.GetValue(json);
            // Progress to stderr in both modes: a bench takes about 35 s a round, and stdout keeps the table or the JSON alone.
            var report = EngineBench.Run(dataset.Train, dataset.Test, roundCount, log: ctx.Err.WriteLine);
            if (asJson)
            {
                ctx.WriteJson(new
                {
                    cores = Environment.ProcessorCount,
                    rounds = report.Rounds,
                    path = report.BestPath.ToOption(),
                    supportedPaths = report.SupportedPaths.Select(p => p.ToOption()),
                    baseline = report.Baseline,
                    benchmarks = report.Benchmarks,
                    evaluate = report.Evaluate,
                    summary = BenchSummary.Of(report),
                });
                return 0;
            }
            ctx.Out.WriteLine($"{"path",-19}{"config",-20}{"threads",8}{"images/s",12}{"x FP32",9}{"x scalar",10}{"alloc/10k",12}");
            foreach (var r in report.Benchmarks)
                ctx.Out.WriteLine($"{r.Path,-19}{r.Config,-20}{r.Threads,8}{r.ImagesPerSecond,12:N0}{r.RatioToTorch,9:F2}{r.RatioToBaseline,10:F1}{Bytes(r.AllocatedBytesPer10k),12}");
            var e = report.Evaluate;
            ctx.Out.WriteLine($"evaluate job ({e.Config}): {e.EvaluateSeconds:F3} s vs inference {e.InferenceSeconds:F3} s ({e.Ratio:F2}x), {e.EvaluateAllocatedBytes / 1048576.0:F1} MiB allocated");
            if (BenchSummary.Of(report) is { } sum)
                ctx.Out.WriteLine($"{sum.Path} 8/8 on {sum.Threads} thread{(sum.Threads > 1 ? "s" : "")}: {sum.RatioToTorch:F2}x TorchSharp FP32"
                    + (sum.OneThreadShare is { } share ? $"; 1 thread {share * 100:F1} % of {sum.Threads} threads" : "")
                    + (sum.SlowestConfig is { } slowest ? $"; slowest other configuration {slowest}, {sum.SlowestFactor:F2}x slower than 8/8" : ""));
            ctx.Out.WriteLine($"({Environment.ProcessorCount} cores; kernel path used by default: {report.BestPath.ToOption()}; "
                + $"supported: {string.Join(", ", report.SupportedPaths.Select(p => p.ToOption()))}; x FP32 = ratio to TorchSharp FP32 of this run; {Timing}, in the fastest of {report.Rounds} round{(report.Rounds > 1 ? "s" : "")})");
            return 0;
        });
        return command;
    }

    private static string Bytes(long bytes) => bytes >= 1 << 20 ? $"{bytes / (1024.0 * 1024):F1} MiB" : bytes >= 1 << 10 ? $"{bytes / 1024.0:F1} KiB" : $"{bytes} B";
}
