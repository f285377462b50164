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
/// journal and the workers, on one node (a single-process lab) and on three cluster nodes in this process
/// (loopback remoting, the coordinator as cluster singleton); on SQLite and, where asked, on a PostgreSQL server
/// beside it in the same run. Each run uses a fresh database (on PostgreSQL a scratch database, dropped after), and times
/// a campaign of N jobs from its submission to its last result, after a warm-up campaign of 1,000 jobs (which
/// creates the journal's tables and compiles the code paths: start-up costs, not throughput).
/// </summary>
public static class OrchestrationBench
{
    public sealed record Result(string Name, string Provider, int Nodes, int WorkersPerNode, int Jobs, double Seconds, double JobsPerSecond);

    /// <param name="postgres">A server to measure on as well (its user needs CREATEDB); null: SQLite alone.</param>
    public static async Task<IReadOnlyList<Result>> RunAsync(QuantLabOptions options, int jobs, int workersPerNode, Action<string>? log, PostgresLabStore? postgres = null)
    {
        var dir = Directory.CreateTempSubdirectory("quantlab-bench-").FullName;
        try
        {
            var results = new List<Result>();
            foreach (var nodes in new[] { 1, 3 })
                results.Add(await MeasureAsync(options, new SqliteLabStore(Path.Combine(dir, $"nodes{nodes}.db")), jobs, workersPerNode, nodes, log));
            if (postgres is null) return results;
            foreach (var nodes in new[] { 1, 3 })
            {
                var scratch = postgres.CreateDatabase($"quantlab_bench_{Environment.ProcessId}_{nodes}_{Guid.NewGuid():N}"[..40]);
                try
                {
                    await DbInit.RunAsync(scratch, TimeSpan.FromMinutes(1));
                    results.Add(await MeasureAsync(options, scratch, jobs, workersPerNode, nodes, log));
                }
                finally
                {
                    scratch.DropDatabase();
                }
            }
            return results;
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try { Directory.Delete(dir, true); } catch (IOException) { }
        }
    }

    private static async Task<Result> MeasureAsync(QuantLabOptions options, LabStore db, int jobs, int workers, int nodes, Action<string>? log)
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
                hosts.Add(LabHost.Build(options, new LabProcess(db, true, workers, null), () => executor));
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
                    var host = LabHost.Build(options, new LabProcess(db, i == 0, workers, node), () => executor);
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
            var result = new Result((nodes == 1 ? "orchestration, one node" : $"orchestration, {nodes} nodes") + $" ({db.Provider})", db.Provider, nodes, workers, plan.Jobs.Count, seconds, plan.Jobs.Count / seconds);
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

    /// <summary>Enough jobs for the hot paths to reach the JIT's optimized tier (50 left a 3,000-job campaign partly unoptimized).</summary>
    private const int WarmUpJobs = 1000;

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
