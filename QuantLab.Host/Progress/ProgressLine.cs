using QuantLab.Actors.Messages;
using QuantLab.Host.Lab;

namespace QuantLab.Host.Progress;

/// <summary>
/// A progress line with throughput and the estimated time left. Jobs of different stages take very different
/// times (a training minutes, an evaluation a second), so time left is estimated per stage, from that stage's
/// own jobs finished since this run first saw it at work; a stage none of whose jobs has finished yet is named
/// as not timed. A resumed campaign starts with some jobs finished: they do not count as this run's. Between two
/// finishes a stage's time left counts down, by at most one job's share of its time (a job later than that holds it
/// still), instead of growing as a rate over the time since it was first seen would.
/// </summary>
public sealed class ProgressLine(Func<TimeSpan>? clock = null)
{
    private readonly Func<TimeSpan> _now = clock ?? StartClock();
    /// <summary>Per stage at work: its finished count when first seen and when, and when that count last grew.</summary>
    private readonly Dictionary<string, (int FirstFinished, TimeSpan FirstAt, int LastFinished, TimeSpan LastAt)> _stages = new(StringComparer.Ordinal);
    private int? _finishedAtStart;

    public string Describe(CampaignStatus s)
    {
        var now = _now();
        int finished = s.Done + s.Failed;
        _finishedAtStart ??= finished;
        double minutes = now.TotalMinutes, rate = minutes > 0 ? (finished - _finishedAtStart.Value) / minutes : 0;
        var stages = s.Stages is { Count: > 0 } list
            ? " | " + string.Join(", ", list.Select(x => $"{x.Stage} {x.Done + x.Failed}/{x.Total}{(x.Failed > 0 ? $" ({x.Failed} failed)" : "")}{(x.Running > 0 ? $" ({x.Running} running)" : "")}"))
            : "";
        return $"[{now:hh\\:mm\\:ss}] {CampaignClient.Describe(s)}{stages}; {rate:F1} jobs/min{TimeLeft(s, now, rate)}";
    }

    private static Func<TimeSpan> StartClock()
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        return () => watch.Elapsed;
    }

    private string TimeLeft(CampaignStatus s, TimeSpan now, double overallRatePerMinute)
    {
        if (s.Finished) return "";
        if (s.Stages is not { Count: > 0 } stages)   // a coordinator that sends no stages: the overall rate
            return overallRatePerMinute > 0 ? $", about {TimeSpan.FromMinutes((s.Total - s.Done - s.Failed) / overallRatePerMinute):hh\\:mm\\:ss} left" : "";
        double seconds = 0;
        var untimed = new List<string>();
        foreach (var stage in stages)
        {
            int finished = stage.Done + stage.Failed, left = stage.Total - finished;
            bool known = _stages.TryGetValue(stage.Stage, out var pace);
            if (!known && (stage.Running > 0 || finished > 0)) _stages[stage.Stage] = pace = (finished, now, finished, now);
            else if (known && finished > pace.LastFinished) _stages[stage.Stage] = pace = pace with { LastFinished = finished, LastAt = now };
            if (left == 0) continue;
            if (pace.LastFinished > pace.FirstFinished && pace.LastAt > pace.FirstAt)
            {
                double perJob = (pace.LastAt - pace.FirstAt).TotalSeconds / (pace.LastFinished - pace.FirstFinished);
                seconds += left * perJob - Math.Min((now - pace.LastAt).TotalSeconds, perJob);
            }
            else
                untimed.Add(stage.Stage);
        }
        if (untimed.Count == stages.Count(x => x.Done + x.Failed < x.Total)) return untimed.Count > 0 ? $", time left unknown until the first {untimed[0]} job finishes" : "";
        var rest = untimed.Count > 0 ? $" plus {string.Join(" and ", untimed)} (not timed yet)" : "";
        return $", about {TimeSpan.FromSeconds(seconds):hh\\:mm\\:ss} left{rest}";
    }
}
