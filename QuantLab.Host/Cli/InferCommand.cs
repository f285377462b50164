using System.CommandLine;
using QuantLab.Engine;
using QuantLab.Engine.Export;
using QuantLab.Engine.Int;
using QuantLab.Engine.Ptq;

namespace QuantLab.Host.Cli;

/// <summary><c>quantlab infer</c>: re-runs an exported integer model on the MNIST test set and checks
/// it against what the export recorded.</summary>
public static class InferCommand
{
    public static Command Create(Func<CliContext> context)
    {
        var model = new Option<string>("--model") { Description = "Export directory (written by 'quantlab quantize --out' or 'quantlab export'), or an ONNX export's model.onnx (run through ONNX Runtime)", Required = true };
        var threads = new Option<int>("--threads") { Description = "Threads of the integer engine (0: all cores)", DefaultValueFactory = _ => 0 };
        var data = DataCommand.DataDirOption();
        var json = new Option<bool>("--json") { Description = "Print one JSON document: accuracy, count, predictionsSha256, matchesExport, logitMismatches" };
        var command = new Command("infer", "Run an exported integer model (or its ONNX export, through ONNX Runtime) on the MNIST test set; exit 1 if it disagrees with the export's recorded logits")
        {
            model, threads, data, json,
        };
        command.SetAction(parse =>
        {
            var ctx = context();
            var dir = parse.GetValue(model)!;
            if (OnnxInfer.IsOnnxPath(dir)) return OnnxInfer.Run(ctx, dir, parse.GetValue(threads), parse.GetValue(json));
            var (intModel, recorded, manifest) = IntExport.Read(dir);
            var transform = manifest["inputTransform"]?.GetValue<string>() ?? "resize";
            var dataset = DataAccess.Load(ctx, parse.GetValue(data), transform, ctx.Err.WriteLine);
            // The images the export was measured on: the whole test set, or a campaign job's first N (its testLimit).
            var test = recorded is null ? dataset.Test : dataset.Test.Take(Math.Min(recorded.Count, dataset.Test.Count));
            var inputs = QuantizeJob.QuantizeInputs(intModel, test);
            var logits = IntegerEngine.Run(intModel, inputs, parse.GetValue(threads));
            var classes = logits.Length / test.Count;
            var result = new ExportedTestSet(inputs, test.Labels, logits, classes);

            int? mismatches = null;
            bool inputsMatch = true;
            if (recorded is not null)
            {
                inputsMatch = recorded.Inputs.AsSpan().SequenceEqual(inputs);
                mismatches = recorded.Logits.Length != logits.Length ? logits.Length : recorded.Logits.Zip(logits).Count(p => p.Item1 != p.Item2);
            }
            bool matches = recorded is null || (inputsMatch && mismatches == 0);
            if (parse.GetValue(json))
            {
                ctx.WriteJson(new
                {
                    accuracy = result.Accuracy,
                    count = result.Count,
                    predictionsSha256 = result.PredictionsSha256,
                    matchesExport = recorded is null ? (bool?)null : matches,
                    inputsMatchExport = recorded is null ? (bool?)null : inputsMatch,
                    logitMismatches = mismatches,
                });
            }
            else
            {
                ctx.Out.WriteLine($"Accuracy: {result.Accuracy * 100:F2}% on {result.Count} test images");
                ctx.Out.WriteLine($"Predictions SHA-256: {result.PredictionsSha256}");
                if (recorded is null) ctx.Out.WriteLine("The export holds no testset/ to compare with.");
                else ctx.Out.WriteLine(matches
                    ? "Matches the export: same quantized inputs, same logits."
                    : $"DIFFERS from the export: inputs {(inputsMatch ? "equal" : "differ")}, {mismatches} logits differ.");
            }
            return matches ? 0 : 1;
        });
        return command;
    }
}
