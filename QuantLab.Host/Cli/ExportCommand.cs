using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using QuantLab.Actors.Messages;
using QuantLab.Actors.Storage;
using QuantLab.Actors.Workers;
using QuantLab.Engine;
using QuantLab.Engine.Data;
using QuantLab.Engine.Export;
using QuantLab.Engine.Jobs;
using QuantLab.Engine.Quantization;
using QuantLab.Host.Lab;
using QuantLab.Host.Output;

namespace QuantLab.Host.Cli;

/// <summary>
/// <c>quantlab export CAMPAIGN --job KEY --out DIR</c>: a campaign job's model, from the database alone. An
/// evaluate job is run again on the worker's path (<see cref="EngineJobExecutor.Evaluate"/>, the same records
/// and upstream artifacts) and written in the export format of DESIGN.md §4; its predictions must equal the
/// recorded ones. A train job's model directory is written as <c>quantlab train</c> writes it.
/// <c>--format onnx|hw</c> writes an evaluation's integer model as ONNX (<see cref="OnnxExport"/>) or as a hardware kit;
/// <c>--model EXPORT</c> takes the integer model from an existing export directory (<c>quantize --out</c>, also of a
/// QAT model, or <c>export --format npy</c>) instead of a campaign job.
/// </summary>
public static class ExportCommand
{
    public const string Formats = "npy, onnx, hw";

