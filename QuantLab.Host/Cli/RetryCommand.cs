using System.CommandLine;
using QuantLab.Engine;
using QuantLab.Host.Lab;

namespace QuantLab.Host.Cli;

/// <summary><c>quantlab retry CAMPAIGN [--job KEY]</c>: re-runs a campaign's failed jobs in this process, as
/// <c>run</c> runs a campaign. Jobs the environment failed are retried by any new <c>run</c> too; a configuration
/// failure is a result kept for its key, re-run only when asked here (after a fix to the engine, say).</summary>
public static class RetryCommand
{
    public static Command Create(Func<CliContext> context)
    {
        var campaign = LabOptions.NamedArgument<string>("campaign", "The campaign's name");
        var job = new Option<string?>("--job") { Description = "Only this failed job (its key, or a unique start of it); default: every failed job of the campaign" };
        var db = LabOptions.Database();
        var workers = LabOptions.Workers();
        var json = LabOptions.FinalStatusJson();
        var command = new Command("retry", "Re-run a campaign's failed jobs (configuration or environment failures) and the jobs that failed because of them") { campaign, job, db, workers, json };
        command.SetAction(async (parse, cancel) =>
        {
            var ctx = context();
            var name = parse.GetValue(campaign)!;
            var store = LabOptions.Store(ctx, parse.GetValue(db));
            store.CheckReadable();   // a database that exists: retry creates none
            var count = LabOptions.WorkerCount(ctx, parse.GetValue(workers));
            if (count < 1) throw new BadInputException("retry needs at least one worker (--workers 1 or more)");
            return await RunCommand.RunLabAsync(ctx, store, count, name, parse.GetValue(json), parse.GetValue(QuantLabCli.Verbose), async (coordinator, watch, c) =>
            {
                var accepted = await watch.Guard(t => CampaignClient.RetryAsync(coordinator, name, parse.GetValue(job), TimeSpan.FromSeconds(60), t), c);
                ctx.Err.WriteLine($"campaign {name}: retrying {accepted.Jobs} failed jobs; {count} workers");
            }, cancel);
        });
        return command;
    }
}
