using System.Text.Json.Serialization;
using QuantLab.Actors.Planning;
using QuantLab.Engine.Jobs;

namespace QuantLab.Actors.Messages;

// ---- worker ⇄ coordinator (pull: a worker asks; the coordinator only notifies that work exists) ----

public sealed record RegisterWorker(string WorkerId, string Node, string EngineVersion) : IQuantLabMessage;
public sealed record WorkerAccepted(string WorkerId) : IQuantLabMessage;
public sealed record WorkerRefused(string WorkerId, string Reason) : IQuantLabMessage;
/// <param name="Capacity">How many jobs the worker can hold in all (running and waiting in its local queue), counting
/// those it already holds: the coordinator leases it up to the difference. Absent (older workers): 1.</param>
public sealed record RequestJob(string WorkerId, int Capacity = 1) : IQuantLabMessage;
/// <param name="UpstreamArtifacts">Per upstream job key, the artifacts it produced (name → SHA-256).</param>
public sealed record JobAssignment(JobDescriptor Job, int Attempt, IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> UpstreamArtifacts) : IQuantLabMessage;
public sealed record NoJobAvailable(string WorkerId) : IQuantLabMessage;
/// <summary>Sent to idle workers when jobs became ready; each then asks with <see cref="RequestJob"/>.</summary>
public sealed record JobsAvailable(int Count) : IQuantLabMessage;
/// <summary>Renews the job's lease while it runs.</summary>
public sealed record JobHeartbeat(string WorkerId, string Key, int Attempt) : IQuantLabMessage;
/// <summary>Sent until acknowledged; the coordinator persists the result before it acknowledges.</summary>
/// <param name="Identity">The producing node's identity: its TLS certificate's subject (null without TLS).</param>
public sealed record JobFinished(string WorkerId, string Node, string Key, int Attempt, JobOutcome Outcome, long DurationMs, string? Identity = null) : IQuantLabMessage;
public sealed record JobFinishedAck(string Key, int Attempt) : IQuantLabMessage;

// ---- clients (CLI, tests) ⇄ coordinator ----

public sealed record SubmitCampaign(CampaignPlan Plan) : IQuantLabMessage;
/// <param name="Reused">Jobs of this plan the lab already knew (from this or another campaign): not run again.</param>
/// <param name="Estimate">Per stage with jobs still to run, their count and the median seconds of that stage's
/// jobs finished in this lab so far (null where none has finished): what the campaign costs, known before it starts.</param>
public sealed record CampaignAccepted(string Campaign, int Total, int Reused, int Dropped, IReadOnlyList<StageEstimate>? Estimate = null) : IQuantLabMessage
{
    /// <summary>The counts alone: the estimate is advice, measured from whatever this lab has timed so far.</summary>
    public bool Equals(CampaignAccepted? other) =>
        other is not null && (Campaign, Total, Reused, Dropped) == (other.Campaign, other.Total, other.Reused, other.Dropped);

    public override int GetHashCode() => HashCode.Combine(Campaign, Total, Reused, Dropped);
}

/// <summary>Jobs of one stage still to run and the median duration of the stage's finished jobs (null: none yet).</summary>
public sealed record StageEstimate(string Stage, int Jobs, double? MedianSeconds)
{
    /// <summary>Seconds of work for one worker, where measured.</summary>
    public double? Seconds => MedianSeconds * Jobs;
}
public sealed record CampaignRefused(string Campaign, string Reason) : IQuantLabMessage;
public sealed record GetCampaignStatus(string Campaign) : IQuantLabMessage;
/// <summary>Re-runs the campaign's failed jobs (or the one whose key is or starts with <paramref name="Key"/>);
/// answered by <see cref="RetryAccepted"/> or <see cref="CampaignRefused"/>.</summary>
public sealed record RetryJobs(string Campaign, string? Key) : IQuantLabMessage;
/// <param name="Jobs">Jobs queued again: the chosen failed jobs and those that failed because of them.</param>
public sealed record RetryAccepted(string Campaign, int Jobs) : IQuantLabMessage;
/// <summary>Subscribes the sender to the campaign's <see cref="CampaignStatus"/> after every change.</summary>
public sealed record WatchCampaign(string Campaign) : IQuantLabMessage;
public sealed record GetCampaignResults(string Campaign) : IQuantLabMessage;

/// <param name="State">queued | running | completed | failed | unknown</param>
/// <param name="Done">Jobs that succeeded.</param>
/// <param name="Failed">Jobs without a usable result: their configuration failed, or the environment did (<paramref name="EnvironmentFailed"/> of them).</param>
/// <param name="Stages">The same counts per job kind (train, calibrate, evaluate); null from older coordinators.</param>
/// <param name="EnvironmentFailed">Jobs the environment failed (data, disk, database, lost nodes) after every attempt: the next submission retries them.</param>
/// <param name="Producers">The succeeded results per producing node identity, by identity; null from older coordinators.</param>
public sealed record CampaignStatus(string Campaign, string State, int Total, int Done, int Failed, int Running, int Queued,
    IReadOnlyList<StageCounts>? Stages = null, int EnvironmentFailed = 0, IReadOnlyList<ProducerCount>? Producers = null) : IQuantLabMessage
{
    [JsonIgnore] public bool Finished => State is "completed" or "failed";

    public bool Equals(CampaignStatus? other) =>
        other is not null && (Campaign, State, Total, Done, Failed, Running, Queued, EnvironmentFailed) == (other.Campaign, other.State, other.Total, other.Done, other.Failed, other.Running, other.Queued, other.EnvironmentFailed)
        && (Stages ?? []).SequenceEqual(other.Stages ?? []) && (Producers ?? []).SequenceEqual(other.Producers ?? []);

    public override int GetHashCode() => HashCode.Combine(Campaign, State, Total, Done, Failed, Running, Queued);
}

/// <summary>How many of a campaign's results a node produced.</summary>
/// <param name="Identity">The node's TLS certificate subject; null for nodes without TLS.</param>
public sealed record ProducerCount(string? Identity, int Results);

/// <summary>Job counts of one stage (job kind) of a campaign.</summary>
public sealed record StageCounts(string Stage, int Total, int Done, int Failed, int Running, int Queued);

public sealed record CampaignResults(string Campaign, IReadOnlyList<JobResult> Results, IReadOnlyList<FailedJob> Failed) : IQuantLabMessage;
public sealed record FailedJob(string Key, JobKind Kind, string Label, string Error, int Attempts);
