using System.CommandLine;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using QuantLab.Actors.Hosting;
using QuantLab.Host.Lab;

namespace QuantLab.Host.Cli;

/// <summary><c>quantlab submit SPEC --seed-nodes …</c>: hands a campaign to a running cluster's coordinator;
/// <c>--wait</c> follows it to the end. Joins the cluster briefly as a member with role <c>client</c>.</summary>
public static class SubmitCommand
{
    public static Command Create(Func<CliContext> context)
    {
        var spec = LabOptions.NamedArgument<string>("spec", "The campaign spec (experiments/*.json)");
        var seeds = new Option<string>("--seed-nodes") { Description = "akka.tcp://quantlab@127.0.0.1:PORT[,…] (akka.ssl.tcp://… with QuantLab:Cluster:Tls)", Required = true };
        var insecure = LabOptions.Insecure();
        var wait = new Option<bool>("--wait") { Description = "Follow the campaign's progress until it is completed or failed; exit as run does: 3 if the environment failed jobs, 1 if a configuration failed" };
        var json = new Option<bool>("--json") { Description = "Print the status (at the end with --wait) as one JSON document" };
        var command = new Command("submit", "Submit a campaign to a running cluster") { spec, seeds, wait, json, insecure };
        command.SetAction(async (parse, cancel) =>
        {
            var ctx = context();
            var plan = LabOptions.Plan(ctx, parse.GetValue(spec)!);
            var node = new ClusterNode(0, LabHost.SeedNodes(parse.GetValue(seeds)), ["client"], parse.GetValue(insecure));
            using var host = LabHost.Build(ctx.Options, new LabProcess(Store: null, Coordinator: false, Workers: 0, node), verbose: parse.GetValue(QuantLabCli.Verbose));
            await LabHost.StartAsync(host, cancel);
            try
            {
                var system = host.Services.GetRequiredService<ActorSystem>();
                await LabHost.AwaitJoinedAsync(system, node, TimeSpan.FromSeconds(ctx.Options.Cluster.JoinTimeoutSeconds), cancel);
                var coordinator = await host.Services.GetRequiredService<ActorRegistry>().GetAsync<CoordinatorKey>(cancel);
                var accepted = await CampaignClient.SubmitAsync(coordinator, plan, TimeSpan.FromSeconds(60), cancel);
                ctx.Err.WriteLine($"campaign {plan.Campaign} submitted: {accepted.Total} jobs ({accepted.Reused} already known, {accepted.Dropped} dropped)");
                if (!parse.GetValue(wait))
                {
                    var now = await coordinator.Ask<Actors.Messages.CampaignStatus>(new Actors.Messages.GetCampaignStatus(plan.Campaign), TimeSpan.FromSeconds(30), cancel);
                    StatusCommand.Print(ctx, now, parse.GetValue(json));
                    return 0;
                }
                var final = await CampaignClient.FollowAsync(system, coordinator, plan.Campaign, s => ctx.Err.WriteLine(CampaignClient.Describe(s)), cancel);
                StatusCommand.Print(ctx, final, parse.GetValue(json));
                return CampaignClient.ExitCode(final);
            }
            finally
            {
                await host.StopAsync(CancellationToken.None);
            }
        });
        return command;
    }
}
