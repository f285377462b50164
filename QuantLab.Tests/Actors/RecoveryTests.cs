using Akka.Actor;
using Microsoft.Data.Sqlite;
using QuantLab.Actors.Coordinator;
using QuantLab.Actors.Messages;
using QuantLab.Actors.Results;
using QuantLab.Actors.Storage;
using QuantLab.Actors.Workers;
using Kit = Akka.TestKit.Xunit2.TestKit;

namespace QuantLab.Tests.Actors;

/// <summary>Invariant 4: a coordinator whose process stops recovers the campaign from its events on the same SQLite file.</summary>
public sealed class RecoveryTests : IDisposable
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(20);
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private sealed class Lab : IDisposable
    {
        public Kit Kit { get; }
        public IActorRef Coordinator { get; }

        public Lab(string db, IJobExecutor executor, int workers)
        {
            Kit = new Kit(ActorSystem.Create("lab", LabConfig.Sqlite(db)));
            Coordinator = Kit.Sys.ActorOf(CoordinatorActor.Props(LabConfig.Policy, LabConfig.LeaseCheck), "coordinator");
            for (var i = 0; i < workers; i++)
                Kit.Sys.ActorOf(WorkerActor.Props(Coordinator, executor, new DbArtifactStore(new SqliteLabStore(db)), LabConfig.Worker, $"w{i}"), $"w{i}");
        }

        public T Ask<T>(object message)
        {
            Coordinator.Tell(message, Kit.TestActor);
            return Kit.ExpectMsg<T>(Long);
        }

        public CampaignStatus WaitFinished(string campaign)
        {
            Coordinator.Tell(new WatchCampaign(campaign), Kit.TestActor);
            return Kit.FishForMessage<CampaignStatus>(s => s.Finished, Long);
        }

        public void Dispose() => Kit.Shutdown(Long, verifySystemShutdown: true);
    }

    [Fact]
    public async Task A_campaign_interrupted_mid_run_recovers_and_ends_equal_to_an_uninterrupted_run()
    {
        var plan = TestPlans.Small("recover", bits: "[2, 4, 8]");   // train, calibrate, 3 evaluations

        CampaignResults expected;
        using (var reference = new Lab(_dir.File("reference.db"), new ComputeExecutor(), workers: 2))
        {
            reference.Ask<CampaignAccepted>(new SubmitCampaign(plan));
            Assert.Equal("completed", reference.WaitFinished("recover").State);
            expected = reference.Ask<CampaignResults>(new GetCampaignResults("recover"));
        }

        var db = _dir.File("interrupted.db");
        var blocking = new BlockFirstExecutor(blockAt: 3);   // the first evaluation never finishes in the first process
        using (var first = new Lab(db, blocking, workers: 1))
        {
            Assert.Equal(new CampaignAccepted("recover", 5, 0, 0), first.Ask<CampaignAccepted>(new SubmitCampaign(plan)));
            Assert.True(blocking.Blocked.Wait(Long));
            // Two short jobs are not a streak (WorkerActor.ShortStreak): the worker holds one evaluation at a time.
            first.Kit.AwaitAssert(() => Assert.Equal(new CampaignStatus("recover", "running", 5, 2, 0, 1, 2), (first.Ask<CampaignStatus>(new GetCampaignStatus("recover"))).Totals()), Long);
        }   // the process "dies": its actor system stops with a job running

        using (var second = new Lab(db, new ComputeExecutor(), workers: 2))
        {
            // Recovered from events alone: what was done is still done, the jobs that were leased are still leased.
            Assert.Equal(new CampaignStatus("recover", "running", 5, 2, 0, 1, 2), (second.Ask<CampaignStatus>(new GetCampaignStatus("recover"))).Totals());
            // Resubmitting (running `quantlab run` again) adds nothing.
            Assert.Equal(new CampaignAccepted("recover", 5, 5, 0), second.Ask<CampaignAccepted>(new SubmitCampaign(plan)));
            // Its lease expires (no worker renews it), it runs again, and the campaign completes.
            Assert.Equal(new CampaignStatus("recover", "completed", 5, 5, 0, 0, 0), (second.WaitFinished("recover")).Totals());
            var actual = second.Ask<CampaignResults>(new GetCampaignResults("recover"));
            Assert.Equal(Summary(expected), Summary(actual));
        }

        Assert.Equal(5L, CountEvents(db, "ql.job-completed.v2"));
        Assert.Equal(1L, CountEvents(db, "ql.campaign-submitted.v2"));

        // Invariant 6: the read side builds status and results from the events alone, with no coordinator running.
        var reader = new Kit(ActorSystem.Create("reader", LabConfig.Sqlite(db)));
        try
        {
            Assert.Equal(new CampaignStatus("recover", "completed", 5, 5, 0, 0, 0), (await LabReadSide.StatusAsync(reader.Sys, "recover")).Totals());
            Assert.Equal(Summary(expected), Summary(await LabReadSide.ResultsAsync(reader.Sys, "recover")));
            Assert.Equal("unknown", (await LabReadSide.StatusAsync(reader.Sys, "nope")).State);
        }
        finally { reader.Shutdown(Long); }
    }

    private static List<string> Summary(CampaignResults results) =>
        results.Results.Select(r => $"{r.Key} {r.Kind} {r.Status} {r.Metrics.Numbers["accuracy"]:R}").Order().ToList();

    private static long CountEvents(string db, string manifest)
    {
        using var c = (Microsoft.Data.Sqlite.SqliteConnection)new SqliteLabStore(db).Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT COUNT(*) FROM journal WHERE manifest = $m";
        cmd.Parameters.AddWithValue("$m", manifest);
        return (long)cmd.ExecuteScalar()!;
    }
}