    public static Command Create(Func<CliContext> context)
    {
        var campaign = LabOptions.NamedArgument<string>("campaign", "The campaign's name (or give --model)", optional: true);
        var job = new Option<string>("--job") { Description = "The job's key (as in the report; a unique prefix of 8 or more characters will do)" };
        var fromModel = new Option<string>("--model") { Description = "An export directory (quantize --out, of a PTQ or QAT model, or export --format npy) to write as onnx or hw, instead of CAMPAIGN --job" };
        var onnxStyle = new Option<string>("--onnx-style") { Description = "onnx only: exact (standard ops, ONNX Runtime gives the engine's logits bit for bit) or qdq (QuantizeLinear/DequantizeLinear, half-even models of at most 8 bits; approximate, agreement recorded)", DefaultValueFactory = _ => "exact" };
        var output = new Option<string>("--out") { Description = "Directory to write (written whole or not at all)", Required = true };
        var format = new Option<string>("--format")
        {
            Description = "npy: model.json + NumPy arrays + testset/ (docs/design.md §4); onnx: model.onnx + testset/ (see README, 'ONNX export'); hw: the hardware testbench kit (see README, 'Hardware kit')",
            DefaultValueFactory = _ => "npy",
        };
        var vectors = new Option<int>("--vectors") { Description = "hw only: golden vectors for this many test images", DefaultValueFactory = _ => HardwareKit.DefaultVectors };
        var db = LabOptions.Database();
        var data = DataCommand.DataDirOption();
        var json = new Option<bool>("--json") { Description = "Print one JSON document: job, kind, out, and for an evaluation accuracy, predictionsSha256, matchesRecord" };
        var command = new Command("export", "Write a campaign job's model: an evaluate job's quantized integer model (export format), or a train job's model directory")
        {
            campaign, job, fromModel, output, format, onnxStyle, vectors, db, data, json,
        };
        command.SetAction(async (parse, cancel) =>
        {
            var ctx = context();
            var fmt = parse.GetValue(format) ?? "npy";
            if (fmt is not ("npy" or "onnx" or "hw"))
                throw new BadInputException($"--format '{fmt}' is not available; allowed: {Formats}");
            var style = OnnxExport.ParseStyle(parse.GetValue(onnxStyle));
            int vectorCount = parse.GetValue(vectors);
            if (vectorCount < 1) throw new BadInputException($"--vectors {vectorCount}: give at least 1");
            var outDir = parse.GetValue(output)!;
            DataCommand.EnsureWritableParent(outDir);
            if (parse.GetValue(fromModel) is { } source)
            {
                if (parse.GetValue(campaign) is not null || parse.GetValue(job) is not null)
                    throw new BadInputException("give either --model EXPORT or CAMPAIGN --job KEY, not both");
                if (fmt == "npy")
                    throw new BadInputException($"--model '{source}' is already in the npy format; choose --format onnx or hw");
                var (model, recorded, manifest) = IntExport.Read(source);
                if (recorded is null)
                {
                    var dataset = DataAccess.Load(ctx, parse.GetValue(data), manifest["inputTransform"]?.GetValue<string>() ?? "resize", ctx.Err.WriteLine);
                    var inputs = Engine.Ptq.QuantizeJob.QuantizeInputs(model, dataset.Test);
                    recorded = new ExportedTestSet(inputs, dataset.Test.Labels, Engine.Int.IntegerEngine.Run(model, inputs), model.Layers.Last().OutChannels);
                }
                return WriteOther(ctx, fmt, style, vectorCount, outDir, model, recorded, manifest["quantization"], Path.GetFullPath(source), parse.GetValue(json));
            }
            if (parse.GetValue(campaign) is null || parse.GetValue(job) is null)
                throw new BadInputException("give CAMPAIGN --job KEY (a campaign job) or --model EXPORT (an export directory)");
            var database = LabOptions.Store(ctx, parse.GetValue(db));
            var name = parse.GetValue(campaign)!;
            var state = await LabReader.LoadAsync(database);
            LabReader.RequireCampaign(state, name, database);
            var results = state.Results(name).Results;
            var result = Find(results, parse.GetValue(job)!, name);
            var byKey = state.Results(name).Results.ToDictionary(r => r.Key);
            var store = new DbArtifactStore(database);

            object document;
            switch (result.Job)
            {
                case Fp32TrainJob or QatTrainJob when fmt != "npy":
                    throw new BadInputException($"job {result.Key} ({result.Label}) is a training: its model is float; export one of its evaluate jobs (a quantized model) as {fmt}");
                case Fp32TrainJob or QatTrainJob:
                    AtomicFile.WriteDirectory(outDir, tmp =>
                    {
                        foreach (var (artifact, hash) in result.Artifacts.Where(a => a.Key.StartsWith(EngineArtifacts.ModelPrefix, StringComparison.Ordinal)))
                            File.WriteAllBytes(Path.Combine(tmp, artifact[EngineArtifacts.ModelPrefix.Length..]), store.Get(hash));
                    });
                    document = new { job = result.Key, kind = "train", label = result.Label, @out = Path.GetFullPath(outDir) };
                    break;
                case EvaluateJob { Quantization.Scope: QuantScope.All } evaluate:
                {
                    var options = DataAccess.Options(ctx, parse.GetValue(data));
                    var executor = new EngineJobExecutor(new MnistProvider(() => MnistAcquirer.FromOptions(options).Acquire(ctx.Err.WriteLine)),
                        new EngineExecutorOptions(TorchThreads: ctx.Options.Training.Threads, IntegerThreads: 0));
                    IReadOnlyDictionary<string, string> Upstream(string role) =>
                        byKey.TryGetValue(evaluate.UpstreamKey(role), out var r) ? r.Artifacts
                            : throw new InfrastructureException($"{database.Name}: the {role} job {evaluate.UpstreamKey(role)} of {result.Key} has no recorded result");
                    var output2 = executor.Evaluate(evaluate, Upstream, store).Result;
                    var recorded = result.Metrics.Text.GetValueOrDefault("predictionsSha256");
                    bool matches = recorded == output2.PredictionsSha256;
                    if (!matches)
                        ctx.Err.WriteLine($"error: the re-run's predictions ({output2.PredictionsSha256}) differ from the recorded ones ({recorded})");
                    if (fmt != "npy")
                    {
                        var quantization = JsonSerializer.SerializeToNode(QuantizeCommand.ConfigJson(evaluate.Quantization), JsonOutput.Options);
                        int code = WriteOther(ctx, fmt, style, vectorCount, outDir, output2.IntModel!, output2.TestSet!, quantization, $"{Source(database)}#{name}/{result.Key}", parse.GetValue(json));
                        return matches ? code : 1;
                    }
                    IntExport.Write(outDir, output2.IntModel!, output2.TestSet, new JsonObject
                    {
                        ["inputTransform"] = evaluate.Data.InputTransform,
                        ["quantization"] = JsonSerializer.SerializeToNode(QuantizeCommand.ConfigJson(evaluate.Quantization), JsonOutput.Options),
                        ["source"] = $"{Source(database)}#{name}/{result.Key}",
                        // Who computed the recorded result: its node's address and, with TLS, its certificate's subject.
                        ["producedBy"] = new JsonObject { ["node"] = result.Node, ["identity"] = result.Identity },
                        ["ranges"] = evaluate.Method == EvaluationMethod.Qat ? "qat" : "calibration",
                        ["job"] = JobCodec.Write(evaluate),
                    });
                    if (!matches) ctx.Err.WriteLine("error: the export holds the re-run");
                    document = new
                    {
                        job = result.Key, kind = "evaluate", label = result.Label, @out = Path.GetFullPath(outDir),
                        accuracy = output2.Accuracy, predictionsSha256 = output2.PredictionsSha256, matchesRecord = matches,
                    };
                    if (parse.GetValue(json)) ctx.WriteJson(document);
                    else ctx.Out.WriteLine($"{result.Label}: export written to {Path.GetFullPath(outDir)} (accuracy {output2.Accuracy * 100:F2}%, {(matches ? "same predictions as recorded" : "predictions DIFFER from the record")})");
                    return matches ? 0 : 1;
                }
                case EvaluateJob:
                    throw new BadInputException($"job {result.Key} ({result.Label}) runs scope weights, in float; the integer export needs scope all");
                default:
                    throw new BadInputException($"job {result.Key} ({result.Label}) is a {result.Kind.ToString().ToLowerInvariant()} job; export an evaluate job (a quantized model) or a train job (its model)");
            }
            if (parse.GetValue(json)) ctx.WriteJson(document);
            else ctx.Out.WriteLine($"{result.Label}: model written to {Path.GetFullPath(outDir)}");
            return 0;
        });
        return command;
    }

