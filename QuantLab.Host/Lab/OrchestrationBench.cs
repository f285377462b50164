using QuantLab.Actors.Storage;
using System.Diagnostics;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using QuantLab.Actors.Campaigns;
using QuantLab.Actors.Hosting;
using QuantLab.Actors.Planning;
using QuantLab.Actors.Workers;
using QuantLab.Engine.Data;
using QuantLab.Host.Configuration;

namespace QuantLab.Host.Lab;

/// <summary>
/// Jobs per second of orchestration alone: trivial (synthetic, 0 ms) jobs through the coordinator, the
/// SQLite journal and the workers, on one node (a single-process lab) and on three cluster nodes in this
/// process (loopback remoting, the coordinator as cluster singleton). Each run uses a fresh database, and times
/// a campaign of N jobs from its submission to its last result, after a warm-up campaign of a few jobs (which
/// creates the journal's tables and compiles the code paths: start-up costs, not throughput).
/// </summary>
public static class OrchestrationBench
{
    public sealed record Result(string Name, int Nodes, int WorkersPerNode, int Jobs, double Seconds, double JobsPerSecond);

    public static async Task<IReadOnlyList<Result>> RunAsync(QuantLabOptions options, int jobs, int workersPerNode, Action<string>? log)
    {
        var dir = Directory.CreateTempSubdirectory("quantlab-bench-").FullName;
        try
        {
            var one = await MeasureAsync(options, Path.Combine(dir, "one.db"), jobs, workersPerNode, nodes: 1, log);
            var three = await MeasureAsync(options, Path.Combine(dir, "three.db"), jobs, workersPerNode, nodes: 3, log);
            return [one, three];
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try { Directory.Delete(dir, true); } catch (IOException) { }
        }
    }

    private static async Task<Result> MeasureAsync(QuantLabOptions options, string db, int jobs, int workers, int nodes, Action<string>? log)
    {
        var warmUp = Plan("warm-up", jobs + 1, WarmUpJobs);   // other seeds: nothing of the measured campaign is reused
        var plan = Plan("bench", 1, jobs);
        var executor = new SyntheticJobExecutor(TimeSpan.Zero);
        var hosts = new List<IHost>();
        try
        {
            ClusterNode? first = null;
            if (nodes == 1)
            {
                hosts.Add(LabHost.Build(options, new LabProcess(new SqliteLabStore(db), true, workers, null), () => executor));
                await LabHost.StartAsync(hosts[0], CancellationToken.None);
            }
            else
            {
                var ports = Enumerable.Range(0, nodes).Select(_ => FreePort()).ToArray();
                var seeds = new[] { $"akka.tcp://{LabHost.SystemName}@127.0.0.1:{ports[0]}" };
                for (int i = 0; i < nodes; i++)
                {
                    var node = new ClusterNode(ports[i], seeds, i == 0 ? ["coordinator", "worker"] : ["worker"]);
                    first ??= node;
                    var host = LabHost.Build(options, new LabProcess(new SqliteLabStore(db), i == 0, workers, node), () => executor);
                    hosts.Add(host);
                    await LabHost.StartAsync(host, CancellationToken.None);
                    await LabHost.AwaitJoinedAsync(host.Services.GetRequiredService<ActorSystem>(), node, TimeSpan.FromSeconds(30), CancellationToken.None);
                }
            }
            var system = hosts[0].Services.GetRequiredService<ActorSystem>();
            var coordinator = await hosts[0].Services.GetRequiredService<ActorRegistry>().GetAsync<CoordinatorKey>();
            await CampaignClient.SubmitAsync(coordinator, warmUp, TimeSpan.FromSeconds(60), CancellationToken.None);
            await CampaignClient.FollowAsync(system, coordinator, warmUp.Campaign, _ => { }, CancellationToken.None);
            var watch = Stopwatch.StartNew();
            await CampaignClient.SubmitAsync(coordinator, plan, TimeSpan.FromSeconds(60), CancellationToken.None);
            await CampaignClient.FollowAsync(system, coordinator, plan.Campaign, _ => { }, CancellationToken.None);
            var seconds = watch.Elapsed.TotalSeconds;
            var result = new Result(nodes == 1 ? "orchestration, one node" : $"orchestration, {nodes} nodes", nodes, workers, plan.Jobs.Count, seconds, plan.Jobs.Count / seconds);
            log?.Invoke($"{result.Name}: {result.Jobs} trivial jobs in {seconds:F2} s");
            return result;
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

    private const int WarmUpJobs = 50;

    /// <summary>Independent trainings (seeds first..first+count-1): no dependencies, so workers are never starved by the graph.</summary>
    private static CampaignPlan Plan(string name, int first, int count) => CampaignPlanner.Plan(
        CampaignSpecParser.Parse($$"""{"name":"{{name}}","train":[{"id":"m","seed":[{{string.Join(',', Enumerable.Range(first, count))}}]}]}"""),
        MnistFileSet.Standard.Fingerprint);

    private static int FreePort()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
