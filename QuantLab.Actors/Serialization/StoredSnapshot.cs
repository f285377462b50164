using System.Collections.Immutable;
using System.Text.Json.Serialization;
using QuantLab.Actors.Coordinator;
using QuantLab.Actors.Messages;
using QuantLab.Actors.Planning;

namespace QuantLab.Actors.Serialization;

/// <summary>
/// How a <see cref="CoordinatorSnapshot"/> was stored under manifest v2, still read from databases written before v3
/// (<see cref="SnapshotCodec"/>): JSON as in v1, except that a job's result leaves out what its job entry already says:
/// the key, the job record, and the label unless it differs.
/// </summary>
internal sealed record StoredSnapshot(IReadOnlyList<CampaignEntry> Campaigns, IReadOnlyList<StoredJob> Jobs, long NextSeq, DateTimeOffset At)
{
    public CoordinatorSnapshot ToSnapshot() => new(Campaigns, [.. Jobs.Select(j => j.ToEntry())], NextSeq, At);
}

/// <summary>A <see cref="JobEntry"/> as stored: the same fields, its result without what the entry already says.</summary>
internal sealed record StoredJob(
    JobDescriptor Job, long Seq, JobStatus Status, int Attempts,
    string? Worker, string? Node, StoredResult? Result, string? Error, int Waiting, ImmutableList<string> Campaigns)
{
    public JobEntry ToEntry() => new(Job, Seq, Status, Attempts, Worker, Node, Result?.ToResult(Job), Error, Waiting, Campaigns);
}

/// <summary>A <see cref="JobResult"/> without its key and job record (its entry's), and without its label where it is the entry's.</summary>
internal sealed record StoredResult(
    OutcomeStatus Status, JobMetrics Metrics, IReadOnlyDictionary<string, string> Artifacts, string? Error,
    string Worker, string Node, string EngineVersion, int Attempt, long DurationMs, string? Identity,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Label)
{
    public JobResult ToResult(JobDescriptor job) =>
        new(job.Key, job.Job, Label ?? job.Label, Status, Metrics, Artifacts, Error, Worker, Node, EngineVersion, Attempt, DurationMs, Identity);
}
