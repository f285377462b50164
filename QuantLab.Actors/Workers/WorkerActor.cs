using Akka.Actor;
using Akka.Event;
using QuantLab.Actors.Messages;
using QuantLab.Actors.Storage;

namespace QuantLab.Actors.Workers;

/// <summary>
/// Pulls jobs from the coordinator (it asks when idle; the coordinator only says that work exists),
/// runs them on its <see cref="JobRunner"/> thread, renews the lease while a job runs, and sends the
/// result until the coordinator acknowledges it (the coordinator persists before acknowledging).
/// A worker whose engine version the coordinator refuses stops.
/// </summary>
public sealed class WorkerActor : ReceiveActor, IWithTimers
{
    private sealed record RegisterTick;
    private sealed record HeartbeatTick;
    private sealed record ResendTick;

    private readonly IActorRef _coordinator;
    private readonly WorkerSettings _settings;
    private readonly string _workerId;
    private readonly string _node;
    private readonly JobRunner _runner;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private JobAssignment? _current;
    private JobFinished? _unacknowledged;

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
        Receive<WorkerAccepted>(_ => { Become(Idle); RequestJob(); });
        Common();
    }

    private void Idle()
    {
        Receive<JobsAvailable>(_ => RequestJob());
        Receive<NoJobAvailable>(_ => { });
        Receive<JobAssignment>(Start);
        Receive<WorkerAccepted>(_ => RequestJob());   // a new coordinator: ask it
        Common();
    }

    private void Working()
    {
        Receive<HeartbeatTick>(_ =>
        {
            if (_current is { } c) _coordinator.Tell(new JobHeartbeat(_workerId, c.Job.Key, c.Attempt));
        });
        Receive<JobRunner.Ran>(ran =>
        {
            Timers.Cancel("heartbeat");
            _unacknowledged = new JobFinished(_workerId, _node, ran.Key, ran.Attempt, ran.Outcome, ran.DurationMs);
            _coordinator.Tell(_unacknowledged);
            Timers.StartPeriodicTimer("resend", new ResendTick(), _settings.ResendInterval);
        });
        Receive<ResendTick>(_ => { if (_unacknowledged is { } u) _coordinator.Tell(u); });
        Receive<JobFinishedAck>(ack =>
        {
            if (_unacknowledged is not { } u || u.Key != ack.Key || u.Attempt != ack.Attempt) return;
            Timers.Cancel("resend");
            _unacknowledged = null;
            _current = null;
            Become(Idle);
            RequestJob();
        });
        Receive<JobsAvailable>(_ => { });
        Receive<NoJobAvailable>(_ => { });
        Receive<WorkerAccepted>(_ => { });
        Receive<JobAssignment>(a => _log.Warning("worker {0} is busy with {1}; ignoring assignment of {2}", _workerId, _current?.Job.Key, a.Job.Key));
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

    private void RequestJob() => _coordinator.Tell(new RequestJob(_workerId));

    private void Start(JobAssignment assignment)
    {
        _current = assignment;
        Become(Working);
        Timers.StartPeriodicTimer("heartbeat", new HeartbeatTick(), _settings.HeartbeatInterval);
        _runner.Run(assignment);
    }
}