    /// <summary>Writes an integer model in the onnx or hw format; exit 1 when an exact ONNX export disagrees with the engine.</summary>
    private static int WriteOther(CliContext ctx, string format, OnnxStyle style, int vectors, string outDir, Engine.Int.IntModel model, ExportedTestSet testSet,
        JsonNode? quantization, string source, bool json)
    {
        if (format == "hw")
        {
            HardwareKit.Write(outDir, model, testSet, vectors, quantization);
            var kit = Path.GetFullPath(outDir);
            int written = Math.Min(vectors, testSet.Count);
            if (json) ctx.WriteJson(new { source, format, @out = kit, vectors = written, accuracy = testSet.Accuracy, predictionsSha256 = testSet.PredictionsSha256 });
            else ctx.Out.WriteLine($"Hardware kit written to {kit} ({written} golden vectors); check it with: cc -std=c99 -O2 -ffp-contract=off -o reference {Path.Combine(kit, "reference.c")} -lm && ./reference {kit}");
            return 0;
        }
        var agreement = OnnxExport.Write(outDir, model, testSet, style, quantization);
        bool ok = style != OnnxStyle.Exact || agreement.Exact;
        var file = Path.Combine(Path.GetFullPath(outDir), OnnxExport.FileName);
        if (json)
            ctx.WriteJson(new
            {
                source, format, onnxStyle = style.ToOption(), @out = file, accuracy = testSet.Accuracy, count = testSet.Count,
                predictionsSha256 = testSet.PredictionsSha256, bitExact = agreement.Exact,
                predictionAgreement = agreement.PredictionAgreement, logitAgreement = agreement.LogitAgreement,
                maxAbsLogitDifference = agreement.MaxAbsLogitDifference, firstDifference = agreement.FirstDifference,
            });
        else
        {
            ctx.Out.WriteLine($"ONNX ({style.ToOption()}, opset {OnnxExport.Opset}) written to {file}");
            ctx.Out.WriteLine(agreement.Exact
                ? $"ONNX Runtime reproduces the engine's logits bit for bit on {testSet.Count} test images (accuracy {testSet.Accuracy * 100:F2}%)."
                : $"ONNX Runtime vs the engine on {testSet.Count} test images: predictions {agreement.PredictionAgreement * 100:F2}% equal, logits {agreement.LogitAgreement * 100:F2}% equal (max |difference| {agreement.MaxAbsLogitDifference}; first at {agreement.FirstDifference}).");
        }
        if (!ok) ctx.Err.WriteLine($"error: the exact ONNX graph disagrees with the engine (first at {agreement.FirstDifference}); please report it");
        return ok ? 0 : 1;
    }

    private static JobResult Find(IReadOnlyList<JobResult> results, string key, string campaign)
    {
        var matches = key.Length >= 8 ? results.Where(r => r.Key.StartsWith(key, StringComparison.OrdinalIgnoreCase)).ToList() : [];
        return matches.Count switch
        {
            1 when matches[0].Status == OutcomeStatus.Succeeded => matches[0],
            1 => throw new BadInputException($"job {matches[0].Key} of '{campaign}' did not succeed ({matches[0].Error}); nothing to export"),
            0 => throw new BadInputException($"--job '{key}': no finished job of '{campaign}' has that key" + (key.Length < 8 ? " (give at least 8 characters)" : "") +
                                             "; `quantlab report CAMPAIGN --format csv` lists the keys"),
            _ => throw new BadInputException($"--job '{key}' matches {matches.Count} jobs of '{campaign}'; give more characters"),
        };
    }

    /// <summary>Where an export came from: the SQLite file's path, or the PostgreSQL database's name (no password).</summary>
    private static string Source(LabStore database) => database is SqliteLabStore sqlite ? sqlite.Path : database.Name;
}
