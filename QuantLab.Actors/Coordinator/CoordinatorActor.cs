using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Akka.Persistence;
using Akka.Persistence.Journal;
using QuantLab.Actors.Messages;

namespace QuantLab.Actors.Coordinator;

/// <summary>
/// Persists and talks; <see cref="CoordinatorState"/> decides. Every state change is an event persisted
/// before anyone hears of it: a worker's result is acknowledged only once its <see cref="JobCompleted"/> is
/// in the journal. Runs as a cluster singleton (role <c>coordinator</c>) or as a plain actor in one process.
/// </summary>
public sealed class CoordinatorActor : ReceivePersistentActor, IWithTimers
{
    public const string DefaultPersistenceId = "quantlab-coordinator";
    /// <summary>Tag on every event, for the read side's EventsByTag.</summary>
    public const string Tag = "quantlab";

    private sealed record LeaseTick;
    private sealed record Worker(IActorRef Ref, string Node, bool Idle);

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly TimeSpan _leaseCheck;
    private readonly Dictionary<string, Worker> _workers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<IActorRef>> _watchers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, CampaignStatus> _lastSent = new(StringComparer.Ordinal);
    private CoordinatorState _state;

    public override string PersistenceId { get; }
    public ITimerScheduler Timers { get; set; } = null!;
    public CoordinatorState State => _state;

    public static Props Props(CoordinatorPolicy policy, TimeSpan? leaseCheck = null, string persistenceId = DefaultPersistenceId) =>
        Akka.Actor.Props.Create(() => new CoordinatorActor(policy, leaseCheck ?? TimeSpan.FromSeconds(1), persistenceId));

    public CoordinatorActor(CoordinatorPolicy policy, TimeSpan leaseCheck, string persistenceId)
    {
        PersistenceId = persistenceId;
        _leaseCheck = leaseCheck;
        _state = CoordinatorState.Empty(policy);

        Recover<ICoordinatorEvent>(e => _state = _state.Apply(e));
        Recover<RecoveryCompleted>(_ => OnRecovered());

        Command<RegisterWorker>(OnRegister);
        Command<RequestJob>(OnRequestJob);
        Command<JobHeartbeat>(h => _state = _state.RenewLease(h.Key, h.WorkerId, h.Attempt, DateTimeOffset.UtcNow));
        Command<JobFinished>(OnFinished);
        Command<SubmitCampaign>(OnSubmit);
        Command<RetryJobs>(OnRetry);
        Command<GetCampaignStatus>(g => Sender.Tell(_state.Status(g.Campaign)));
        Command<GetCampaignResults>(g => Sender.Tell(_state.Results(g.Campaign)));
        Command<WatchCampaign>(w =>
        {
            if (!_watchers.TryGetValue(w.Campaign, out var set)) _watchers[w.Campaign] = set = [];
            set.Add(Sender);
            Context.Watch(Sender);
            Sender.Tell(_state.Status(w.Campaign));
        });
        Command<LeaseTick>(_ => PersistThen(_state.ExpireLeases(DateTimeOffset.UtcNow), () => { }));
        Command<ClusterEvent.MemberRemoved>(m =>
        {
            var node = m.Member.Address.ToString();
            foreach (var (id, _) in _workers.Where(w => w.Value.Node == node).ToList()) _workers.Remove(id);
            PersistThen(_state.NodeRemoved(node, DateTimeOffset.UtcNow), () => { });
        });
        Command<ClusterEvent.IClusterDomainEvent>(_ => { });
        Command<ClusterEvent.CurrentClusterState>(_ => { });
        Command<Terminated>(OnTerminated);
    }

