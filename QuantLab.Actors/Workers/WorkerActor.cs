using Akka.Actor;
using Akka.Event;
using QuantLab.Actors.Messages;
using QuantLab.Actors.Storage;

namespace QuantLab.Actors.Workers;

/// <summary>
/// Pulls jobs from the coordinator (it asks when it has room; the coordinator only says that work exists),
/// runs them one after the other on its <see cref="JobRunner"/> thread, renews the leases of the jobs it holds,
/// and sends each result until the coordinator acknowledges it (the coordinator persists before acknowledging).
/// While its jobs are short it holds up to <see cref="WorkerSettings.LeaseBatch"/> of them, so the next job is
/// already here when one ends (no round trip between two jobs); long jobs it takes one at a time, so none waits in
/// one worker's queue while another worker is idle. A worker whose engine version the coordinator refuses stops.
/// </summary>
public sealed class WorkerActor : ReceiveActor, IWithTimers
{
    private sealed record RegisterTick;
    private sealed record HeartbeatTick;
    private sealed record ResendTick;

    /// <summary>Below this a job is short: a round trip per job (a journal write before each lease) would be a noticeable share of its time.</summary>
    public static readonly TimeSpan ShortJob = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Short jobs in a row before the worker holds several: a held job counts as running in every status, so one
    /// short job among long ones (a calibration found in the cache between evaluations) must not fill the queue
    /// with long jobs that would show as running while they wait.
    /// </summary>
    public const int ShortStreak = 8;

    private readonly IActorRef _coordinator;
    private readonly WorkerSettings _settings;
    private readonly string _workerId;
    private readonly string _node;
    private readonly JobRunner _runner;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    /// <summary>Jobs leased to this worker that have not run to the end yet (running or queued on the runner).</summary>
    private readonly Dictionary<string, JobAssignment> _held = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Key, int Attempt), JobFinished> _unacknowledged = [];
    private int _shortJobs;   // finished in a row, each shorter than ShortJob
    /// <summary>
    /// Whether a request is unanswered. Requests sent after every finished job crossed, and each after the first was
    /// given only the one slot freed since: one lease event per 1.7 jobs. So a worker asks again only once that answer
    /// came, or when it runs low meanwhile (a quarter of its room left), or the answer is taken as lost.
    /// </summary>
    private DateTimeOffset? _requested;

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IActorRef coordinator, IJobExecutor executor, IArtifactStore artifacts, WorkerSettings settings, string workerId) =>
        Akka.Actor.Props.Create(() => new WorkerActor(coordinator, executor, artifacts, settings, workerId));

    public WorkerActor(IActorRef coordinator, IJobExecutor executor, IArtifactStore artifacts, WorkerSettings settings, string workerId)
    {
        _coordinator = coordinator;
        _settings = settings;
        _workerId = workerId;
        _node = ((ExtendedActorSystem)Context.System).Provider.DefaultAddress.ToString();
        _runner = new JobRunner($"quantlab-worker-{workerId}", executor, artifacts, Self);
        Registering();
    }

    protected override void PreStart()
    {
        Register();
        Timers.StartPeriodicTimer("register", new RegisterTick(), _settings.RegisterInterval);
    }

    protected override void PostStop() => _runner.Dispose();

    private void Register() => _coordinator.Tell(new RegisterWorker(_workerId, _node, _settings.EngineVersion));

    private void Registering()
    {
        Receive<WorkerAccepted>(_ => { Become(Accepted); RequestJobs(); });
        Common();
    }

    private void Accepted()
    {
        Receive<WorkerAccepted>(_ => { _requested = null; RequestJobs(); });   // registered again (perhaps with a new coordinator): ask it
        Receive<JobsAvailable>(_ => RequestJobs());
        Receive<NoJobAvailable>(_ => _requested = null);
        Receive<JobAssignment>(Take);
        Receive<HeartbeatTick>(_ =>
        {
            foreach (var a in _held.Values) _coordinator.Tell(new JobHeartbeat(_workerId, a.Job.Key, a.Attempt));
        });
        Receive<JobRunner.Ran>(ran =>
        {
            _held.Remove(ran.Key);
            if (_held.Count == 0) Timers.Cancel("heartbeat");
            _shortJobs = TimeSpan.FromMilliseconds(ran.DurationMs) < ShortJob ? _shortJobs + 1 : 0;
            var finished = new JobFinished(_workerId, _node, ran.Key, ran.Attempt, ran.Outcome, ran.DurationMs, _settings.Identity);
            _unacknowledged[(ran.Key, ran.Attempt)] = finished;
            _coordinator.Tell(finished);
            if (!Timers.IsTimerActive("resend")) Timers.StartPeriodicTimer("resend", new ResendTick(), _settings.ResendInterval);
            // Ask for more once half the room is free: one request then brings several jobs, and the runner still has work meanwhile.
            if (_held.Count <= Capacity / 2) RequestJobs();
        });
        Receive<ResendTick>(_ =>
        {
            foreach (var u in _unacknowledged.Values) _coordinator.Tell(u);
        });
        Receive<JobFinishedAck>(ack =>
        {
            if (_unacknowledged.Remove((ack.Key, ack.Attempt)) && _unacknowledged.Count == 0) Timers.Cancel("resend");
        });
        Common();
    }

    private void Common()
    {
        Receive<RegisterTick>(_ => Register());
        Receive<WorkerRefused>(r =>
        {
            _log.Error("worker {0} refused by the coordinator: {1}", _workerId, r.Reason);
            Context.System.EventStream.Publish(r);
            Context.Stop(Self);
        });
    }

    /// <summary>How many jobs this worker holds at most: several while its jobs are short, else one.</summary>
    private int Capacity => _shortJobs >= ShortStreak ? _settings.LeaseBatch : 1;

    /// <summary>An unanswered request older than this is taken as lost (its coordinator moved) and sent again.</summary>
    private static readonly TimeSpan RequestAnswered = TimeSpan.FromSeconds(2);

    private void RequestJobs()
    {
        if (_held.Count >= Capacity) return;
        var now = DateTimeOffset.UtcNow;
        if (_requested is { } sent && now - sent < RequestAnswered && _held.Count > Capacity / 4) return;
        _requested = now;
        _coordinator.Tell(new RequestJob(_workerId, Capacity));
    }

    private void Take(JobAssignment assignment)
    {
        _requested = null;
        if (!_held.TryAdd(assignment.Job.Key, assignment))
        {
            _log.Warning("worker {0} already holds {1}; ignoring a second assignment of it", _workerId, assignment.Job.Key);
            return;
        }
        if (!Timers.IsTimerActive("heartbeat")) Timers.StartPeriodicTimer("heartbeat", new HeartbeatTick(), _settings.HeartbeatInterval);
        _runner.Run(assignment);
    }
}
