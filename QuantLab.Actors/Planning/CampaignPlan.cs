using QuantLab.Engine.Jobs;
namespace QuantLab.Actors.Planning;

/// <summary>A combination the spec's axes describe but that cannot exist, with the reason.</summary>
public sealed record DroppedCombination(string Description, string Reason);

/// <summary>
/// The job graph of one campaign: jobs in dependency order (every upstream job precedes its
/// dependents), each key once; the impossible combinations that were dropped; and how many
/// combinations collapsed onto a job another combination already produced.
/// </summary>
public sealed record CampaignPlan(
    string Campaign,
    string EngineVersion,
    string DatasetFingerprint,
    IReadOnlyList<JobDescriptor> Jobs,
    IReadOnlyList<DroppedCombination> Dropped,
    int MergedDuplicates)
{
    public int Count(JobKind kind) => Jobs.Count(j => j.Kind == kind);

    /// <summary>The dropped combinations grouped by reason (a sweep can drop hundreds for one reason), with the first as an example.</summary>
    public IReadOnlyList<(string Reason, int Count, string Example)> DroppedByReason() =>
        Dropped.GroupBy(d => d.Reason).Select(g => (g.Key, g.Count(), g.First().Description)).ToList();
}
