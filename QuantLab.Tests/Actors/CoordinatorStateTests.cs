using QuantLab.Engine.Jobs;
using QuantLab.Actors.Coordinator;
using QuantLab.Actors.Messages;
using QuantLab.Actors.Planning;

namespace QuantLab.Tests.Actors;

public class CoordinatorStateTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly CoordinatorPolicy Policy = new(TestPlans.Engine, MaxAttempts: 2, Lease: TimeSpan.FromSeconds(10));

    private static CoordinatorState Submitted(CampaignPlan plan, out CampaignAccepted accepted)
    {
        var decision = CoordinatorState.Empty(Policy).Submit(plan, T0);
        accepted = decision.Accepted!;
        return CoordinatorState.Empty(Policy).Apply(decision.Event!);
    }

    /// <summary>A lease of one job, as these tests read it.</summary>
    private sealed record Started(JobsLeased Event, string Key, int Attempt, string Worker, string Node);

    private static CoordinatorState Start(CoordinatorState s, string worker, out Started started, string node = "node-a")
    {
        started = Next(s, worker, node)!;
        Assert.NotNull(started);
        return s.Apply(started.Event);
    }

    /// <summary>The one job a worker that holds at most one is given, or null.</summary>
    private static Started? Next(CoordinatorState s, string worker, string node) =>
        s.Assign(worker, node, 1, T0) is { } e ? new(e, e.Jobs.Single().Key, e.Jobs.Single().Attempt, e.Worker, e.Node) : null;

    private static CoordinatorState Succeed(CoordinatorState s, Started st, double accuracy = 0.9) =>
        s.ApplyAll(s.Finish(new JobFinished(st.Worker, st.Node, st.Key, st.Attempt, TestPlans.Success(accuracy), 5), T0));

    [Fact]
    public void A_snapshot_is_due_every_interval_of_events_and_whenever_the_lab_falls_idle()
    {
        var policy = Policy with { SnapshotEvery = 3 };
        var empty = CoordinatorState.Empty(policy);
        Assert.False(empty.SnapshotDue(0));
        var s = empty.Apply(empty.Submit(TestPlans.Trainings("t", 2), T0).Event!);
        // Work to do: due only after the interval (here max(3 events, a quarter of 2 jobs)).
        Assert.False(s.SnapshotDue(1));
        Assert.False(s.SnapshotDue(2));
        Assert.True(s.SnapshotDue(3));
        s = Start(s, "w1", out var first);
        s = Start(s, "w2", out var second);
        s = Succeed(s, first);
        Assert.False(s.SnapshotDue(2));   // one job still running
        s = Succeed(s, second);
        // Idle: nothing ready, nothing running. The final state is due at once, but not again without new events.
        Assert.True(s.SnapshotDue(1));
        Assert.False(s.SnapshotDue(0));
        // More jobs than the interval: due after a quarter as many events as jobs (here 20 jobs, 5 events).
        var many = empty.Apply(empty.Submit(TestPlans.Trainings("many", 20), T0).Event!);
        Assert.False(many.SnapshotDue(4));
        Assert.True(many.SnapshotDue(5));
    }

    /// <summary>
    /// A random lab history (two campaigns sharing jobs, leases, successes, configuration and environment failures,
    /// lost attempts, retries), decided and applied one event at a time, then applied again as one run.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Applying_a_run_of_events_at_once_gives_the_state_applying_them_one_at_a_time_gives(int seed)
    {
        var random = new Random(seed);
        var start = CoordinatorState.Empty(Policy);
        var one = start;
        var events = new List<ICoordinatorEvent>();
        void Record(IEnumerable<ICoordinatorEvent> decided)
        {
            foreach (var e in decided) { one = one.Apply(e); events.Add(e); }
        }
        Record([one.Submit(TestPlans.Small("first", bits: "[2, 3, 4, 5, 6, 7, 8]"), T0).Event!]);
        Record([one.Submit(TestPlans.Trainings("trainings", 20), T0).Event!]);
        for (var step = 0; step < 300; step++)
        {
            if (step == 40) Record([one.Submit(TestPlans.Small("second", bits: "[4, 6, 16]"), T0).Event!]);
            var choice = random.Next(10);
            if (choice < 4 && one.Assign("w" + random.Next(3), "node-" + random.Next(2), 1 + random.Next(3), T0) is { } leased)
                Record([leased]);
            else if (choice < 9 && !one.Leases.IsEmpty)
            {
                var key = one.Leases.Keys.ElementAt(random.Next(one.Leases.Count));
                var job = one.Jobs[key];
                var outcome = random.Next(6) switch
                {
                    0 => JobOutcome.InfrastructureFailure("boom"),
                    1 => JobOutcome.ConfigurationFailure("loss is NaN"),
                    _ => TestPlans.Success(random.NextDouble()),
                };
                Record(one.Finish(new JobFinished(job.Worker!, job.Node!, key, job.Attempts, outcome, 5) { Identity = random.Next(2) == 0 ? null : "CN=n" }, T0));
            }
            else if (choice == 9 && !one.Leases.IsEmpty)
                Record(one.NodeRemoved("node-" + random.Next(2), T0));
            else if (one.Ready.IsEmpty && one.Leases.IsEmpty && one.Retry("first", null, T0).Event is { } retry)
                Record([retry]);
        }
        Assert.True(events.Count > 50, $"{events.Count} events");
        Assert.Contains(events, e => e is JobsRetried);

        var all = start.ApplyAll(events);
        Assert.Equal(TestPlans.Json(one.ToSnapshot(T0)), TestPlans.Json(all.ToSnapshot(T0)));
        Assert.Equal(one.Ready, all.Ready);
        Assert.Equal(one.Leases.OrderBy(l => l.Key), all.Leases.OrderBy(l => l.Key));
        Assert.Equal(one.Dependents.OrderBy(d => d.Key).Select(d => (d.Key, string.Join(",", d.Value))), all.Dependents.OrderBy(d => d.Key).Select(d => (d.Key, string.Join(",", d.Value))));
        Assert.Equal(one.NextSeq, all.NextSeq);
        foreach (var name in new[] { "first", "second", "trainings" })
            Assert.Equal(TestPlans.Json(one.Status(name)), TestPlans.Json(all.Status(name)));
        // Applied in two runs, split anywhere, too.
        var split = random.Next(events.Count);
        Assert.Equal(TestPlans.Json(all.ToSnapshot(T0)), TestPlans.Json(start.ApplyAll(events.Take(split)).ApplyAll(events.Skip(split)).ToSnapshot(T0)));
    }

    [Fact]
    public void CampaignSubmitted_queues_every_job_and_only_jobs_without_pending_upstream_are_ready()
    {
        var plan = TestPlans.Small();
        var s = Submitted(plan, out var accepted);
        Assert.Equal(new CampaignAccepted("small", 4, 0, 0), accepted);
        Assert.Equal(new CampaignStatus("small", "queued", 4, 0, 0, 0, 4), (s.Status("small")).Totals());
        Assert.Equal(JobKind.Train, s.Jobs[s.Ready.Values.Single()].Job.Kind);
    }

    [Fact]
    public void A_worker_that_still_runs_a_job_is_given_no_second_one()
    {
        var s = Start(Submitted(TestPlans.Trainings("three", 3), out _), "w1", out var first);
        Assert.Null(Next(s, "w1", "node-a"));   // its second request crossed the first assignment
        Assert.NotNull(Next(s, "w2", "node-a"));
        s = Succeed(s, first);
        Assert.NotNull(Next(s, "w1", "node-a"));
    }

    [Fact]
    public void JobsLeased_marks_the_job_running_under_a_lease_and_takes_it_off_the_queue()
    {
        var submitted = Submitted(TestPlans.Small(), out _);
        var s = Start(submitted, "w1", out var started);
        Assert.Equal(1, started.Attempt);
        Assert.Equal(JobStatus.Running, s.Jobs[started.Key].Status);
        Assert.Equal(T0 + Policy.Lease, s.Leases[started.Key]);
        Assert.Null(Next(s, "w2", "node-a"));   // the rest waits on the training
        Assert.Equal(new CampaignStatus("small", "running", 4, 0, 0, 1, 3), (s.Status("small")).Totals());
        // The event of older coordinators, one per job, still reads the same.
        var older = submitted.Apply(new JobStarted(started.Key, "w1", "node-a", 1, T0));
        Assert.Equal(TestPlans.Json(s.ToSnapshot(T0)), TestPlans.Json(older.ToSnapshot(T0)));
        Assert.Equal(s.Leases, older.Leases);
    }

    [Fact]
    public void One_request_leases_as_many_ready_jobs_as_the_worker_has_room_for_in_one_event()
    {
        var s = Submitted(TestPlans.Trainings("five", 5), out _);
        var leased = s.Assign("w1", "node-a", 3, T0)!;
        Assert.Equal(3, leased.Jobs.Count);
        Assert.All(leased.Jobs, j => Assert.Equal(1, j.Attempt));
        s = s.Apply(leased);
        Assert.Equal(3, s.Held("w1"));
        Assert.All(leased.Jobs, j => Assert.Equal(JobStatus.Running, s.Jobs[j.Key].Status));
        Assert.Equal(2, s.Ready.Count);
        Assert.Null(s.Assign("w1", "node-a", 3, T0));              // full
        Assert.Equal(2, s.Assign("w2", "node-b", 16, T0)!.Jobs.Count);   // only what is ready
    }

    [Fact]
    public void JobCompleted_records_the_result_once_and_releases_the_dependents()
    {
        var s = Start(Submitted(TestPlans.Small(), out _), "w1", out var st);
        var report = new JobFinished("w1", "node-a", st.Key, 1, TestPlans.Success(0.98), 5);
        var events = s.Finish(report, T0);
        var completed = Assert.IsType<JobCompleted>(Assert.Single(events));
        Assert.Equal(0.98, completed.Result.Metrics.Numbers["accuracy"]);
        s = s.ApplyAll(events);
        Assert.Equal(JobStatus.Succeeded, s.Jobs[st.Key].Status);
        Assert.Empty(s.Leases);
        Assert.Empty(s.Finish(report, T0));   // a repeated report records nothing
        Assert.Equal(JobKind.Calibrate, s.Jobs[s.Ready.Values.Single()].Job.Kind);
    }

    [Fact]
    public void JobAttemptFailed_queues_the_job_again_and_the_next_attempt_counts_up()
    {
        var s = Start(Submitted(TestPlans.Small(), out _), "w1", out var st);
        var events = s.Finish(new JobFinished("w1", "node-a", st.Key, 1, JobOutcome.InfrastructureFailure("disk full"), 5), T0);
        var failed = Assert.IsType<JobAttemptFailed>(Assert.Single(events));
        Assert.Equal("disk full", failed.Error);
        s = s.ApplyAll(events);
        Assert.Equal(JobStatus.Queued, s.Jobs[st.Key].Status);
        Assert.Equal(2, Next(s, "w2", "node-b")!.Attempt);
        // A failure report of an attempt that is no longer running changes nothing.
        Assert.Empty(s.Finish(new JobFinished("w1", "node-a", st.Key, 1, JobOutcome.InfrastructureFailure("late"), 5), T0));
    }

    [Fact]
    public void JobFailed_after_the_attempt_limit_fails_the_dependents_too_and_the_campaign_ends_failed()
    {
        var s = Submitted(TestPlans.Small(), out _);
        for (var attempt = 1; attempt <= Policy.MaxAttempts; attempt++)
        {
            s = Start(s, "w1", out var st);
            Assert.Equal(attempt, st.Attempt);
            s = s.ApplyAll(s.Finish(new JobFinished("w1", "node-a", st.Key, attempt, JobOutcome.InfrastructureFailure("boom"), 5), T0));
        }
        Assert.All(s.Jobs.Values, j => Assert.Equal(JobStatus.Failed, j.Status));
        Assert.Equal(new CampaignStatus("small", "failed", 4, 0, 4, 0, 0, EnvironmentFailed: 4), (s.Status("small")).Totals());
        var results = s.Results("small");
        Assert.Empty(results.Results);
        Assert.Contains("failed 2 times; last error: boom", results.Failed.Single(f => f.Kind == JobKind.Train).Error);
    }

    [Fact]
    public void A_configuration_failure_is_a_result_not_retried_and_its_dependents_are_recorded_with_it()
    {
        var s = Start(Submitted(TestPlans.Small(), out _), "w1", out var st);
        var events = s.Finish(new JobFinished("w1", "node-a", st.Key, 1, JobOutcome.ConfigurationFailure("loss is NaN"), 5), T0);
        Assert.Equal(4, events.Count);
        s = s.ApplyAll(events);
        Assert.All(s.Jobs.Values, j => Assert.Equal(JobStatus.ConfigurationFailed, j.Status));
        Assert.Null(Next(s, "w1", "node-a"));
        // A failed configuration is a result, but not a success: the campaign ends failed, counting it.
        Assert.Equal(new CampaignStatus("small", "failed", 4, 0, 4, 0, 0), (s.Status("small")).Totals());
        Assert.Equal("loss is NaN", s.Jobs[st.Key].Result!.Error);
    }

    [Fact]
    public void Jobs_the_environment_failed_are_retried_by_the_next_submission_with_fresh_attempts()
    {
        var plan = TestPlans.Small();
        var s = Submitted(plan, out _);
        for (var attempt = 1; attempt <= Policy.MaxAttempts; attempt++)
        {
            s = Start(s, "w1", out var st);
            s = s.ApplyAll(s.Finish(new JobFinished("w1", "node-a", st.Key, attempt, JobOutcome.InfrastructureFailure("data directory unreadable"), 5), T0));
        }
        Assert.Equal("failed", s.Status("small").State);
        // The environment is fixed; running the campaign again resubmits it: every failed job is queued again.
        var again = s.Submit(plan, T0);
        Assert.NotNull(again.Event);
        s = s.Apply(again.Event!);
        Assert.All(s.Jobs.Values, j => Assert.Equal((JobStatus.Queued, 0), (j.Status, j.Attempts)));
        s = Start(s, "w1", out var retry);
        Assert.Equal(1, retry.Attempt);
        s = Succeed(s, retry);
        Assert.Equal(JobStatus.Succeeded, s.Jobs[retry.Key].Status);
    }

    [Fact]
    public void Retry_queues_the_chosen_failed_jobs_of_either_kind_with_the_jobs_that_failed_because_of_them()
    {
        var s = Start(Submitted(TestPlans.Small(), out _), "w1", out var st);
        Assert.Equal("campaign small has no failed jobs", s.Retry("small", null, T0).Refused!.Reason);
        Assert.Contains("has not failed (it is running)", s.Retry("small", st.Key, T0).Refused!.Reason);
        Assert.Contains("no campaign 'nope'", s.Retry("nope", null, T0).Refused!.Reason);
        s = s.ApplyAll(s.Finish(new JobFinished("w1", "node-a", st.Key, 1, JobOutcome.ConfigurationFailure("loss is NaN"), 5), T0));
        var downstream = s.Jobs.Keys.First(k => k != st.Key);
        Assert.Contains("has no job zzz", s.Retry("small", "zzz", T0).Refused!.Reason);

        // The training's configuration failed and took its three dependents with it: retrying it re-runs all four.
        var decision = s.Retry("small", st.Key[..12], T0);
        Assert.Equal(new RetryAccepted("small", 4), decision.Accepted);
        Assert.Equal(st.Key, decision.Event!.Keys[0]);
        s = s.Apply(decision.Event);
        Assert.All(s.Jobs.Values, j => Assert.Equal((JobStatus.Queued, 0, (JobResult?)null), (j.Status, j.Attempts, j.Result)));
        Assert.Equal("queued", s.Status("small").State);

        // Environment failures too, all of a campaign's at once (no --job).
        for (var attempt = 1; attempt <= Policy.MaxAttempts; attempt++)
        {
            s = Start(s, "w1", out var again);
            s = s.ApplyAll(s.Finish(new JobFinished("w1", "node-a", again.Key, attempt, JobOutcome.InfrastructureFailure("data directory unreadable"), 5), T0));
        }
        Assert.Equal(JobStatus.Failed, s.Jobs[downstream].Status);
        s = s.Apply(s.Retry("small", null, T0).Event!);
        s = Start(s, "w1", out var retried);
        Assert.Equal((st.Key, 1), (retried.Key, retried.Attempt));
        s = Succeed(s, retried);
        Assert.Equal(JobStatus.Succeeded, s.Jobs[st.Key].Status);
    }

    [Fact]
    public void A_campaign_that_shares_a_training_whose_configuration_failed_does_not_wait_for_it()
    {
        var plan = TestPlans.Small();
        var s = Start(Submitted(plan, out _), "w1", out var st);
        s = s.ApplyAll(s.Finish(new JobFinished("w1", "node-a", st.Key, 1, JobOutcome.ConfigurationFailure("loss is NaN"), 5), T0));
        // A configuration failure is a result: resubmitting the campaign runs nothing again.
        Assert.Null(s.Submit(plan, T0).Event);
        // A second campaign: the same training, an evaluation the first did not have.
        var evaluate = plan.Jobs.Last(j => j.Kind == JobKind.Evaluate);
        var other = evaluate with { Key = "other-evaluation", Label = "other" };
        var second = plan with { Campaign = "second", Jobs = [plan.Jobs[0], other] };
        s = s.Apply(s.Submit(second, T0).Event!);
        Assert.Equal(JobStatus.ConfigurationFailed, s.Jobs["other-evaluation"].Status);
        Assert.Contains("loss is NaN", s.Jobs["other-evaluation"].Result!.Error);
        Assert.Equal(new CampaignStatus("second", "failed", 2, 0, 2, 0, 0), s.Status("second").Totals());
    }

    [Fact]
    public void A_late_result_of_a_superseded_attempt_is_recorded_once()
    {
        var s = Start(Submitted(TestPlans.Small(), out _), "w1", out var first);
        s = s.ApplyAll(s.ExpireLeases(T0 + Policy.Lease + TimeSpan.FromSeconds(1)));
        s = Start(s, "w2", out var second);
        Assert.Equal(2, second.Attempt);
        s = Succeed(s, first);                        // the first worker was slow, not dead
        Assert.Equal("w1", s.Jobs[first.Key].Result!.Worker);
        Assert.Empty(s.Finish(new JobFinished("w2", "node-a", second.Key, 2, TestPlans.Success(0.5), 5), T0));
    }

    [Fact]
    public void Leases_expire_without_heartbeats_are_renewed_by_them_and_after_recovery()
    {
        var s = Start(Submitted(TestPlans.Small(), out _), "w1", out var st);
        var late = T0 + Policy.Lease + TimeSpan.FromSeconds(1);
        Assert.Empty(s.ExpireLeases(T0 + Policy.Lease - TimeSpan.FromSeconds(1)));
        var expired = Assert.IsType<JobAttemptFailed>(Assert.Single(s.ExpireLeases(late)));
        Assert.StartsWith("lease expired", expired.Error);
        Assert.Empty(s.RenewLease(st.Key, "w1", 1, T0 + TimeSpan.FromSeconds(5)).ExpireLeases(late));
        Assert.Same(s, s.RenewLease(st.Key, "someone-else", 1, late));
        Assert.Empty(s.RenewAllLeases(late).ExpireLeases(late + TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public void Jobs_of_a_removed_node_or_a_stopped_worker_are_queued_again()
    {
        var s = Submitted(TestPlans.Trainings("t", 3), out _);
        s = Start(s, "w1", out var a, node: "node-a");
        s = Start(s, "w2", out var b, node: "node-b");
        s = Start(s, "w3", out var c, node: "node-b");
        var removed = s.NodeRemoved("node-b", T0);
        Assert.Equal([b.Key, c.Key], removed.Cast<JobAttemptFailed>().Select(e => e.Key));
        s = s.ApplyAll(removed);
        Assert.Equal(JobStatus.Running, s.Jobs[a.Key].Status);
        Assert.Equal(2, s.Ready.Count);
        var lost = Assert.IsType<JobAttemptFailed>(Assert.Single(s.WorkerLost("w1", T0)));
        Assert.Equal(a.Key, lost.Key);
    }

    [Fact]
    public void A_second_campaign_reuses_the_jobs_and_results_it_shares_with_the_first()
    {
        var s = Submitted(TestPlans.Small("first", bits: "[4, 8]"), out _);
        while (Next(s, "w", "n") is { } st) s = Succeed(s.Apply(st.Event), st);
        Assert.Equal("completed", s.Status("first").State);

        var decision = s.Submit(TestPlans.Small("second", bits: "[8, 6]"), T0);
        Assert.Equal(new CampaignAccepted("second", 4, 3, 0), decision.Accepted);   // train, calibrate and the 8-bit evaluation
        s = s.Apply(decision.Event!);
        Assert.Equal(5, s.Jobs.Count);
        Assert.Equal(new CampaignStatus("second", "running", 4, 3, 0, 0, 1), (s.Status("second")).Totals());
        Assert.Equal(["first", "second"], s.Jobs[s.Jobs[s.Ready.Values.Single()].Job.Upstream[0]].Campaigns.Order());
        // Submitting the same plan again adds nothing.
        Assert.Null(s.Submit(TestPlans.Small("second", bits: "[8, 6]"), T0).Event);
    }

    [Fact]
    public void The_status_counts_each_campaigns_results_per_producing_identity_through_retries_reuse_and_snapshots()
    {
        var s = Submitted(TestPlans.Small("first", bits: "[4, 8]"), out _);
        string[] identities = ["CN=a", "CN=b", null!];
        for (var i = 0; Next(s, "w", "n") is { } st; i++)
        {
            s = s.Apply(st.Event);
            s = s.ApplyAll(s.Finish(new JobFinished(st.Worker, st.Node, st.Key, st.Attempt, TestPlans.Success(0.9), 5, identities[i % 3]), T0));
        }
        // Four jobs: CN=a produced the first and the fourth, CN=b the second, a node without TLS the third.
        var expected = new ProducerCount[] { new(null, 1), new("CN=a", 2), new("CN=b", 1) };
        Assert.Equal(expected, s.Status("first").Producers!.OrderBy(p => p.Identity));

        // A second campaign counts the results it reuses; a retried job counts for nobody until it succeeds again.
        s = s.Apply(s.Submit(TestPlans.Small("second", bits: "[8]"), T0).Event!);
        Assert.Equal(3, s.Status("second").Producers!.Sum(p => p.Results));
        var retry = s.Jobs.Values.First(j => j.Job.Kind == JobKind.Evaluate && j.Campaigns.Count == 2);
        int Of(string campaign, string? identity) => s.Status(campaign).Producers!.SingleOrDefault(p => p.Identity == identity)?.Results ?? 0;
        var shared = retry.Result!.Identity;
        var (first, second) = (Of("first", shared), Of("second", shared));
        s = s.Apply(new JobsRetried("second", [retry.Job.Key], T0));
        Assert.Equal((first - 1, second - 1), (Of("first", shared), Of("second", shared)));
        foreach (var name in new[] { "first", "second" })
            Assert.Equal(s.Status(name).Done, s.Status(name).Producers!.Sum(p => p.Results));

        // Recovery from a snapshot derives the same counts.
        var back = CoordinatorState.FromSnapshot(Policy, s.ToSnapshot(T0));
        foreach (var name in new[] { "first", "second" }) Assert.Equal(s.Status(name), back.Status(name));
    }

    [Fact]
    public void A_plan_or_a_worker_of_another_engine_version_is_refused()
    {
        var s = CoordinatorState.Empty(Policy);
        var decision = s.Submit(TestPlans.Small(engine: "9.9.9"), T0);
        Assert.Null(decision.Event);
        Assert.Contains("engine 9.9.9", decision.Refused!.Reason);
        Assert.Null(s.RefuseWorker(TestPlans.Engine));
        Assert.Contains("differs", s.RefuseWorker("0.1.0"));
    }

    [Fact]
    public void Unknown_campaigns_report_state_unknown()
    {
        Assert.Equal("unknown", CoordinatorState.Empty(Policy).Status("nope").State);
    }

    [Fact]
    public void The_status_counts_jobs_per_stage()
    {
        var plan = TestPlans.Small();
        var s = Submitted(plan, out _);
        var stages = s.Status("small").Stages!;
        Assert.Equal(plan.Jobs.GroupBy(j => j.Kind).OrderBy(g => g.Key).Select(g => (g.Key.ToString().ToLowerInvariant(), g.Count())),
            stages.Select(x => (x.Stage, x.Total)));
        Assert.All(stages, x => Assert.Equal(x.Total, x.Queued));
    }

    [Fact]
    public void A_snapshot_holds_the_state_its_events_built_and_the_state_goes_on_from_it_alike()
    {
        var plan = TestPlans.Small("snap", bits: "[2, 4, 8]");
        var s = Start(Submitted(plan, out _), "w1", out var train);
        s = Start(Succeed(s, train), "w1", out _);   // the calibration runs, the evaluations wait for it
        var back = CoordinatorState.FromSnapshot(Policy, s.ToSnapshot(T0));
        Assert.Equal(s.Status("snap"), back.Status("snap"));
        Assert.Equal(s.Ready, back.Ready);
        Assert.Equal(s.Leases.Keys.Order(), back.Leases.Keys.Order());
        Assert.Equal(s.NextSeq, back.NextSeq);
        foreach (var state in new[] { s, back })
        {
            var calibrate = s.Leases.Keys.Single();
            var next = Succeed(state, new Started(new JobsLeased("w1", "node-a", [new(calibrate, 1)], T0), calibrate, 1, "w1", "node-a"));
            Assert.Equal(3, next.Ready.Count);   // its dependents were released in both
            Assert.Equal(new CampaignStatus("snap", "running", 5, 2, 0, 0, 3), next.Status("snap").Totals());
        }
    }

    [Fact]
    public void A_submission_is_told_its_jobs_per_stage_and_the_stages_measured_median_durations_before_anything_runs()
    {
        var s = Submitted(TestPlans.Trainings("earlier", 3, firstSeed: 10), out var first);
        Assert.Equal([new StageEstimate("train", 3, null)], first.Estimate);   // nothing timed yet
        foreach (var ms in new long[] { 1000, 9000, 2000 })
        {
            s = Start(s, "w1", out var st);
            s = s.ApplyAll(s.Finish(new JobFinished(st.Worker, st.Node, st.Key, st.Attempt, TestPlans.Success(0.9), ms), T0));
        }

        var estimate = s.Submit(TestPlans.Small(), T0).Accepted!.Estimate!;
        Assert.Equal([new StageEstimate("train", 1, 2.0), new StageEstimate("calibrate", 1, null), new StageEstimate("evaluate", 2, null)], estimate);
        Assert.Equal("estimate: about 1 s with 2 workers (train 1 × 2 s: medians of the jobs finished in this database), plus calibrate (1 job) and evaluate (2 jobs) not timed here yet",
            QuantLab.Host.Progress.WorkEstimate.Describe(estimate, 2));
        // Finished jobs of the plan itself are not work left.
        Assert.Empty(s.Estimate(TestPlans.Trainings("again", 3, firstSeed: 10)));
    }

    [Fact]
    public void A_campaign_of_days_says_so()
    {
        var estimate = new[] { new StageEstimate("evaluate", 1_000_000, 1.5) };
        Assert.Equal("estimate: about 8.7 days with 2 workers (evaluate 1,000,000 × 1.5 s: medians of the jobs finished in this database)",
            QuantLab.Host.Progress.WorkEstimate.Describe(estimate, 2));
    }
}
