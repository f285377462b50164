using System.CommandLine;
using QuantLab.Engine.Int;
using QuantLab.Engine.Reports;

namespace QuantLab.Host.Cli;

/// <summary><c>quantlab bench</c>: engine throughput as ratios against a baseline measured in the same run.</summary>
public static class BenchCommand
{
    public static Command Create(Func<CliContext> context)
    {
        var json = new Option<bool>("--json") { Description = "Print one JSON document: baseline, benchmarks (name, imagesPerSecond, ratioToBaseline, images, seconds)" };
        var data = DataCommand.DataDirOption();
        var orchestration = new Option<bool>("--orchestration") { Description = "Instead: jobs per second of orchestration alone (trivial jobs) on one node and on three in-process cluster nodes" };
        var jobs = new Option<int>("--jobs") { Description = "Trivial jobs per orchestration measurement", DefaultValueFactory = _ => 300 };
        var command = new Command("bench", "Integer engine and FP32 inference throughput on the MNIST test set, as ratios to the scalar reference path") { data, json, orchestration, jobs };
        command.SetAction(async (parse, cancel) =>
        {
            var ctx = context();
            if (parse.GetValue(orchestration))
            {
                var n = parse.GetValue(jobs);
                if (n is < 1 or > 100_000) throw new QuantLab.Engine.BadInputException($"--jobs must be 1..100000 (got {n})");
                var measured = await QuantLab.Host.Lab.OrchestrationBench.RunAsync(ctx.Options, n, workersPerNode: 2, ctx.Err.WriteLine);
                if (parse.GetValue(json)) ctx.WriteJson(new { cores = Environment.ProcessorCount, orchestration = measured });
                else
                {
                    ctx.Out.WriteLine($"{"benchmark",-32}{"nodes",6}{"workers/node",14}{"jobs",7}{"seconds",10}{"jobs/s",10}");
                    foreach (var r in measured) ctx.Out.WriteLine($"{r.Name,-32}{r.Nodes,6}{r.WorkersPerNode,14}{r.Jobs,7}{r.Seconds,10:F2}{r.JobsPerSecond,10:F1}");
                    ctx.Out.WriteLine($"({Environment.ProcessorCount} cores; one SQLite journal; the 3 nodes share this process)");
                }
                return 0;
            }
            var dataset = DataAccess.Load(ctx, parse.GetValue(data), "resize", ctx.Err.WriteLine);
            bool asJson = parse.GetValue(json);
            var results = EngineBench.Run(dataset.Train, dataset.Test, log: asJson ? ctx.Err.WriteLine : null);
            if (asJson)
            {
                ctx.WriteJson(new
                {
                    baseline = results[0].Name,
                    cores = Environment.ProcessorCount,
                    vectorized = FastKernels.Vectorized,
                    benchmarks = results,
                });
                return 0;
            }
            ctx.Out.WriteLine($"{"benchmark",-58}{"images/s",12}{"× baseline",12}");
            foreach (var r in results) ctx.Out.WriteLine($"{r.Name,-58}{r.ImagesPerSecond,12:N0}{r.RatioToBaseline,12:F1}");
            ctx.Out.WriteLine($"({Environment.ProcessorCount} cores; AVX2 fast path: {(FastKernels.Vectorized ? "yes" : "no")})");
            return 0;
        });
        return command;
    }
}
