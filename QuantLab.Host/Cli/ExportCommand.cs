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
/// </summary>
public static class ExportCommand
{
    public const string Formats = "npy";

    public static Command Create(Func<CliContext> context)
    {
        var campaign = new Argument<string>("campaign") { Description = "The campaign's name" };
        var job = new Option<string>("--job") { Description = "The job's key (as in the report; a unique prefix of 8 or more characters will do)", Required = true };
        var output = new Option<string>("--out") { Description = "Directory to write (written whole or not at all)", Required = true };
        var format = new Option<string>("--format")
        {
            Description = "npy: model.json + NumPy arrays + testset/ (DESIGN.md §4); the onnx and hw formats are not built yet",
            DefaultValueFactory = _ => "npy",
        };
        var db = LabOptions.Database();
        var data = DataCommand.DataDirOption();
        var json = new Option<bool>("--json") { Description = "Print one JSON document: job, kind, out, and for an evaluation accuracy, predictionsSha256, matchesRecord" };
        var command = new Command("export", "Write a campaign job's model: an evaluate job's quantized integer model (export format), or a train job's model directory")
        {
            campaign, job, output, format, db, data, json,
        };
        command.SetAction(async (parse, cancel) =>
        {
            var ctx = context();
            if (parse.GetValue(format) is var fmt && fmt != "npy")
                throw new BadInputException($"--format '{fmt}' is not available; allowed: {Formats}");
            var outDir = parse.GetValue(output)!;
            DataCommand.EnsureWritableParent(outDir);
            var path = LabOptions.DatabasePath(ctx, parse.GetValue(db));
            var name = parse.GetValue(campaign)!;
            var state = await LabReader.LoadAsync(path);
            LabReader.RequireCampaign(state, name, path);
            var results = state.Results(name).Results;
            var result = Find(results, parse.GetValue(job)!, name);
            var byKey = state.Results(name).Results.ToDictionary(r => r.Key);
            var store = new SqliteArtifactStore(path);

            object document;
            switch (result.Job)
            {
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
                            : throw new InfrastructureException($"{path}: the {role} job {evaluate.UpstreamKey(role)} of {result.Key} has no recorded result");
                    var output2 = executor.Evaluate(evaluate, Upstream, store).Result;
                    var recorded = result.Metrics.Text.GetValueOrDefault("predictionsSha256");
                    bool matches = recorded == output2.PredictionsSha256;
                    IntExport.Write(outDir, output2.IntModel!, output2.TestSet, new JsonObject
                    {
                        ["inputTransform"] = evaluate.Data.InputTransform,
                        ["quantization"] = JsonSerializer.SerializeToNode(QuantizeCommand.ConfigJson(evaluate.Quantization), JsonOutput.Options),
                        ["source"] = $"{Path.GetFullPath(path)}#{name}/{result.Key}",
                        ["ranges"] = evaluate.Method == EvaluationMethod.Qat ? "qat" : "calibration",
                        ["job"] = JobCodec.Write(evaluate),
                    });
                    if (!matches)
                        ctx.Err.WriteLine($"error: the re-run's predictions ({output2.PredictionsSha256}) differ from the recorded ones ({recorded}); the export holds the re-run");
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
}
