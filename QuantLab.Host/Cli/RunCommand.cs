using System.CommandLine;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using QuantLab.Actors.Hosting;
using QuantLab.Actors.Messages;
using QuantLab.Engine;
using QuantLab.Host.Lab;
using QuantLab.Host.Reports;

namespace QuantLab.Host.Cli;

/// <summary><c>quantlab run SPEC</c>: a single-process lab (coordinator + workers on SQLite) that runs one
/// campaign to its end. Running it again resumes: finished jobs are not run again.</summary>
public static class RunCommand
{
    public static Command Create(Func<CliContext> context)
    {
        var spec = new Argument<string>("spec") { Description = "The campaign spec (experiments/*.json)" };
        var db = LabOptions.Database();
        var workers = LabOptions.Workers();
        var json = new Option<bool>("--json") { Description = "Print the final status as one JSON document (campaign, state, jobs)" };
        var command = new Command("run", "Run a campaign in this process (coordinator + workers); running it again resumes") { spec, db, workers, json };
        command.SetAction(async (parse, cancel) =>
        {
            var ctx = context();
            var plan = LabOptions.Plan(parse.GetValue(spec)!);
            var path = LabOptions.DatabasePath(ctx, parse.GetValue(db));
            var count = LabOptions.WorkerCount(ctx, parse.GetValue(workers));
            if (count < 1) throw new BadInputException("run needs at least one worker (--workers 1 or more)");
            using var exclusive = RunLock.Acquire(path);
            using var host = LabHost.Build(ctx, new LabProcess(path, Coordinator: true, count, Cluster: null));
            await LabHost.StartAsync(host, cancel);
            try
            {
                var system = host.Services.GetRequiredService<ActorSystem>();
                var coordinator = await host.Services.GetRequiredService<ActorRegistry>().GetAsync<CoordinatorKey>(cancel);
                var accepted = await CampaignClient.SubmitAsync(coordinator, plan, TimeSpan.FromSeconds(60), cancel);
                ctx.Err.WriteLine($"campaign {plan.Campaign}: {accepted.Total} jobs ({accepted.Reused} already known, {accepted.Dropped} impossible combinations dropped); {count} workers");
                // Grouped by reason; the report's JSON lists every dropped combination.
                foreach (var (reason, n, example) in plan.DroppedByReason())
                    ctx.Err.WriteLine($"  dropped {n}: {reason} (e.g. {example})");
                var progress = ProgressPrinter.For(ctx);
                CampaignStatus final;
                try
                {
                    final = await CampaignClient.FollowAsync(system, coordinator, plan.Campaign, progress.Report, cancel);
                }
                finally
                {
                    progress.Finish();
                }
                StatusCommand.Print(ctx, final, parse.GetValue(json));
                // The report goes beside the database: .quantlab/reports/<campaign>/ by default.
                var reports = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, "reports", plan.Campaign);
                var html = ReportFiles.WriteAll(ctx, path, await LabReader.LoadAsync(path), plan.Campaign, reports);
                ctx.Err.WriteLine($"report: {html} (and .md, .json, .csv beside it)");
                return final.Failed > 0 ? 1 : 0;
            }
            finally
            {
                await host.StopAsync(CancellationToken.None);
            }
        });
        return command;
    }
}

/// <summary>
/// A progress line with throughput and the estimated time left. Jobs of different stages take very different
/// times (a training minutes, an evaluation a second), so time left is estimated per stage, from that stage's
/// own jobs finished since this run first saw it at work; a stage none of whose jobs has finished yet is named
/// as not timed. A resumed campaign starts with some jobs finished: they do not count as this run's.
/// </summary>
public sealed class ProgressLine(Func<TimeSpan>? clock = null)
{
    private readonly Func<TimeSpan> _now = clock ?? StartClock();
    private readonly Dictionary<string, (int Finished, TimeSpan At)> _stageSeen = new(StringComparer.Ordinal);
    private int? _finishedAtStart;

