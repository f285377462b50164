using System.Text.Json;

namespace QuantLab.Actors.Planning;

public enum JobKind { Train, Calibrate, Evaluate }

/// <summary>
/// One unit of work: what the coordinator hands a worker and what an <c>IJobExecutor</c> runs.
/// </summary>
/// <param name="Key">SHA-256 (lowercase hex) of kind, parameters, upstream keys, dataset fingerprint and engine version.</param>
/// <param name="Parameters">The canonical parameters: a JSON object with sorted keys and invariant numbers.</param>
/// <param name="Upstream">Keys of the jobs whose artifacts this one consumes (train, then calibrate), in that order.</param>
/// <param name="Label">A human-readable name (training id and swept values); not part of the key.</param>
public sealed record JobDescriptor(
    string Key,
    JobKind Kind,
    string Parameters,
    IReadOnlyList<string> Upstream,
    string DatasetFingerprint,
    string EngineVersion,
    string Label)
{
    /// <summary>The parameters as a JSON element (parsed on each call; the document owns no pooled memory).</summary>
    public JsonElement ParametersElement() => JsonDocument.Parse(Parameters).RootElement.Clone();

    public bool Equals(JobDescriptor? other) =>
        other is not null && Key == other.Key && Kind == other.Kind && Parameters == other.Parameters
        && Upstream.SequenceEqual(other.Upstream) && DatasetFingerprint == other.DatasetFingerprint
        && EngineVersion == other.EngineVersion && Label == other.Label;

    public override int GetHashCode() => Key.GetHashCode(StringComparison.Ordinal);
}
