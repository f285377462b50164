using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Akka.Persistence;
using QuantLab.Actors.Messages;
using QuantLab.Actors.Storage;

namespace QuantLab.Actors.Coordinator;

/// <summary>
/// Persists and talks; <see cref="CoordinatorState"/> decides. Every state change is an event persisted
/// before anyone hears of it: a worker's result is acknowledged only once its <see cref="JobCompleted"/> is
/// in the journal. Runs as a cluster singleton (role <c>coordinator</c>) or as a plain actor in one process.
/// </summary>
/// <remarks>
/// Group commit: decisions apply their events to the state at once (so the next message sees them: a job is
/// never leased twice), and the events go to the journal in batches: one write in flight, and whatever was
/// decided meanwhile is written next, as one atomic write. What depends on durability (acknowledging a result,
/// handing out a leased job, accepting a campaign) waits for the batch that holds its events; status replies
/// come from the last durable state, so nobody hears of anything a crash could take back.
/// </remarks>
public sealed class CoordinatorActor : ReceivePersistentActor, IWithTimers
{
    public const string DefaultPersistenceId = "quantlab-coordinator";

    private sealed record LeaseTick;
    private sealed record Worker(IActorRef Ref, string Node, bool Idle);

    /// <summary>Events for one journal write, what waits for them, and the state once they are applied.</summary>
    private sealed class Batch
    {
        public readonly List<ICoordinatorEvent> Events = [];
        public readonly List<Action> Then = [];
        public CoordinatorState? After;
    }

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly TimeSpan _leaseCheck;
    private readonly Dictionary<string, Worker> _workers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<IActorRef>> _watchers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, CampaignStatus> _lastSent = new(StringComparer.Ordinal);
    /// <summary>Every decided event applied (some may still be on their way to the journal).</summary>
    private CoordinatorState _state;
    /// <summary>Only the events in the journal applied: what replies report.</summary>
    private CoordinatorState _durable;
    private Batch _pending = new();
    private Batch? _writing;
    /// <summary>Events in the journal after the newest snapshot.</summary>
    private long _sinceSnapshot;
    /// <summary>The events replayed after the snapshot, applied in one run when recovery completes (<see cref="CoordinatorState.ApplyAll"/>).</summary>
    private readonly List<ICoordinatorEvent> _replayed = [];
    private readonly StatusTable? _statusTable;
    /// <summary>The journal sequence number the status row was last written at.</summary>
    private long _statusWrittenAt = -1;
    /// <summary>The journal sequence number of <see cref="_durable"/>'s last event (the journal's success replies come
    /// one per event, so <c>LastSequenceNr</c> may run ahead of it while a batch completes).</summary>
    private long _durableSequenceNr;

    public override string PersistenceId { get; }
    public ITimerScheduler Timers { get; set; } = null!;
    public CoordinatorState State => _state;

    /// <param name="statusTable">Where to keep every campaign's status for readers (null: nowhere).</param>
    public static Props Props(CoordinatorPolicy policy, TimeSpan? leaseCheck = null, string persistenceId = DefaultPersistenceId, StatusTable? statusTable = null) =>
        Akka.Actor.Props.Create(() => new CoordinatorActor(policy, leaseCheck ?? TimeSpan.FromSeconds(1), persistenceId, statusTable));

    public CoordinatorActor(CoordinatorPolicy policy, TimeSpan leaseCheck, string persistenceId, StatusTable? statusTable)
    {
        PersistenceId = persistenceId;
        _leaseCheck = leaseCheck;
        _statusTable = statusTable;
        _state = _durable = CoordinatorState.Empty(policy);

        Recover<SnapshotOffer>(o => _state = CoordinatorState.FromSnapshot(policy, (CoordinatorSnapshot)o.Snapshot));
        Recover<ICoordinatorEvent>(e =>
        {
            _replayed.Add(e);
            _sinceSnapshot++;
        });
        Recover<RecoveryCompleted>(_ =>
        {
            _state = _state.ApplyAll(_replayed);
            _replayed.Clear();
            OnRecovered();
        });

        Command<RegisterWorker>(OnRegister);
        Command<RequestJob>(OnRequestJob);
        Command<JobHeartbeat>(h => _state = _state.RenewLease(h.Key, h.WorkerId, h.Attempt, DateTimeOffset.UtcNow));
        Command<JobFinished>(OnFinished);
        Command<SubmitCampaign>(OnSubmit);
        Command<RetryJobs>(OnRetry);
        Command<GetCampaignStatus>(g => Sender.Tell(_durable.Status(g.Campaign)));
        Command<GetCampaignResults>(g => Sender.Tell(_durable.Results(g.Campaign)));
        Command<WatchCampaign>(w =>
        {
            if (!_watchers.TryGetValue(w.Campaign, out var set)) _watchers[w.Campaign] = set = [];
            set.Add(Sender);
            Context.Watch(Sender);
            Sender.Tell(_durable.Status(w.Campaign));
        });
        Command<LeaseTick>(_ => Record(_state.ExpireLeases(DateTimeOffset.UtcNow)));
        Command<ClusterEvent.MemberRemoved>(m =>
        {
            var node = m.Member.Address.ToString();
            foreach (var (id, _) in _workers.Where(w => w.Value.Node == node).ToList()) _workers.Remove(id);
            Record(_state.NodeRemoved(node, DateTimeOffset.UtcNow));
        });
        Command<ClusterEvent.IClusterDomainEvent>(_ => { });
        Command<ClusterEvent.CurrentClusterState>(_ => { });
        Command<Terminated>(OnTerminated);
        // Only the newest snapshot is ever read: older ones go once a new one is saved.
        Command<SaveSnapshotSuccess>(s => DeleteSnapshots(new SnapshotSelectionCriteria(s.Metadata.SequenceNr - 1)));
        Command<SaveSnapshotFailure>(f => _log.Warning("snapshot failed (recovery replays more events until the next one): {0}", f.Cause.Message));
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(f => _log.Warning("deleting old snapshots failed: {0}", f.Cause.Message));
    }