    public string Describe(QuantLab.Actors.Messages.CampaignStatus s)
    {
        var now = _now();
        int finished = s.Done + s.Failed;
        _finishedAtStart ??= finished;
        double minutes = now.TotalMinutes, rate = minutes > 0 ? (finished - _finishedAtStart.Value) / minutes : 0;
        var stages = s.Stages is { Count: > 0 } list
            ? " | " + string.Join(", ", list.Select(x => $"{x.Stage} {x.Done + x.Failed}/{x.Total}{(x.Failed > 0 ? $" ({x.Failed} failed)" : "")}{(x.Running > 0 ? $" ({x.Running} running)" : "")}"))
            : "";
        return $"[{now:hh\\:mm\\:ss}] {CampaignClient.Describe(s)}{stages}; {rate:F1} jobs/min{TimeLeft(s, now, rate)}";
    }

    private static Func<TimeSpan> StartClock()
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        return () => watch.Elapsed;
    }

    private string TimeLeft(QuantLab.Actors.Messages.CampaignStatus s, TimeSpan now, double overallRatePerMinute)
    {
        if (s.Finished) return "";
        if (s.Stages is not { Count: > 0 } stages)   // a coordinator that sends no stages: the overall rate
            return overallRatePerMinute > 0 ? $", about {TimeSpan.FromMinutes((s.Total - s.Done - s.Failed) / overallRatePerMinute):hh\\:mm\\:ss} left" : "";
        double seconds = 0;
        var untimed = new List<string>();
        foreach (var stage in stages)
        {
            int finished = stage.Done + stage.Failed, left = stage.Total - finished;
            if (!_stageSeen.ContainsKey(stage.Stage) && (stage.Running > 0 || finished > 0)) _stageSeen[stage.Stage] = (finished, now);
            if (left == 0) continue;
            if (_stageSeen.TryGetValue(stage.Stage, out var seen) && finished > seen.Finished && now > seen.At)
                seconds += left * (now - seen.At).TotalSeconds / (finished - seen.Finished);
            else
                untimed.Add(stage.Stage);
        }
        if (untimed.Count == stages.Count(x => x.Done + x.Failed < x.Total)) return untimed.Count > 0 ? $", time left unknown until the first {untimed[0]} job finishes" : "";
        var rest = untimed.Count > 0 ? $" plus {string.Join(" and ", untimed)} (not timed yet)" : "";
        return $", about {TimeSpan.FromSeconds(seconds):hh\\:mm\\:ss} left{rest}";
    }
}

/// <summary>
/// Where progress goes: on a terminal one line redrawn in place; otherwise (a file, a pipe, CI) plain
/// lines, at most one every <c>QuantLab:Orchestration:ProgressSeconds</c>, and always the last one.
/// </summary>
public sealed class ProgressPrinter(TextWriter error, bool terminal, TimeSpan interval)
{
    private readonly ProgressLine _line = new();
    private readonly System.Diagnostics.Stopwatch _sinceLast = System.Diagnostics.Stopwatch.StartNew();
    private bool _printedAny, _redrawn;

    public static ProgressPrinter For(CliContext ctx) => new(ctx.Err,
        terminal: ReferenceEquals(ctx.Err, Console.Error) && !Console.IsErrorRedirected,
        TimeSpan.FromSeconds(ctx.Options.Orchestration.ProgressSeconds));

    public void Report(QuantLab.Actors.Messages.CampaignStatus status)
    {
        var text = _line.Describe(status);
        if (terminal)
        {
            error.Write("\r" + text + "\u001b[K");
            _redrawn = true;
            if (status.Finished) Finish();
            return;
        }
        if (status.Finished || !_printedAny || _sinceLast.Elapsed >= interval)
        {
            error.WriteLine(text);
            _printedAny = true;
            _sinceLast.Restart();
        }
    }

    /// <summary>Ends the redrawn line (after the last status, or when the run stops early).</summary>
    public void Finish()
    {
        if (!_redrawn) return;
        error.WriteLine();
        _redrawn = false;
    }
}

/// <summary>One <c>run</c> per database at a time: two single-process coordinators on one journal would interleave.</summary>
public sealed class RunLock : IDisposable
{
    private readonly FileStream _file;

    private RunLock(FileStream file) => _file = file;

    public static RunLock Acquire(string databasePath)
    {
        var path = Path.GetFullPath(databasePath) + ".run-lock";
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            return new RunLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
        }
        catch (IOException e)
        {
            throw new InfrastructureException($"database {databasePath} is in use by another 'quantlab run' ({e.Message})", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new InfrastructureException($"database {databasePath}: cannot write beside it ({e.Message})", e);
        }
    }

    public void Dispose() => _file.Dispose();
}
