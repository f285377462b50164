using System.CommandLine;
using QuantLab.Actors.Messages;
using QuantLab.Host.Lab;

namespace QuantLab.Host.Cli;

/// <summary><c>quantlab status [CAMPAIGN]</c>: jobs total/done/failed/running/queued and the campaign's state,
/// read from the database's events (works with no cluster running).</summary>
public static class StatusCommand
{
    public static Command Create(Func<CliContext> context)
    {
        var campaign = LabOptions.NamedArgument<string?>("campaign", "The campaign's name (default: every campaign in the database)", optional: true);
        var db = LabOptions.Database();
        var json = new Option<bool>("--json") { Description = "One JSON document: campaign, state (queued|running|interrupted|completed|failed), jobs {total, done, failed, environmentFailed (of the failed, those the environment failed), running, queued}, stages, producedBy [{identity (the producing node's certificate subject, null without TLS), results}]; without a campaign, {campaigns: [...]}" };
        var command = new Command("status", "Show a campaign's progress from the database (the campaign is optional: without it, every campaign's)") { campaign, db, json };
        command.SetAction(async (parse, cancel) =>
        {
            var ctx = context();
            var store = LabOptions.Store(ctx, parse.GetValue(db));
            var (all, _) = await LabReader.StatusesAsync(store);
            bool asJson = parse.GetValue(json);
            if (parse.GetValue(campaign) is { } name)
            {
                LabReader.RequireCampaign(all.Select(s => s.Campaign), name, store);
                Print(ctx, all.Single(s => s.Campaign == name), asJson);
                return 0;
            }
            if (asJson) ctx.WriteJson(new { campaigns = all.Select(StatusDocument.Of) });
            else if (all.Count == 0) ctx.Out.WriteLine("no campaigns");
            else foreach (var s in all) ctx.Out.WriteLine(CampaignClient.Describe(s));
            return 0;
        });
        return command;
    }

    public static void Print(CliContext ctx, CampaignStatus s, bool json)
    {
        if (json) ctx.WriteJson(StatusDocument.Of(s));
        else ctx.Out.WriteLine(CampaignClient.Describe(s));
    }
}
