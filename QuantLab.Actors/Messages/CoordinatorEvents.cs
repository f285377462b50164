using QuantLab.Actors.Planning;

namespace QuantLab.Actors.Messages;

/// <summary>A campaign's plan was accepted. Jobs already known (from any campaign) keep their state: they are reused.</summary>
public sealed record CampaignSubmitted(
    string Campaign,
    string EngineVersion,
    string DatasetFingerprint,
    IReadOnlyList<JobDescriptor> Jobs,
    IReadOnlyList<DroppedCombination> Dropped,
    DateTimeOffset At) : ICoordinatorEvent;

/// <summary>
/// A worker took a job (attempt numbers start at 1). Written by coordinators before <see cref="JobsLeased"/>; still
/// read from their journals.
/// </summary>
public sealed record JobStarted(string Key, string Worker, string Node, int Attempt, DateTimeOffset At) : ICoordinatorEvent;

/// <summary>
/// A worker took these jobs, leased in one request: each is running from now, under its attempt (numbers start at 1).
/// One event per request, not per job: a worker asks for several jobs at once while its jobs are short.
/// </summary>
public sealed record JobsLeased(string Worker, string Node, IReadOnlyList<LeasedJob> Jobs, DateTimeOffset At) : ICoordinatorEvent;

/// <summary>One job of a <see cref="JobsLeased"/> and the attempt it starts.</summary>
public sealed record LeasedJob(string Key, int Attempt);

/// <summary>An attempt ended without a result (exception, lease expiry, member removed); the job is queued again.</summary>
public sealed record JobAttemptFailed(string Key, string Worker, int Attempt, string Error, DateTimeOffset At) : ICoordinatorEvent;

/// <summary>The job's result is recorded (succeeded, or the configuration failed).</summary>
public sealed record JobCompleted(JobResult Result, DateTimeOffset At) : ICoordinatorEvent;

/// <summary>The job failed for good: out of attempts, or an upstream job failed.</summary>
public sealed record JobFailed(string Key, string Error, int Attempts, DateTimeOffset At) : ICoordinatorEvent;

/// <summary>
/// The coordinator's state at one point of its journal (a snapshot, not an event): its campaigns and jobs as they
/// were then. Everything else (ready queue, dependents, leases) is derived from these when it is loaded.
/// </summary>
public sealed record CoordinatorSnapshot(
    IReadOnlyList<Coordinator.CampaignEntry> Campaigns,
    IReadOnlyList<Coordinator.JobEntry> Jobs,
    long NextSeq,
    DateTimeOffset At) : IQuantLabMessage;

/// <summary><c>quantlab retry</c>: these failed jobs (configuration or environment), and the jobs that failed
/// because of them, are queued again with fresh attempts and no result.</summary>
public sealed record JobsRetried(string Campaign, IReadOnlyList<string> Keys, DateTimeOffset At) : ICoordinatorEvent;