    protected override void PreStart()
    {
        if (IsCluster)
            Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.MemberRemoved));
        base.PreStart();
    }

    protected override void PostStop()
    {
        if (IsCluster)
            Cluster.Get(Context.System).Unsubscribe(Self);
        base.PostStop();
    }

    private bool IsCluster => Context.System.Settings.ProviderClass.Contains("Cluster", StringComparison.Ordinal);

    private void OnRecovered()
    {
        // Workers of running jobs may still be alive (only the coordinator moved): give them a full lease.
        var now = DateTimeOffset.UtcNow;
        _state = _state.RenewAllLeases(now);
        Timers.StartPeriodicTimer("leases", new LeaseTick(), _leaseCheck);
        _log.Info("coordinator recovered: {0} campaigns, {1} jobs, {2} queued", _state.Campaigns.Count, _state.Jobs.Count, _state.Queue.Count);
        if (_state.Policy.WorkersDieWithCoordinator)
        {
            PersistThen(_state.Lost(_ => true, "the lab stopped while the job ran", now), () => { });
        }
        else if (IsCluster)
        {
            // A node removed before this coordinator started (e.g. the old coordinator's own node) sends no
            // MemberRemoved any more: its running jobs are queued again now rather than at lease expiry.
            var members = Cluster.Get(Context.System).State.Members.Select(m => m.Address.ToString()).ToHashSet(StringComparer.Ordinal);
            PersistThen(_state.Lost(j => j.Node is not null && !members.Contains(j.Node), "its node left the cluster while the coordinator moved", now), () => { });
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
        var started = _state.Assign(request.WorkerId, worker.Node, DateTimeOffset.UtcNow);
        if (started is null)
        {
            _workers[request.WorkerId] = worker with { Idle = true };
            Sender.Tell(new NoJobAvailable(request.WorkerId));
            return;
        }
        _workers[request.WorkerId] = worker with { Idle = false };
        var sender = Sender;
        PersistThen([started], () =>
        {
            var job = _state.Jobs[started.Key].Job;
            var upstream = job.Upstream.ToDictionary(u => u, u => _state.Jobs[u].Result!.Artifacts, StringComparer.Ordinal);
            sender.Tell(new JobAssignment(job, started.Attempt, upstream));
        });
    }

    private void OnFinished(JobFinished report)
    {
        var sender = Sender;
        var ack = new JobFinishedAck(report.Key, report.Attempt);
        var events = _state.Finish(report, DateTimeOffset.UtcNow);
        if (events.Count == 0) { sender.Tell(ack); return; }   // already recorded (or a stale failure)
        PersistThen(events, () => sender.Tell(ack));
    }

    private void OnSubmit(SubmitCampaign submit)
    {
        var sender = Sender;
        var decision = _state.Submit(submit.Plan, DateTimeOffset.UtcNow);
        if (decision.Refused is { } refused) { sender.Tell(refused); return; }
        if (decision.Event is null) { sender.Tell(decision.Accepted!); return; }
        _log.Info("campaign {0}: {1} jobs, {2} reused, {3} combinations dropped",
            submit.Plan.Campaign, decision.Accepted!.Total, decision.Accepted.Reused, decision.Accepted.Dropped);
        PersistThen([decision.Event], () => sender.Tell(decision.Accepted!));
    }

    private void OnRetry(RetryJobs retry)
    {
        var sender = Sender;
        var decision = _state.Retry(retry.Campaign, retry.Key, DateTimeOffset.UtcNow);
        if (decision.Refused is { } refused) { sender.Tell(refused); return; }
        PersistThen([decision.Event!], () => sender.Tell(decision.Accepted!));
    }

    private void OnTerminated(Terminated t)
    {
        foreach (var set in _watchers.Values) set.Remove(t.ActorRef);
        var lost = _workers.Where(w => w.Value.Ref.Equals(t.ActorRef)).Select(w => w.Key).ToList();
        var events = new List<ICoordinatorEvent>();
        var state = _state;
        foreach (var id in lost)
        {
            _workers.Remove(id);
            foreach (var e in state.WorkerLost(id, DateTimeOffset.UtcNow)) { events.Add(e); state = state.Apply(e); }
        }
        PersistThen(events, () => { });
    }

    /// <summary>Persists the events (tagged) in order, applies each, then runs <paramref name="after"/> and tells workers and watchers.</summary>
    private void PersistThen(IReadOnlyList<ICoordinatorEvent> events, Action after)
    {
        if (events.Count == 0) { after(); return; }
        var remaining = events.Count;
        PersistAll(events.Select(e => new Tagged(e, [Tag])), tagged =>
        {
            _state = _state.Apply((ICoordinatorEvent)tagged.Payload);
            if (--remaining > 0) return;
            after();
            NotifyIdleWorkers();
            NotifyWatchers();
        });
    }

    private void NotifyIdleWorkers()
    {
        var ready = _state.ReadyCount();
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
            var status = _state.Status(campaign);
            if (_lastSent.TryGetValue(campaign, out var last) && last == status) continue;
            _lastSent[campaign] = status;
            foreach (var w in watchers) w.Tell(status);
        }
    }
}