    protected override void PreStart()
    {
        if (IsCluster)
            Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.MemberRemoved));
        base.PreStart();
    }

    protected override void PostStop()
    {
        _statusTable?.Dispose();
        if (IsCluster)
            Cluster.Get(Context.System).Unsubscribe(Self);
        base.PostStop();
    }

    private bool IsCluster => Context.System.Settings.ProviderClass.Contains("Cluster", StringComparison.Ordinal);

    private void OnRecovered()
    {
        // Workers of running jobs may still be alive (only the coordinator moved): give them a full lease.
        var now = DateTimeOffset.UtcNow;
        _state = _durable = _state.RenewAllLeases(now);
        _durableSequenceNr = LastSequenceNr;
        Timers.StartPeriodicTimer("leases", new LeaseTick(), _leaseCheck);
        WriteStatusRow();
        _log.Info("coordinator recovered: {0} campaigns, {1} jobs, {2} ready; {3} events replayed after the snapshot at {4}",
            _state.Campaigns.Count, _state.Jobs.Count, _state.Ready.Count, _sinceSnapshot, LastSequenceNr - _sinceSnapshot);
        if (_state.Policy.WorkersDieWithCoordinator)
        {
            Record(_state.Lost(_ => true, "the lab stopped while the job ran", now));
        }
        else if (IsCluster)
        {
            // A node removed before this coordinator started (e.g. the old coordinator's own node) sends no
            // MemberRemoved any more: its running jobs are queued again now rather than at lease expiry.
            var members = Cluster.Get(Context.System).State.Members.Select(m => m.Address.ToString()).ToHashSet(StringComparer.Ordinal);
            Record(_state.Lost(j => j.Node is not null && !members.Contains(j.Node), "its node left the cluster while the coordinator moved", now));
        }
    }

    private void OnRegister(RegisterWorker r)
    {
        if (_state.RefuseWorker(r.EngineVersion) is { } reason)
        {
            _log.Warning("refusing worker {0} on {1}: {2}", r.WorkerId, r.Node, reason);
            Sender.Tell(new WorkerRefused(r.WorkerId, reason));
            return;
        }
        var known = _workers.TryGetValue(r.WorkerId, out var existing) && existing.Ref.Equals(Sender);
        if (!known)
        {
            _workers[r.WorkerId] = new Worker(Sender, r.Node, Idle: false);
            Context.Watch(Sender);
        }
        Sender.Tell(new WorkerAccepted(r.WorkerId));
    }

    private void OnRequestJob(RequestJob request)
    {
        if (!_workers.TryGetValue(request.WorkerId, out var worker)) return;   // it registers again shortly
        var leased = _state.Assign(request.WorkerId, worker.Node, Math.Max(1, request.Capacity), DateTimeOffset.UtcNow);
        if (leased is null)
        {
            // Idle only when nothing is ready: a full worker asks again by itself once it has room.
            _workers[request.WorkerId] = worker with { Idle = _state.Ready.Count == 0 };
            Sender.Tell(new NoJobAvailable(request.WorkerId));
            return;
        }
        _workers[request.WorkerId] = worker with { Idle = false };
        var sender = Sender;
        Record([leased], () =>
        {
            var now = DateTimeOffset.UtcNow;
            foreach (var s in leased.Jobs)
            {
                // The lease runs from the hand-over, not from the decision: a slow journal write must not eat it up.
                _state = _state.RenewLease(s.Key, leased.Worker, s.Attempt, now);
                var job = _durable.Jobs[s.Key].Job;
                var upstream = job.Upstream.ToDictionary(u => u, u => _durable.Jobs[u].Result!.Artifacts, StringComparer.Ordinal);
                sender.Tell(new JobAssignment(job, s.Attempt, upstream));
            }
        });
    }

    private void OnFinished(JobFinished report)
    {
        var sender = Sender;
        var ack = new JobFinishedAck(report.Key, report.Attempt);
        // Already recorded (or a stale failure): no events, and the ack still waits for any write that may hold
        // this very result (a resend that crossed the first copy's write), so it is never acknowledged before durable.
        Record(_state.Finish(report, DateTimeOffset.UtcNow), () => sender.Tell(ack));
    }

    private void OnSubmit(SubmitCampaign submit)
    {
        var sender = Sender;
        var decision = _state.Submit(submit.Plan, DateTimeOffset.UtcNow);
        if (decision.Refused is { } refused) { sender.Tell(refused); return; }
        if (decision.Event is null) { sender.Tell(decision.Accepted!); return; }
        _log.Info("campaign {0}: {1} jobs, {2} reused, {3} combinations dropped",
            submit.Plan.Campaign, decision.Accepted!.Total, decision.Accepted.Reused, decision.Accepted.Dropped);
        Record([decision.Event], () => sender.Tell(decision.Accepted!));
    }

    private void OnRetry(RetryJobs retry)
    {
        var sender = Sender;
        var decision = _state.Retry(retry.Campaign, retry.Key, DateTimeOffset.UtcNow);
        if (decision.Refused is { } refused) { sender.Tell(refused); return; }
        Record([decision.Event!], () => sender.Tell(decision.Accepted!));
    }

    private void OnTerminated(Terminated t)
    {
        foreach (var set in _watchers.Values) set.Remove(t.ActorRef);
        var lost = _workers.Where(w => w.Value.Ref.Equals(t.ActorRef)).Select(w => w.Key).ToList();
        foreach (var id in lost)
        {
            _workers.Remove(id);
            Record(_state.WorkerLost(id, DateTimeOffset.UtcNow));
        }
    }

    /// <summary>
    /// Applies the events to the state now and queues them for the journal; <paramref name="then"/> runs once they
    /// (and everything decided before them) are durable. Without events, <paramref name="then"/> still waits for the
    /// writes already decided, since what it says may rest on them.
    /// </summary>
    private void Record(IReadOnlyList<ICoordinatorEvent> events, Action? then = null)
    {
        foreach (var e in events)
        {
            _state = _state.Apply(e);
            _pending.Events.Add(e);
        }
        if (then is not null)
        {
            if (_pending.Events.Count > 0) _pending.Then.Add(then);
            else if (_writing is not null) _writing.Then.Add(then);
            else then();
        }
        Flush();
    }

    /// <summary>Starts the next journal write, unless one is in flight (its completion starts the next).</summary>
    private void Flush()
    {
        if (_writing is not null || _pending.Events.Count == 0) return;
        _writing = _pending;
        _writing.After = _state;
        _pending = new Batch();
        var remaining = _writing.Events.Count;
        // One atomic write; PersistAllAsync does not stash commands meanwhile, so the next batch accumulates.
        PersistAllAsync(_writing.Events, _ => { if (--remaining == 0) Written(); });
    }

    private void Written()
    {
        var batch = _writing!;
        _writing = null;
        _durable = batch.After!;
        _durableSequenceNr = LastSequenceNr;
        _sinceSnapshot += batch.Events.Count;
        if (_durable.SnapshotDue(_sinceSnapshot))
        {
            SaveSnapshot(_durable.ToSnapshot(DateTimeOffset.UtcNow));   // of the journal up to this batch: LastSequenceNr
            _sinceSnapshot = 0;
        }
        // Before anyone hears of the batch: what a watcher prints, status then reads.
        WriteStatusRow();
        foreach (var then in batch.Then) then();
        NotifyIdleWorkers();
        NotifyWatchers();
        Flush();
    }

    /// <summary>
    /// The durable state's statuses, as of the journal sequence number of its last event, after every durable batch.
    /// A projection for readers: a failed write costs them only speed (they read the journal), so it is logged, not fatal.
    /// </summary>
    private void WriteStatusRow()
    {
        if (_statusTable is null || _statusWrittenAt == _durableSequenceNr) return;
        try
        {
            _statusTable.Write(_durableSequenceNr, _durable.Campaigns.Keys.Order(StringComparer.Ordinal).Select(_durable.Status), DateTimeOffset.UtcNow);
            _statusWrittenAt = _durableSequenceNr;
        }
        catch (Exception e)
        {
            _log.Warning("the status row was not written ('status' reads the journal meanwhile): {0}", e.GetBaseException().Message);
        }
    }

    private void NotifyIdleWorkers()
    {
        var ready = _state.Ready.Count;
        if (ready == 0) return;
        foreach (var (id, w) in _workers.Where(w => w.Value.Idle).Take(ready).ToList())
        {
            _workers[id] = w with { Idle = false };   // until it asks again
            w.Ref.Tell(new JobsAvailable(ready));
        }
    }

    private void NotifyWatchers()
    {
        foreach (var (campaign, watchers) in _watchers)
        {
            if (watchers.Count == 0) continue;
            var status = _durable.Status(campaign);
            if (_lastSent.TryGetValue(campaign, out var last) && last == status) continue;
            _lastSent[campaign] = status;
            foreach (var w in watchers) w.Tell(status);
        }
    }
}
