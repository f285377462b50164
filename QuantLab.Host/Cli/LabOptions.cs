using System.CommandLine;
using QuantLab.Actors.Campaigns;
using QuantLab.Actors.Planning;
using QuantLab.Engine.Data;

namespace QuantLab.Host.Cli;

/// <summary>Options and steps the orchestration verbs (run, node, submit, status, report) share.</summary>
public static class LabOptions
{
    public static Option<string?> Database() => new("--db") { Description = $"The campaign database (SQLite file); default QuantLab:Storage:Database ({new QuantLab.Host.Configuration.StorageOptions().Database})" };

    /// <summary><c>--json</c> of the verbs that run a lab to a campaign's end (run, retry).</summary>
    public static Option<bool> FinalStatusJson() => new("--json") { Description = "Print the final status as one JSON document (campaign, state, jobs)" };

    public static Option<int?> Workers() => new("--workers") { Description = "Worker actors on this node, each running one job at a time (default QuantLab:Orchestration:Workers)" };

    public static string DatabasePath(CliContext ctx, string? flag) => flag ?? ctx.Options.Storage.Database;

    public static int WorkerCount(CliContext ctx, int? flag)
    {
        var n = flag ?? ctx.Options.Orchestration.Workers;
        if (n is < 0 or > 256) throw new QuantLab.Engine.BadInputException($"--workers must be 0..256 (got {n})");
        return n;
    }

    /// <summary>Reads and plans a spec: bad input is found here, before anything is recorded.</summary>
    public static CampaignPlan Plan(CliContext ctx, string specPath) =>
        CampaignPlanner.Plan(CampaignSpecParser.ParseFile(specPath), MnistFileSet.Standard.Fingerprint, maxJobs: ctx.Options.Orchestration.MaxPlannedJobs);
}
