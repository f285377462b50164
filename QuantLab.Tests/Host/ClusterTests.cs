using QuantLab.Actors.Storage;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using QuantLab.Actors.Hosting;
using QuantLab.Actors.Messages;
using QuantLab.Actors.Workers;
using QuantLab.Host.Configuration;
using QuantLab.Host.Lab;
using QuantLab.Tests.Actors;

namespace QuantLab.Tests.Host;

/// <summary>Three cluster nodes (ActorSystems) in this process on loopback ports, composed as <c>quantlab node</c> composes them.</summary>
public sealed class ClusterTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Three_nodes_run_a_campaign_with_the_coordinator_as_cluster_singleton()
    {
        var db = _dir.File("lab.db");
        var options = AppConfiguration.Bind(LabTestSupport.Configuration());
        int[] ports = [LabTestSupport.FreePort(), LabTestSupport.FreePort(), LabTestSupport.FreePort()];
        var seeds = new[] { $"akka.tcp://quantlab@127.0.0.1:{ports[0]}", $"akka.tcp://quantlab@127.0.0.1:{ports[2]}" };
        var executor = new ComputeExecutor();
        var nodes = new[]
        {
            new ClusterNode(ports[0], seeds, ["coordinator", "worker"]),
            new ClusterNode(ports[1], seeds, ["worker"]),
            new ClusterNode(ports[2], seeds, ["coordinator", "worker"]),
        };
        var hosts = new List<IHost>();
        try
        {
            foreach (var node in nodes)
            {
                var host = LabHost.Build(options, new LabProcess(new SqliteLabStore(db), node.Roles.Contains("coordinator"), 2, node), () => executor);
                hosts.Add(host);
                await LabHost.StartAsync(host, CancellationToken.None);
            }
            foreach (var (host, node) in hosts.Zip(nodes))
                await LabHost.AwaitJoinedAsync(host.Services.GetRequiredService<ActorSystem>(), node, TimeSpan.FromSeconds(30), CancellationToken.None);

            // Submit through the worker-only node's proxy: the singleton lives on the oldest coordinator node.
            var proxy = hosts[1].Services.GetRequiredService<ActorRegistry>().Get<CoordinatorKey>();
            var plan = TestPlans.Small("clustered");
            var accepted = await CampaignClient.SubmitAsync(proxy, plan, TimeSpan.FromSeconds(30), CancellationToken.None);
            Assert.Equal(plan.Jobs.Count, accepted.Total);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var final = await CampaignClient.FollowAsync(hosts[1].Services.GetRequiredService<ActorSystem>(), proxy, "clustered", _ => { }, cts.Token);
            Assert.Equal(new CampaignStatus("clustered", "completed", plan.Jobs.Count, plan.Jobs.Count, 0, 0, 0), (final).Totals());
            Assert.All(plan.Jobs, j => Assert.Equal(1, executor.Calls[j.Key]));

            var state = await LabReader.LoadAsync(new SqliteLabStore(db));
            var results = state.Results("clustered").Results;
            Assert.Equal(plan.Jobs.Select(j => j.Key).Order(), results.Select(r => r.Key).Order());
            Assert.All(results, r => Assert.Equal(ComputeExecutor.Metrics(r.Key).Numbers["accuracy"], r.Metrics.Numbers["accuracy"]));
            Assert.Contains(results, r => r.Node.EndsWith($":{ports[0]}", StringComparison.Ordinal) || r.Node.EndsWith($":{ports[1]}", StringComparison.Ordinal) || r.Node.EndsWith($":{ports[2]}", StringComparison.Ordinal));
        }
        finally
        {
            foreach (var host in Enumerable.Reverse(hosts))
            {
                await host.StopAsync(CancellationToken.None);
                host.Dispose();
            }
        }
    }
}
