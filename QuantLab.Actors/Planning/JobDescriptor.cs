using System.Text.Json.Serialization;
using QuantLab.Engine.Jobs;

namespace QuantLab.Actors.Planning;

/// <summary>
/// One unit of work: what the coordinator hands a worker and what an <c>IJobExecutor</c> runs: the typed
/// record (<see cref="JobRecord"/>, defined by the engine) with its key and a label.
/// </summary>
/// <param name="Key">SHA-256 (lowercase hex) of the record's canonical form, the dataset fingerprint and the engine version (<see cref="JobCodec.Key"/>).</param>
/// <param name="Label">A human-readable name (training id and swept values); not part of the key.</param>
public sealed record JobDescriptor(string Key, JobRecord Job, string DatasetFingerprint, string EngineVersion, string Label)
{
    [JsonIgnore] public JobKind Kind => Job.Kind;

    /// <summary>Keys of the jobs whose artifacts this one reads (the record's named references).</summary>
    [JsonIgnore] public IReadOnlyList<string> Upstream => Job.Upstream.Select(u => u.Key).ToList();

    public static JobDescriptor For(JobRecord job, string datasetFingerprint, string engineVersion, string label) =>
        new(JobCodec.Key(job, datasetFingerprint, engineVersion), job, datasetFingerprint, engineVersion, label);

    public bool Equals(JobDescriptor? other) =>
        other is not null && Key == other.Key && JobCodec.Canonical(Job) == JobCodec.Canonical(other.Job)
        && DatasetFingerprint == other.DatasetFingerprint && EngineVersion == other.EngineVersion && Label == other.Label;

    public override int GetHashCode() => Key.GetHashCode(StringComparison.Ordinal);
}
