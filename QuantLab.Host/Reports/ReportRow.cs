using System.Globalization;
using System.Text.Json;
using QuantLab.Actors.Messages;
using QuantLab.Actors.Planning;

namespace QuantLab.Host.Reports;

/// <summary>
/// One finished job as a report sees it: its parameters flattened to strings (evaluate jobs also carry
/// their training's parameters under <c>train.*</c>), its numeric metrics, and its outcome.
/// </summary>
public sealed record ReportRow(
    string Key,
    string Kind,
    string Label,
    IReadOnlyDictionary<string, string> Params,
    IReadOnlyDictionary<string, double> Metrics,
    string Status,
    string? Error,
    string? TrainKey = null)
{
    public string? Param(string name) => Params.GetValueOrDefault(name);
    public double? Metric(string name) => Metrics.TryGetValue(name, out var v) ? v : null;
    public double? Accuracy => Metric("accuracy");
    public bool IsEvaluation => Kind == "evaluate";
    public bool IsQat => Param("method") == "qat";

    /// <summary>The rows of a campaign's results: every job, evaluate rows joined with their training.</summary>
    public static IReadOnlyList<ReportRow> From(CampaignResults results)
    {
        var byKey = results.Results.ToDictionary(r => r.Key);
        return results.Results.Select(r =>
        {
            var parameters = Flatten(r.Parameters, "");
            if (r.Kind != JobKind.Train && r.Upstream.Count > 0 && byKey.TryGetValue(r.Upstream[0], out var train))
                foreach (var (k, v) in Flatten(train.Parameters, "train.")) parameters[k] = v;
            return new ReportRow(r.Key, r.Kind.ToString().ToLowerInvariant(), r.Label, parameters,
                new Dictionary<string, double>(r.Metrics.Numbers), r.Status == OutcomeStatus.Succeeded ? "succeeded" : "configuration-failed", r.Error,
                r.Kind == JobKind.Train ? null : r.Upstream.FirstOrDefault());
        }).ToList();
    }

    /// <summary>A JSON object's scalar fields as name → text, nested objects as <c>outer.inner</c>.</summary>
    public static Dictionary<string, string> Flatten(string json, string prefix)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        using var doc = JsonDocument.Parse(json);
        Walk(doc.RootElement, prefix, result);
        return result;
    }

    private static void Walk(JsonElement e, string prefix, Dictionary<string, string> into)
    {
        foreach (var p in e.EnumerateObject())
        {
            var name = prefix + p.Name;
            switch (p.Value.ValueKind)
            {
                case JsonValueKind.Object: Walk(p.Value, name + ".", into); break;
                case JsonValueKind.String: into[name] = p.Value.GetString()!; break;
                case JsonValueKind.Number: into[name] = p.Value.GetDouble().ToString(CultureInfo.InvariantCulture); break;
                case JsonValueKind.True: into[name] = "true"; break;
                case JsonValueKind.False: into[name] = "false"; break;
                case JsonValueKind.Array: into[name] = string.Join(",", p.Value.EnumerateArray().Select(x => x.ToString())); break;
            }
        }
    }
}
