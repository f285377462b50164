using QuantLab.Engine.Jobs;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using QuantLab.Actors.Coordinator;
using QuantLab.Actors.Messages;
using QuantLab.Actors.Planning;
using QuantLab.Actors.Storage;
using QuantLab.Actors.Workers;

namespace QuantLab.Tests.Actors;

public sealed class CoordinatorActorTests : TestKit
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(20);
    private readonly TempDirectory _dir;
    private readonly string _db;

    public CoordinatorActorTests() : this(new TempDirectory()) { }

    private CoordinatorActorTests(TempDirectory dir) : base(LabConfig.Sqlite(dir.File("lab.db")))
    {
        _dir = dir;
        _db = dir.File("lab.db");
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing) _dir.Dispose();
    }

    private IActorRef Coordinator() => Sys.ActorOf(CoordinatorActor.Props(LabConfig.Policy, LabConfig.LeaseCheck), "coordinator");

    private IActorRef StartWorker(IActorRef coordinator, IJobExecutor executor, string id, WorkerSettings? settings = null) =>
        Sys.ActorOf(WorkerActor.Props(coordinator, executor, new DbArtifactStore(new SqliteLabStore(_db)), settings ?? LabConfig.Worker, id), id);

    private CampaignStatus RunToEnd(IActorRef coordinator, CampaignPlan plan)
    {
        coordinator.Tell(new SubmitCampaign(plan), TestActor);
        ExpectMsg<CampaignAccepted>(Long);
        coordinator.Tell(new WatchCampaign(plan.Campaign), TestActor);
        return FishForMessage<CampaignStatus>(s => s.Finished, Long);
    }

    [Fact]
    public void Workers_pull_and_run_every_job_once_and_the_results_carry_metrics_and_verified_artifacts()
    {
        var coordinator = Coordinator();
        var executor = new ComputeExecutor();
        StartWorker(coordinator, executor, "w1");
        StartWorker(coordinator, executor, "w2");
        var plan = TestPlans.Small();

        Assert.Equal(new CampaignStatus("small", "completed", 4, 4, 0, 0, 0), (RunToEnd(coordinator, plan)).Totals());
        Assert.All(plan.Jobs, j => Assert.Equal(1, executor.Calls[j.Key]));
        coordinator.Tell(new GetCampaignResults("small"), TestActor);
        var results = ExpectMsg<CampaignResults>(Long);
        Assert.Equal(plan.Jobs.Select(j => j.Key).Order(), results.Results.Select(r => r.Key).Order());
        var store = new DbArtifactStore(new SqliteLabStore(_db));
        Assert.All(results.Results, r =>
        {
            Assert.Equal(ComputeExecutor.Metrics(r.Key).Numbers["accuracy"], r.Metrics.Numbers["accuracy"]);
            Assert.NotEmpty(store.Get(r.Artifacts["output"]));
            Assert.Equal(TestPlans.Engine, r.EngineVersion);
        });
    }

    [Fact]
    public void A_job_that_throws_is_retried_and_succeeds()
    {
        var coordinator = Coordinator();
        var executor = new FlakyExecutor(failures: 2, only: JobKind.Train);
        StartWorker(coordinator, executor, "w1");
        Assert.Equal("completed", RunToEnd(coordinator, TestPlans.Small()).State);
        coordinator.Tell(new GetCampaignResults("small"), TestActor);
        Assert.Equal(3, ExpectMsg<CampaignResults>(Long).Results.Single(r => r.Kind == JobKind.Train).Attempt);
    }

    [Fact]
    public void A_job_that_keeps_throwing_is_recorded_failed_with_its_error_after_the_limit()
    {
        var coordinator = Coordinator();
        var executor = new FlakyExecutor(failures: 100, only: JobKind.Train);
        StartWorker(coordinator, executor, "w1");
        Assert.Equal(new CampaignStatus("small", "failed", 4, 0, 4, 0, 0, EnvironmentFailed: 4), (RunToEnd(coordinator, TestPlans.Small())).Totals());
        coordinator.Tell(new GetCampaignResults("small"), TestActor);
        var failed = ExpectMsg<CampaignResults>(Long).Failed.Single(f => f.Kind == JobKind.Train);
        Assert.Equal(3, failed.Attempts);
        Assert.Contains("IOException: simulated infrastructure failure of Train", failed.Error);
    }

    [Fact]
    public void A_diverging_configuration_is_recorded_as_its_result_and_not_retried()
    {
        var coordinator = Coordinator();
        var executor = new DivergingExecutor();
        StartWorker(coordinator, executor, "w1");
        Assert.Equal(new CampaignStatus("small", "failed", 4, 0, 4, 0, 0), (RunToEnd(coordinator, TestPlans.Small())).Totals());
        Assert.Equal(1, Assert.Single(executor.Calls).Value);
        coordinator.Tell(new GetCampaignResults("small"), TestActor);
        Assert.All(ExpectMsg<CampaignResults>(Long).Results, r => Assert.Equal(OutcomeStatus.ConfigurationFailed, r.Status));
    }

    [Fact]
    public void A_second_campaign_reuses_shared_jobs_and_runs_only_the_new_ones()
    {
        var coordinator = Coordinator();
        var executor = new ComputeExecutor();
        StartWorker(coordinator, executor, "w1");
        RunToEnd(coordinator, TestPlans.Small("first", bits: "[4, 8]"));
        coordinator.Tell(new SubmitCampaign(TestPlans.Small("second", bits: "[8, 6]")), TestActor);
        Assert.Equal(new CampaignAccepted("second", 4, 3, 0), ExpectMsg<CampaignAccepted>(Long));
        coordinator.Tell(new WatchCampaign("second"), TestActor);
        FishForMessage<CampaignStatus>(s => s.State == "completed", Long);
        Assert.Equal(5, executor.Calls.Count);
        Assert.All(executor.Calls.Values, n => Assert.Equal(1, n));
    }

    [Fact]
    public void A_worker_of_another_engine_version_and_a_plan_for_another_engine_are_refused()
    {
        var coordinator = Coordinator();
        Sys.EventStream.Subscribe(TestActor, typeof(WorkerRefused));
        var worker = StartWorker(coordinator, new ComputeExecutor(), "old", LabConfig.Worker with { EngineVersion = "0.9.0" });
        Watch(worker);
        Assert.Contains("worker engine 0.9.0 differs", ExpectMsg<WorkerRefused>(Long).Reason);
        ExpectTerminated(worker);
        coordinator.Tell(new SubmitCampaign(TestPlans.Small(engine: "0.9.0")), TestActor);
        Assert.Contains("planned for engine 0.9.0", ExpectMsg<CampaignRefused>(Long).Reason);
    }

    [Fact]
    public void A_job_whose_lease_expires_runs_elsewhere_and_the_late_result_is_not_recorded_twice()
    {
        var coordinator = Coordinator();
        var blocking = new BlockFirstExecutor();
        // This worker never renews its lease while its job runs.
        StartWorker(coordinator, blocking, "silent", LabConfig.Worker with { HeartbeatInterval = TimeSpan.FromHours(1) });
        coordinator.Tell(new SubmitCampaign(TestPlans.Trainings("lease", 1)), TestActor);
        ExpectMsg<CampaignAccepted>(Long);
        Assert.True(blocking.Blocked.Wait(Long));
        var other = new ComputeExecutor();
        StartWorker(coordinator, other, "w2");
        coordinator.Tell(new WatchCampaign("lease"), TestActor);
        FishForMessage<CampaignStatus>(s => s.State == "completed", Long);
        blocking.Release();   // the first worker finishes late: acknowledged, not recorded again
        coordinator.Tell(new GetCampaignResults("lease"), TestActor);
        var result = Assert.Single(ExpectMsg<CampaignResults>(Long).Results);
        Assert.Equal("w2", result.Worker);
        Assert.Equal(2, result.Attempt);
        AwaitAssert(() => Assert.Equal(1, blocking.Calls.Values.Sum()), Long);
        coordinator.Tell(new GetCampaignResults("lease"), TestActor);
        Assert.Equal("w2", Assert.Single(ExpectMsg<CampaignResults>(Long).Results).Worker);
    }

    [Fact]
    public void The_job_of_a_worker_that_stops_is_queued_again_and_runs_on_another()
    {
        var coordinator = Coordinator();
        var blocking = new BlockFirstExecutor();
        var doomed = StartWorker(coordinator, blocking, "doomed");
        coordinator.Tell(new SubmitCampaign(TestPlans.Trainings("stop", 1)), TestActor);
        ExpectMsg<CampaignAccepted>(Long);
        Assert.True(blocking.Blocked.Wait(Long));
        Sys.Stop(doomed);
        StartWorker(coordinator, new ComputeExecutor(), "w2");
        coordinator.Tell(new WatchCampaign("stop"), TestActor);
        FishForMessage<CampaignStatus>(s => s.State == "completed", Long);
        coordinator.Tell(new GetCampaignResults("stop"), TestActor);
        Assert.Equal("w2", Assert.Single(ExpectMsg<CampaignResults>(Long).Results).Worker);
    }
}
