using System.CommandLine;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using QuantLab.Actors.Hosting;
using QuantLab.Actors.Messages;
using QuantLab.Actors.Storage;
using QuantLab.Engine;
using QuantLab.Host.Lab;
using QuantLab.Host.Progress;
using QuantLab.Host.Reports;

namespace QuantLab.Host.Cli;

/// <summary><c>quantlab run SPEC</c>: a single-process lab (coordinator + workers, on the configured database) that runs one
/// campaign to its end. Running it again resumes: finished jobs are not run again.</summary>
public static class RunCommand
{
    public static Command Create(Func<CliContext> context)
    {
        var spec = LabOptions.NamedArgument<string>("spec", "The campaign spec (experiments/*.json)");
        var db = LabOptions.Database();
        var workers = LabOptions.Workers();
        var json = LabOptions.FinalStatusJson();
        var command = new Command("run", "Run a campaign in this process (coordinator + workers); running it again resumes") { spec, db, workers, json };
        command.SetAction(async (parse, cancel) =>
        {
            var ctx = context();
            var plan = LabOptions.Plan(ctx, parse.GetValue(spec)!);
            var store = LabOptions.Store(ctx, parse.GetValue(db));
            var count = LabOptions.WorkerCount(ctx, parse.GetValue(workers));
            if (count < 1) throw new BadInputException("run needs at least one worker (--workers 1 or more)");
            return await RunLabAsync(ctx, store, count, plan.Campaign, parse.GetValue(json), parse.GetValue(QuantLabCli.Verbose), async (coordinator, watch, c) =>
            {
                var accepted = await watch.Guard(t => CampaignClient.SubmitAsync(coordinator, plan, TimeSpan.FromSeconds(60), t), c);
                ctx.Err.WriteLine($"campaign {plan.Campaign}: {accepted.Total} jobs ({accepted.Reused} already known, {accepted.Dropped} impossible combinations dropped); {count} workers");
                if (WorkEstimate.Describe(accepted.Estimate, count) is { } estimate) ctx.Err.WriteLine(estimate);
                // Grouped by reason; the report's JSON lists every dropped combination.
                foreach (var (reason, n, example) in plan.DroppedByReason())
                    ctx.Err.WriteLine($"  dropped {n}: {reason} (e.g. {example})");
            }, cancel);
        });
        return command;
    }

    /// <summary>
    /// A single-process lab on <paramref name="store"/> (held alone) that lets <paramref name="start"/> give its
    /// coordinator work for <paramref name="campaign"/>, follows the campaign to its end, prints its status, writes
    /// its report in the store's local directory (beside a SQLite file), and returns the exit code: 3 when the environment failed jobs (fix it and
    /// run again: they are retried), 1 when configurations failed, else 0. Shared by <c>run</c> and <c>retry</c>.
    /// </summary>
    internal static async Task<int> RunLabAsync(CliContext ctx, LabStore store, int workers, string campaign, bool json, bool verbose,
        Func<IActorRef, CoordinatorWatch, CancellationToken, Task> start, CancellationToken cancel)
    {
        using var exclusive = store.AcquireExclusive();
        using var host = LabHost.Build(ctx.Options, new LabProcess(store, Coordinator: true, workers, Cluster: null), log: ctx.Err.WriteLine, verbose: verbose);
        await LabHost.StartAsync(host, cancel);
        CampaignStatus final;
        try
        {
            var system = host.Services.GetRequiredService<ActorSystem>();
            var coordinator = await host.Services.GetRequiredService<ActorRegistry>().GetAsync<CoordinatorKey>(cancel);
            using var watch = new CoordinatorWatch(system, coordinator, store);
            await start(coordinator, watch, cancel);
            var progress = ProgressPrinter.For(ctx.Err, TimeSpan.FromSeconds(ctx.Options.Orchestration.ProgressSeconds));
            try
            {
                final = await watch.Guard(c => CampaignClient.FollowAsync(system, coordinator, campaign, progress.Report, c), cancel);
            }
            finally
            {
                progress.Finish();
            }
        }
        finally
        {
            // The lab stops before the report: the report reads the database alone, so the coordinator's state need not
            // stay in memory beside the report's (a 100,000-job run peaked at 2.1 GB with both, 0.9 GB while it ran).
            await host.StopAsync(CancellationToken.None);
        }
        StatusCommand.Print(ctx, final, json);
        // The report goes beside a SQLite file (.quantlab/reports/<campaign>/ by default), or into .quantlab/reports/.
        var reports = Path.Combine(store.LocalDirectory, "reports", campaign);
        var html = ReportFiles.WriteAll(ctx.Options.Data, ctx.Err.WriteLine, store, await LabReader.LoadAsync(store), campaign, reports);
        ctx.Err.WriteLine($"report: {html} (and .md, .json, .csv beside it)");
        return CampaignClient.ExitCode(final);
    }
}
