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
    private readonly Dictionary<string, (int Finished, TimeSpan At)> _stageSeen = new(StringComparer.Ordinal);
    /// <summary>Per stage, its finished count when last seen to grow, and when.</summary>
    private readonly Dictionary<string, (int Finished, TimeSpan At)> _stageLastFinish = new(StringComparer.Ordinal);
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
            if (!_stageSeen.ContainsKey(stage.Stage) && (stage.Running > 0 || finished > 0)) _stageSeen[stage.Stage] = (finished, now);
            if (!_stageLastFinish.TryGetValue(stage.Stage, out var last) || finished > last.Finished)
                _stageLastFinish[stage.Stage] = last = (finished, now);
            if (left == 0) continue;
            if (_stageSeen.TryGetValue(stage.Stage, out var seen) && finished > seen.Finished && last.At > seen.At)
            {
                double perJob = (last.At - seen.At).TotalSeconds / (finished - seen.Finished);
                seconds += left * perJob - Math.Min((now - last.At).TotalSeconds, perJob);
            }
            else
                untimed.Add(stage.Stage);
        }
        if (untimed.Count == stages.Count(x => x.Done + x.Failed < x.Total)) return untimed.Count > 0 ? $", time left unknown until the first {untimed[0]} job finishes" : "";
        var rest = untimed.Count > 0 ? $" plus {string.Join(" and ", untimed)} (not timed yet)" : "";
        return $", about {TimeSpan.FromSeconds(seconds):hh\\:mm\\:ss} left{rest}";
    }
}
