using QuantLab.Actors.Storage;
using System.Diagnostics;
using QuantLab.Actors.Coordinator;
using QuantLab.Actors.Messages;
using QuantLab.Host.Lab;
using QuantLab.Tests.Actors;
using Xunit.Abstractions;

namespace QuantLab.Tests.Host;

/// <summary>
/// Three real <c>quantlab node</c> processes on 127.0.0.1 sharing one SQLite file. A worker node is killed
/// (SIGKILL) while it runs a job, then the coordinator's node; both come back. The campaign completes with
/// exactly one result per job, equal to an uninterrupted run. Jobs are synthetic (the engine is not tested here).
/// </summary>
public sealed class MultiProcessFailoverTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private const string Spec = """
        {"name":"drill","train":[{"id":"m","seed":[1,2,3,4,5,6,7,8,9,10,11,12]}],"quantize":{"weightBits":[4,8]}}
        """;

    [Fact]
    public async Task A_campaign_survives_a_killed_worker_node_and_a_killed_coordinator_node()
    {
        var spec = _dir.File("drill.json");
        File.WriteAllText(spec, Spec);
        var db = _dir.File("lab.db");
        var env = new Dictionary<string, string>(LabTestSupport.FastTimings)
        {
            ["QuantLab:Orchestration:Executor"] = "synthetic:2000",
            ["QuantLab:Orchestration:Workers"] = "1",
            // Longer than the fast timings' 3 s: at load 20 a live node can miss 3 s of heartbeats and be downed.
            ["QuantLab:Cluster:AcceptableHeartbeatPauseSeconds"] = "8",
        };
        // Node B, the worker to be killed, runs 6 s jobs: one seen running there is still running when the kill lands,
        // even when the look (two journal reads) takes a second on a loaded machine. With 1.5 s jobs everywhere and a
        // look that had to see the job under 0.6 s old, a loaded CI machine once took so long to catch one that the
        // campaign had all but finished before the coordinator could be killed with work left. A and C run 2 s jobs:
        // about 13 of the 48 while B's job waits to be re-queued (measured with three busy loops beside the test).
        var slowWorker = new Dictionary<string, string>(env) { ["QuantLab:Orchestration:Executor"] = "synthetic:6000" };
        int[] ports = [LabTestSupport.FreePort(), LabTestSupport.FreePort(), LabTestSupport.FreePort()];
        var seeds = $"akka.tcp://quantlab@127.0.0.1:{ports[0]},akka.tcp://quantlab@127.0.0.1:{ports[2]}";
        QuantlabProcess Node(int i, string roles) => new(i == 1 ? slowWorker : env, "node", "--roles", roles, "--port", ports[i].ToString(System.Globalization.CultureInfo.InvariantCulture), "--seed-nodes", seeds, "--db", db);
        string Address(int i) => $"akka.tcp://quantlab@127.0.0.1:{ports[i]}";

        var processes = new List<QuantlabProcess>();
        QuantlabProcess Start(int i, string roles) { var p = Node(i, roles); processes.Add(p); return p; }
        try
        {
            var a = Start(0, "coordinator,worker");
            var b = Start(1, "worker");
            var c = Start(2, "coordinator,worker");
            var watch = Stopwatch.StartNew();

            using (var submit = new QuantlabProcess(env, "submit", spec, "--seed-nodes", seeds))
                Assert.True(await submit.WaitAsync(TimeSpan.FromSeconds(90)) == 0, submit + "\n" + a);

            // Kill the worker-only node while it runs a job, in the first half of the job (a job seen running when it
            // was nearly done could finish between the look and the kill, and would then not be re-queued).
            string killedJob = "";
            await Until(s =>
            {
                var running = s.Jobs.Values.FirstOrDefault(j => j.Status == JobStatus.Running && j.Node == Address(1));
                if (running is null) return false;
                var started = LabReader.EventsAsync(new SqliteLabStore(db)).GetAwaiter().GetResult().OfType<JobsLeased>().Last(e => e.Jobs.Any(j => j.Key == running.Job.Key));
                killedJob = running.Job.Key;
                return DateTimeOffset.UtcNow - started.At < TimeSpan.FromSeconds(3);
            }, TimeSpan.FromSeconds(60), "a job just started on node B");
            b.Kill();
            var killedWorkerAt = watch.Elapsed;
            output.WriteLine($"killed worker node B at {killedWorkerAt.TotalSeconds:F1} s while it ran {killedJob}");
            var requeued = await Until(s => s.Jobs[killedJob].Status != JobStatus.Running || s.Jobs[killedJob].Node != Address(1), TimeSpan.FromSeconds(60), "the killed job re-queued");
            output.WriteLine($"B's job re-queued after {(watch.Elapsed - killedWorkerAt).TotalSeconds:F1} s");
            b = Start(1, "worker");   // back to three nodes, so the next loss leaves a majority

            // Kill the coordinator's node (the oldest coordinator node: A) while work remains; bring it back.
            // Polled from the status row (milliseconds), so that a loaded machine does not miss the window.
            await UntilStatus(s => s.Done >= 4 && s.Done < s.Total - 3, TimeSpan.FromSeconds(60), "more progress");
            a.Kill();
            var killedCoordinatorAt = watch.Elapsed;
            var doneAtKill = (await LabReader.LoadAsync(new SqliteLabStore(db))).Status("drill").Done;
            output.WriteLine($"killed coordinator node A at {killedCoordinatorAt.TotalSeconds:F1} s with {doneAtKill} jobs done");
            a = Start(0, "coordinator,worker");
            await Until(s => s.Status("drill").Done > doneAtKill, TimeSpan.FromSeconds(90), "progress under the next coordinator");
            output.WriteLine($"fail-over: the campaign progressed again {(watch.Elapsed - killedCoordinatorAt).TotalSeconds:F1} s after the coordinator's node was killed");

            var final = await Until(s => s.Status("drill").Finished, TimeSpan.FromSeconds(120), "the campaign finished");
            Assert.Equal("completed", final.Status("drill").State);

            // Exactly one result per job, every job of the plan, equal to an uninterrupted run.
            var events = await LabReader.EventsAsync(new SqliteLabStore(db));
            var completed = events.OfType<JobCompleted>().GroupBy(e => e.Result.Key).ToList();
            Assert.All(completed, g => Assert.Single(g));
            Assert.Contains(events.OfType<JobAttemptFailed>(), f => f.Key == killedJob);
            var reference = _dir.File("reference.db");
            var config = LabTestSupport.Configuration(new Dictionary<string, string> { ["QuantLab:Orchestration:Executor"] = "synthetic" });
            var run = LabTestSupport.Run(config, "run", spec, "--db", reference);
            Assert.True(run.ExitCode == 0, run.ToString());
            var expected = (await LabReader.LoadAsync(new SqliteLabStore(reference))).Results("drill").Results.ToDictionary(r => r.Key);
            var actual = final.Results("drill").Results.ToDictionary(r => r.Key);
            Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
            foreach (var (key, r) in expected)
            {
                Assert.Equal(r.Metrics.Numbers, actual[key].Metrics.Numbers);
                Assert.Equal(r.Artifacts, actual[key].Artifacts);
            }

            // SIGTERM is how a service manager stops a node: it leaves the cluster and exits 0.
            c.Signal("TERM");
            Assert.True(await c.WaitAsync(TimeSpan.FromSeconds(60)) == 0, c.ToString());
            Assert.Contains("stopping: leaving the cluster", c.Err);
        }
        finally
        {
            foreach (var p in processes) p.Dispose();
            foreach (var p in processes) output.WriteLine(p.Err.Length > 4000 ? p.Err[^4000..] : p.Err);
        }

        async Task UntilStatus(Func<CampaignStatus, bool> condition, TimeSpan timeout, string what)
        {
            var deadline = DateTime.UtcNow + timeout;
            while (true)
            {
                var status = (await LabReader.StatusesAsync(new SqliteLabStore(db))).Campaigns.FirstOrDefault(c => c.Campaign == "drill");
                if (status is not null && condition(status)) return;
                if (DateTime.UtcNow > deadline) throw new TimeoutException($"waited {timeout.TotalSeconds:F0} s for {what}; status {status}");
                await Task.Delay(100);
            }
        }

        async Task<CoordinatorState> Until(Func<CoordinatorState, bool> condition, TimeSpan timeout, string what)
        {
            var deadline = DateTime.UtcNow + timeout;
            while (true)
            {
                var state = await LabReader.LoadAsync(new SqliteLabStore(db));
                if (state.Campaigns.ContainsKey("drill") && condition(state)) return state;
                if (DateTime.UtcNow > deadline) throw new TimeoutException($"waited {timeout.TotalSeconds:F0} s for {what}; status {state.Status("drill")}");
                await Task.Delay(200);
            }
        }
    }
}
