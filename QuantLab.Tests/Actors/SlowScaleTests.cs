using Akka.Actor;
using QuantLab.Actors.Coordinator;
using QuantLab.Actors.Messages;
using QuantLab.Actors.Results;
using QuantLab.Actors.Storage;
using QuantLab.Actors.Workers;
using Xunit.Abstractions;
using Kit = Akka.TestKit.Xunit2.TestKit;

namespace QuantLab.Tests.Actors;

/// <summary>
/// 20,000 trivial jobs through a real coordinator and workers on SQLite: the properties a 100,000-job campaign needs,
/// checked by counts rather than clocks: the events each job costs, recovery from a snapshot, the coordinator's memory,
/// and a status that is right at the end.
/// </summary>
public sealed class SlowScaleTests(ITestOutputHelper output) : IDisposable
{
    private const int Jobs = 20_000;
    private static readonly TimeSpan Long = TimeSpan.FromMinutes(10);
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>The lab's policy with a 20 s lease: a 2 s lease expires under a saturated machine (seen: 34 of 20,000
    /// jobs run twice while another campaign trained on both cores), and this test counts executions exactly.</summary>
    private static readonly CoordinatorPolicy Policy = LabConfig.Policy with { Lease = TimeSpan.FromSeconds(20) };

    [Fact]
    public async Task Twenty_thousand_jobs_cost_one_event_each_and_one_per_lease_request_recover_from_a_snapshot_and_keep_the_coordinator_small()
    {
        var db = _dir.File("lab.db");
        var plan = TestPlans.Trainings("scale", Jobs);
        // Every result by workers without a TLS identity.
        var expected = new CampaignStatus("scale", "completed", Jobs, Jobs, 0, 0, 0, [new StageCounts("train", Jobs, Jobs, 0, 0, 0)], Producers: [new ProducerCount(null, Jobs)]);
        var executor = new ComputeExecutor();
        using (var lab = new Kit(ActorSystem.Create("lab", LabConfig.Sqlite(db))))
        {
            var coordinator = lab.Sys.ActorOf(CoordinatorActor.Props(Policy, LabConfig.LeaseCheck), "coordinator");
            for (var i = 0; i < 2; i++)
                lab.Sys.ActorOf(WorkerActor.Props(coordinator, executor, new DbArtifactStore(new SqliteLabStore(db)), LabConfig.Worker, $"w{i}"), $"w{i}");
            coordinator.Tell(new SubmitCampaign(plan), lab.TestActor);
            lab.ExpectMsg<CampaignAccepted>(Long);
            coordinator.Tell(new WatchCampaign("scale"), lab.TestActor);
            Assert.Equal(expected, lab.FishForMessage<CampaignStatus>(s => s.Finished, Long));
            // The lab fell idle with the last result, so the newest snapshot is of the journal's end (status, report and
            // recovery replay nothing); the older ones are deleted (after the new one is saved, so awaited with it).
            lab.AwaitAssert(() =>
            {
                Assert.Equal(LastSequenceNr(db), SnapshotSequenceNr(db));
                Assert.Equal(1, Scalar(db, "SELECT COUNT(*) FROM snapshot"));
            }, Long);
            lab.Shutdown(Long, verifySystemShutdown: true);
        }
        Assert.Equal(Jobs, executor.Calls.Count);
        Assert.All(executor.Calls.Values, n => Assert.Equal(1, n));

        // One event per result; one per lease request, which leases several jobs while they are short; all written in
        // batches; one for the submission; no tag rows.
        Assert.Equal(Jobs, Scalar(db, "SELECT COUNT(*) FROM journal WHERE manifest = 'ql.job-completed.v2'"));
        Assert.Equal(0, Scalar(db, "SELECT COUNT(*) FROM journal WHERE manifest = 'ql.job-started.v1'"));
        var leases = Scalar(db, "SELECT COUNT(*) FROM journal WHERE manifest = 'ql.jobs-leased.v1'");
        output.WriteLine($"{leases} lease events for {Jobs} jobs");
        Assert.InRange(leases, 1, Jobs / 2);
        Assert.Equal(Jobs + leases + 1, LastSequenceNr(db));
        Assert.Equal(0, Scalar(db, "SELECT COUNT(*) FROM tags"));
        Assert.Equal(1, Scalar(db, "SELECT COUNT(*) FROM snapshot"));   // still one after the shutdown

        // Recovery uses the snapshot: without the events it covers, the coordinator and the read side still know everything.
        var snapshot = SnapshotSequenceNr(db);
        output.WriteLine($"snapshot at {snapshot} of {LastSequenceNr(db)} events");
        Scalar(db, $"DELETE FROM journal WHERE sequence_number < {snapshot}");
        using (var again = new Kit(ActorSystem.Create("again", LabConfig.Sqlite(db))))
        {
            var coordinator = again.Sys.ActorOf(CoordinatorActor.Props(Policy, LabConfig.LeaseCheck), "coordinator");
            coordinator.Tell(new GetCampaignStatus("scale"), again.TestActor);
            Assert.Equal(expected, again.ExpectMsg<CampaignStatus>(Long));
            coordinator.Tell(new GetCampaignResults("scale"), again.TestActor);
            var results = again.ExpectMsg<CampaignResults>(Long).Results;
            Assert.Equal(plan.Jobs.Select(j => j.Key).Order(), results.Select(r => r.Key).Order());
            Assert.All(results, r => Assert.Equal(ComputeExecutor.Metrics(r.Key).Numbers["accuracy"], r.Metrics.Numbers["accuracy"]));

            // The coordinator's state of 20,000 jobs with their results, as the read side holds it too: a bound per job
            // that keeps a 100,000-job campaign well under 1 GB.
            var before = GC.GetTotalMemory(forceFullCollection: true);
            var state = await LabReadSide.LoadAsync(again.Sys);
            var bytes = GC.GetTotalMemory(forceFullCollection: true) - before;
            output.WriteLine($"state of {Jobs} jobs: {bytes / 1e6:F1} MB, {bytes / Jobs} bytes per job");
            Assert.Equal(expected, state.Status("scale"));
            Assert.InRange(bytes, 0, Jobs * 5_000L);
            GC.KeepAlive(state);
            again.Shutdown(Long, verifySystemShutdown: true);
        }
    }

    private static long LastSequenceNr(string db) => Scalar(db, "SELECT MAX(sequence_number) FROM journal");

    private static long SnapshotSequenceNr(string db) => Scalar(db, "SELECT COALESCE(MAX(sequence_number), 0) FROM snapshot");

    private static long Scalar(string db, string sql)
    {
        using var c = new SqliteLabStore(db).Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return Convert.ToInt64(cmd.ExecuteScalar() ?? 0L, System.Globalization.CultureInfo.InvariantCulture);
    }
}
