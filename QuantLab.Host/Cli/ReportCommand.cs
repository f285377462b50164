using System.CommandLine;
using System.Text.Json.Nodes;
using QuantLab.Actors.Planning;
using QuantLab.Engine;
using QuantLab.Host.Lab;

namespace QuantLab.Host.Cli;

/// <summary><c>quantlab report CAMPAIGN --format json</c>: every job's result, read from the database's events.
/// (Tables, plots and the md/csv/html formats belong to the host issue.)</summary>
public static class ReportCommand
{
    public static Command Create(Func<CliContext> context)
    {
        var campaign = new Argument<string>("campaign") { Description = "The campaign's name" };
        var db = LabOptions.Database();
        var format = new Option<string>("--format") { Description = "Output format: json (results: one entry per job with job, kind, params, metrics)", DefaultValueFactory = _ => "json" };
        var command = new Command("report", "Report a campaign's results from the database") { campaign, db, format };
        command.SetAction(async (parse, cancel) =>
        {
            var ctx = context();
            if (parse.GetValue(format) != "json")
                throw new BadInputException($"--format {parse.GetValue(format)}: only json is implemented so far");
            var path = LabOptions.DatabasePath(ctx, parse.GetValue(db));
            var name = parse.GetValue(campaign)!;
            var state = await LabReader.LoadAsync(path);
            LabReader.RequireCampaign(state, name, path);
            var entry = state.Campaigns[name];
            var results = state.Results(name);
            ctx.WriteJson(new
            {
                campaign = name,
                status = StatusCommand.Document(state.Status(name)),
                engineVersion = entry.EngineVersion,
                results = results.Results.Select(r => new
                {
                    job = r.Key,
                    kind = JobKeys.KindName(r.Kind),
                    label = r.Label,
                    @params = JsonNode.Parse(r.Parameters),
                    upstream = r.Upstream,
                    status = r.Status.ToString(),
                    metrics = new { numbers = r.Metrics.Numbers, text = r.Metrics.Text },
                    artifacts = r.Artifacts,
                    error = r.Error,
                    node = r.Node,
                    worker = r.Worker,
                    engineVersion = r.EngineVersion,
                    attempt = r.Attempt,
                    durationMs = r.DurationMs,
                }),
                failed = results.Failed.Select(f => new { job = f.Key, kind = JobKeys.KindName(f.Kind), label = f.Label, error = f.Error, attempts = f.Attempts }),
                dropped = entry.Dropped.Select(d => new { description = d.Description, reason = d.Reason }),
            });
            return 0;
        });
        return command;
    }
}
