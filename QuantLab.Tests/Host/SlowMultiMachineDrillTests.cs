using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using QuantLab.Actors.Coordinator;
using QuantLab.Actors.Messages;
using QuantLab.Actors.Storage;
using QuantLab.Host.Lab;
using Xunit.Abstractions;

namespace QuantLab.Tests.Host;

/// <summary>
/// The lab across "machines": a throwaway PostgreSQL server and three <c>quantlab node</c> processes, each in its own
/// network namespace with its own address, cache and TLS certificate, joined by a bridge. While one campaign runs, the
/// drills: SIGKILL a worker node (and restart it), SIGKILL the coordinator's node (and restart it), restart the
/// PostgreSQL server at once (<c>pg_ctl restart -m immediate</c>), and cut one node's link for longer than failure
/// detection (it downs itself; the majority goes on). The campaign completes with exactly one result per job, equal
/// to an uninterrupted single-process run, and every artifact row in the database reads back verified.
/// </summary>
public sealed class SlowMultiMachineDrillTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    // 40 trainings, 80 evaluations with their calibrations: 1.5 s each on 3 single-worker nodes, about 1.5 minutes of work.
    private const string Spec = """
        {"name":"drill","train":[{"id":"m","seed":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40]}],"quantize":{"weightBits":[4,8]}}
        """;

    [Fact]
    public async Task SlowDrills_across_three_machines_on_PostgreSQL_with_TLS_lose_nothing_and_run_nothing_twice()
    {
        using var network = NetworkLab.Create(3);
        using var pg = PostgresServer.Start(network.HostAddress);
        var cs = pg.CreateDatabase("lab");
        var nodeCs = new Npgsql.NpgsqlConnectionStringBuilder(cs) { Host = network.HostAddress, Timeout = 5 }.ConnectionString;
        var store = new PostgresLabStore(cs);
        var init = LabTestSupport.Run(LabTestSupport.Configuration(new Dictionary<string, string>
        {
            ["QuantLab:Storage:Provider"] = "postgresql", ["QuantLab:Storage:ConnectionString"] = cs,
        }), "db", "init");
        Assert.True(init.ExitCode == 0, init.ToString());

        var ca = _dir.Subdirectory("ca");
        LabTls.CreateAuthority(ca, "drill-ca", 1, DateTimeOffset.UtcNow);
        var spec = _dir.File("drill.json");
        File.WriteAllText(spec, Spec);
        const string port = "4053";
        var seeds = $"akka.ssl.tcp://quantlab@{network.Address(0)}:{port},akka.ssl.tcp://quantlab@{network.Address(1)}:{port}";
        string NodeAddress(int i) => $"akka.ssl.tcp://quantlab@{network.Address(i)}:{port}";

        Dictionary<string, string> Env(int i, string name)
        {
            var files = LabTls.Issue(ca, name, [network.Address(i)], 30, _dir.Subdirectory("tls-" + name), DateTimeOffset.UtcNow);
            return new Dictionary<string, string>(LabTestSupport.FastTimings)
            {
                ["QuantLab:Orchestration:Executor"] = "synthetic:1500",
                ["QuantLab:Orchestration:Workers"] = "1",
                ["QuantLab:Storage:Provider"] = "postgresql",
                ["QuantLab:Storage:ConnectionString"] = nodeCs,
                ["QuantLab:Storage:CacheDir"] = _dir.Subdirectory("cache-" + name),
                ["QuantLab:Cluster:Hostname"] = network.Address(i),
                ["QuantLab:Cluster:Tls:Certificate"] = files.Certificate,
                ["QuantLab:Cluster:Tls:Key"] = files.Key,
                ["QuantLab:Cluster:Tls:CaCertificate"] = Path.Combine(ca, "ca.crt"),
            };
        }
        var envs = Enumerable.Range(0, 3).Select(i => Env(i, $"node-{i}")).ToArray();
        var processes = new List<QuantlabProcess>();
        QuantlabProcess Start(int i, string roles)
        {
            var p = QuantlabProcess.InNamespace(network.Namespace(i), envs[i], "node", "--roles", roles, "--port", port, "--seed-nodes", seeds);
            processes.Add(p);
            return p;
        }
        var watch = Stopwatch.StartNew();
        try
        {
            var a = Start(0, "coordinator,worker");
            var b = Start(1, "coordinator,worker");
            var c = Start(2, "worker");
            foreach (var p in new[] { a, b, c }) await Up(p);
            var client = Env(0, "client");
            using (var submit = QuantlabProcess.InNamespace(network.Namespace(0), client, "submit", spec, "--seed-nodes", seeds))
                Assert.True(await submit.WaitAsync(TimeSpan.FromMinutes(2)) == 0, submit + "\n" + a);
            output.WriteLine($"submitted at {watch.Elapsed.TotalSeconds:F1} s");

            // 1. SIGKILL the worker node C while it runs a job; its job runs again elsewhere; C comes back.
            string killedJob = "";
            await Until(s =>
            {
                var running = s.Jobs.Values.FirstOrDefault(j => j.Status == JobStatus.Running && j.Node == NodeAddress(2));
                killedJob = running?.Job.Key ?? "";
                return running is not null;
            }, TimeSpan.FromSeconds(90), "a job running on node C");
            c.Kill();
            var killedWorkerAt = DateTimeOffset.UtcNow;
            var t = watch.Elapsed;
            await Until(s => s.Jobs[killedJob].Status != JobStatus.Running || s.Jobs[killedJob].Node != NodeAddress(2), TimeSpan.FromSeconds(90), "C's job re-queued");
            output.WriteLine($"drill 1: worker node C killed; its job re-queued after {(watch.Elapsed - t).TotalSeconds:F1} s");
            c = Start(2, "worker");
            await Up(c);   // three members again, so that losing the next one leaves a majority

            // 2. SIGKILL the coordinator's node (A, the oldest) while work remains; A comes back.
            await DoneAtLeast(8, "progress before the coordinator's node is killed");
            a.Kill();
            t = watch.Elapsed;
            var done = await Done();
            await DoneAtLeast(done + 1, "progress under the next coordinator");
            output.WriteLine($"drill 2: coordinator node A killed with {done} done; progress again after {(watch.Elapsed - t).TotalSeconds:F1} s");
            a = Start(0, "coordinator,worker");
            await Up(a);

            // 3. Restart the PostgreSQL server at once: every session is cut mid-campaign.
            await DoneAtLeast(done + 8, "progress before the database restart");
            done = await Done();
            pg.RestartImmediately();
            t = watch.Elapsed;
            await DoneAtLeast(done + 1, "progress after the database restart");
            output.WriteLine($"drill 3: PostgreSQL restarted (-m immediate) with {done} done; progress again after {(watch.Elapsed - t).TotalSeconds:F1} s");

            // 4. Partition C away for longer than failure detection and the split-brain resolver take: the
            // majority (A, B) goes on, C downs itself and exits; its link comes back.
            await DoneAtLeast(done + 6, "progress before the partition");
            done = await Done();
            network.Cut(2);
            var partitionedAt = DateTimeOffset.UtcNow;
            t = watch.Elapsed;
            Assert.True(await c.WaitAsync(TimeSpan.FromSeconds(90)) == 3, "the partitioned node did not down itself:\n" + c);
            output.WriteLine($"drill 4: node C partitioned with {done} done; it downed itself after {(watch.Elapsed - t).TotalSeconds:F1} s");
            await DoneAtLeast(done + 1, "progress of the majority during the partition");
            network.Restore(2);
            output.WriteLine($"drill 4: the majority progressed; link restored at {watch.Elapsed.TotalSeconds:F1} s");

            var final = await Until(s => s.Status("drill").Finished, TimeSpan.FromMinutes(5), "the campaign finished");
            Assert.Equal("completed", final.Status("drill").State);
            output.WriteLine($"campaign completed at {watch.Elapsed.TotalSeconds:F1} s");

            // Exactly one result per job, each from a node of the lab, equal to an uninterrupted run.
            var events = await LabReader.EventsAsync(store);
            Assert.All(events.OfType<JobCompleted>().GroupBy(e => e.Result.Key), g => Assert.Single(g));
            // The SIGKILL hit a job running on C (the one seen running, or, where that one ended first, the next): an
            // attempt of C's failed before the partition, and its job was run again.
            Assert.Contains(events.OfType<JobAttemptFailed>(), f => f.Worker.StartsWith(NodeAddress(2), StringComparison.Ordinal) && f.At >= killedWorkerAt && f.At < partitionedAt);
            var reference = _dir.File("reference.db");
            var run = LabTestSupport.Run(LabTestSupport.Configuration(new Dictionary<string, string> { ["QuantLab:Orchestration:Executor"] = "synthetic" }),
                "run", spec, "--db", reference);
            Assert.True(run.ExitCode == 0, run.ToString());
            var expected = (await LabReader.LoadAsync(new SqliteLabStore(reference))).Results("drill").Results.ToDictionary(r => r.Key);
            var actual = final.Results("drill").Results.ToDictionary(r => r.Key);
            Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
            foreach (var (key, r) in expected)
            {
                Assert.Equal(r.Metrics.Numbers, actual[key].Metrics.Numbers);
                Assert.Equal(r.Artifacts, actual[key].Artifacts);
                Assert.StartsWith("CN=node-", actual[key].Identity);
            }

            // The database checks clean: every artifact a result names is there, and every artifact row reads back
            // with the hash it is stored under (no half-written row).
            var artifacts = new DbArtifactStore(store);
            foreach (var hash in actual.Values.SelectMany(r => r.Artifacts.Values).Distinct()) Assert.NotEmpty(artifacts.Get(hash));
            using (var connection = store.OpenReadOnly())
            using (var command = connection.CreateCommand())
            {
                command.CommandText = "SELECT hash, data, size FROM artifacts;";
                using var reader = command.ExecuteReader();
                while (reader.Read())
                {
                    var data = (byte[])reader.GetValue(1);
                    Assert.Equal(reader.GetString(0), Convert.ToHexStringLower(SHA256.HashData(data)));
                    Assert.Equal(reader.GetInt64(2), data.Length);
                }
            }

            a.Signal("TERM");
            b.Signal("TERM");
            Assert.Equal(0, await a.WaitAsync(TimeSpan.FromSeconds(60)));
            Assert.Equal(0, await b.WaitAsync(TimeSpan.FromSeconds(60)));
        }
        finally
        {
            foreach (var p in processes) p.Dispose();
            foreach (var p in processes) output.WriteLine(p.Err.Length > 3000 ? p.Err[^3000..] : p.Err);
        }

        async Task Up(QuantlabProcess node)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
            while (!node.Err.Contains(" is up: ", StringComparison.Ordinal))
            {
                if (node.HasExited || DateTime.UtcNow > deadline) throw new TimeoutException("a node did not come up:\n" + node);
                await Task.Delay(200);
            }
        }

        // From the status row the coordinator keeps (milliseconds), or the journal while the row is not to be believed.
        async Task<int> Done()
        {
            while (true)
            {
                try
                {
                    return (await LabReader.StatusesAsync(store)).Campaigns.FirstOrDefault(c => c.Campaign == "drill")?.Done ?? 0;
                }
                catch (QuantLab.Engine.QuantLabException)
                {
                    await Task.Delay(200);   // the server restarting
                }
            }
        }

        async Task DoneAtLeast(int done, string what)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
            while (await Done() < done)
            {
                if (DateTime.UtcNow > deadline) throw new TimeoutException($"waited 180 s for {what}");
                await Task.Delay(200);
            }
        }

        async Task<CoordinatorState> Until(Func<CoordinatorState, bool> condition, TimeSpan timeout, string what)
        {
            var deadline = DateTime.UtcNow + timeout;
            string last = "";
            while (true)
            {
                try
                {
                    var state = await LabReader.LoadAsync(store);
                    if (state.Campaigns.ContainsKey("drill") && condition(state)) return state;
                    last = state.Campaigns.ContainsKey("drill") ? state.Status("drill").ToString() : "no campaign yet";
                }
                catch (QuantLab.Engine.QuantLabException e)
                {
                    last = e.Message;   // the server restarting
                }
                if (DateTime.UtcNow > deadline) throw new TimeoutException($"waited {timeout.TotalSeconds:F0} s for {what}; last: {last}");
                await Task.Delay(500);
            }
        }
    }
}
