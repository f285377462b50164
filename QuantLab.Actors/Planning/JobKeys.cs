using System.Text.Json.Nodes;

namespace QuantLab.Actors.Planning;

/// <summary>A job's identity: equal keys mean the same computation, so it runs once, across campaigns too.</summary>
public static class JobKeys
{
    public static string Compute(JobKind kind, string canonicalParameters, IReadOnlyList<string> upstream, string datasetFingerprint, string engineVersion)
    {
        var identity = new JsonObject
        {
            ["kind"] = KindName(kind),
            ["params"] = JsonNode.Parse(canonicalParameters),
            ["upstream"] = new JsonArray(upstream.Select(u => (JsonNode?)JsonValue.Create(u)).ToArray()),
            ["dataset"] = datasetFingerprint,
            ["engine"] = engineVersion,
        };
        return CanonicalJson.Sha256Hex(CanonicalJson.Write(identity));
    }

    public static string KindName(JobKind kind) => kind switch
    {
        JobKind.Train => "train",
        JobKind.Calibrate => "calibrate",
        JobKind.Evaluate => "evaluate",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };
}
