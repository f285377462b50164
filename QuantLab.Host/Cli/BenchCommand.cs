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
        var command = new Command("bench", "Integer engine and FP32 inference throughput on the MNIST test set, as ratios to the scalar reference path") { data, json };
        command.SetAction(parse =>
        {
            var ctx = context();
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
