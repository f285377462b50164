using System.Globalization;
using QuantLab.Actors.Messages;

namespace QuantLab.Host.Progress;

/// <summary>
/// What a campaign will cost, said when it is accepted, before its jobs run: per stage, its jobs times the median
/// duration of that stage's jobs finished in the same lab, over the workers. A campaign of days says so up front.
/// </summary>
public static class WorkEstimate
{
    /// <summary>One line, or null where nothing is left to run.</summary>
    public static string? Describe(IReadOnlyList<StageEstimate>? stages, int workers)
    {
        if (stages is null || stages.Count == 0) return null;
        var measured = stages.Where(s => s.MedianSeconds is not null).ToList();
        var unmeasured = stages.Where(s => s.MedianSeconds is null).Select(s => $"{s.Stage} ({Count(s.Jobs)} job{(s.Jobs == 1 ? "" : "s")})").ToList();
        var parts = measured.Select(s => $"{s.Stage} {Count(s.Jobs)} × {Duration(s.MedianSeconds!.Value)}").ToList();
        var text = "estimate: ";
        if (measured.Count > 0)
        {
            double seconds = measured.Sum(s => s.Seconds!.Value) / Math.Max(1, workers);
            text += $"about {Duration(seconds)} with {workers} worker{(workers == 1 ? "" : "s")} ({string.Join(", ", parts)}: medians of the jobs finished in this database)";
            if (unmeasured.Count > 0) text += $", plus {string.Join(" and ", unmeasured)} not timed here yet";
        }
        else text += $"unknown until jobs finish: no {string.Join(", no ", stages.Select(s => s.Stage))} job has finished in this database yet";
        return text;
    }

    private static string Count(int n) => n.ToString("N0", CultureInfo.InvariantCulture);

    public static string Duration(double seconds) => seconds switch
    {
        < 1 => $"{seconds.ToString("0.###", CultureInfo.InvariantCulture)} s",
        < 90 => $"{seconds.ToString("0.#", CultureInfo.InvariantCulture)} s",
        < 90 * 60 => $"{(seconds / 60).ToString("0.#", CultureInfo.InvariantCulture)} min",
        < 48 * 3600 => $"{(seconds / 3600).ToString("0.#", CultureInfo.InvariantCulture)} h",
        _ => $"{(seconds / 86400).ToString("0.#", CultureInfo.InvariantCulture)} days",
    };
}
