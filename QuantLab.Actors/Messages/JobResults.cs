using System.Text.Json.Serialization;
using QuantLab.Engine.Jobs;

namespace QuantLab.Actors.Messages;

/// <summary>What a job measured: numbers (accuracy, per-class accuracy, SQNR per layer, …) and text.</summary>
public sealed record JobMetrics(IReadOnlyDictionary<string, double> Numbers, IReadOnlyDictionary<string, string> Text)
{
    public static readonly JobMetrics Empty = new(new Dictionary<string, double>(), new Dictionary<string, string>());
}

public enum OutcomeStatus
{
    /// <summary>The job ran and produced its metrics and artifacts.</summary>
    Succeeded,
    /// <summary>The configuration itself failed (divergence, NaN): a result of that configuration, never retried.</summary>
    ConfigurationFailed,
    /// <summary>The environment failed (exception, lost node): retried up to a limit.</summary>
    InfrastructureFailed,
}

/// <summary>What running a job gave: status, metrics, produced artifacts (name → SHA-256) and the error, if any.</summary>
public sealed record JobOutcome(
    OutcomeStatus Status,
    JobMetrics Metrics,
    IReadOnlyDictionary<string, string> Artifacts,
    string? Error)
{
    private static readonly IReadOnlyDictionary<string, string> NoArtifacts = new Dictionary<string, string>();

    public static JobOutcome Success(JobMetrics metrics, IReadOnlyDictionary<string, string>? artifacts = null) =>
        new(OutcomeStatus.Succeeded, metrics, artifacts ?? NoArtifacts, null);

    public static JobOutcome ConfigurationFailure(string reason, JobMetrics? metrics = null) =>
        new(OutcomeStatus.ConfigurationFailed, metrics ?? JobMetrics.Empty, NoArtifacts, reason);

    public static JobOutcome InfrastructureFailure(string error) =>
        new(OutcomeStatus.InfrastructureFailed, JobMetrics.Empty, NoArtifacts, error);
}

/// <summary>
/// A job's recorded result: its key and typed record, the outcome (succeeded or configuration
/// failed), and where and how it ran. One per key, ever.
/// </summary>
public sealed record JobResult(
    string Key,
    JobRecord Job,
    string Label,
    OutcomeStatus Status,
    JobMetrics Metrics,
    IReadOnlyDictionary<string, string> Artifacts,
    string? Error,
    string Worker,
    string Node,
    string EngineVersion,
    int Attempt,
    long DurationMs,
    string? Identity = null)
{
    [JsonIgnore] public JobKind Kind => Job.Kind;

    /// <summary>Keys of the jobs this one read.</summary>
    [JsonIgnore] public IReadOnlyList<string> Upstream => Job.Upstream.Select(u => u.Key).ToList();
}
