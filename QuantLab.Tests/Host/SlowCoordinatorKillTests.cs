using QuantLab.Actors.Storage;
using System.Text.RegularExpressions;
using QuantLab.Actors.Messages;
using QuantLab.Host.Lab;
using Xunit.Abstractions;

namespace QuantLab.Tests.Host;

/// <summary>
/// SIGKILL of a real <c>quantlab run</c> process (coordinator, workers and journal writer in one process) while
/// trivial jobs finish by the hundreds per second, so the coordinator is in the middle of a group commit: nothing it
/// reported as done is lost, and after a second run every job has exactly one result, none ran again once recorded,
/// and the results equal an uninterrupted run's.
/// </summary>
public sealed partial class SlowCoordinatorKillTests(ITestOutputHelper output) : IDisposable
{
    private const int Jobs = 6000;
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [GeneratedRegex(@"(\d+)/\d+ finished \((\d+) done")]
    private static partial Regex Progress();

    [Fact]
    public async Task Killing_the_coordinators_process_during_group_commit_loses_nothing_reported_and_runs_nothing_twice()
    {
        var spec = _dir.File("kill.json");
        File.WriteAllText(spec, $$"""{"name":"kill","train":[{"id":"m","seed":[{{string.Join(',', Enumerable.Range(0, Jobs))}}]}]}""");
        var db = _dir.File("lab.db");
        var env = new Dictionary<string, string>(LabTestSupport.FastTimings)
        {
            ["QuantLab:Orchestration:Executor"] = "synthetic",   // 0 ms: the journal is written continuously
            ["QuantLab:Orchestration:SnapshotEvery"] = "500",
        };

        int reported;
        using (var run = new QuantlabProcess(env, "run", spec, "--db", db))
        {
            // Every status the run prints comes from the coordinator's durable state: a report, as an ack is.
            using var wait = new CancellationTokenSource(TimeSpan.FromMinutes(3));
            while (Done(run.Err) < Jobs / 4 && !run.HasExited) await Task.Delay(20, wait.Token);
            Assert.False(run.HasExited, run.ToString());
            run.Kill();
            reported = Done(run.Err);
        }
        var afterKill = await LabReader.EventsAsync(new SqliteLabStore(db));
        var recorded = afterKill.OfType<JobCompleted>().Select(c => c.Result.Key).ToHashSet();
        output.WriteLine($"killed with {reported} jobs reported done; {recorded.Count} recorded, {afterKill.Count} events");
        Assert.InRange(reported, Jobs / 4, Jobs - 1);
        Assert.True(recorded.Count >= reported, $"{reported} reported done, only {recorded.Count} recorded");
        Assert.Equal(recorded.Count, afterKill.OfType<JobCompleted>().Count());

        using (var again = new QuantlabProcess(env, "run", spec, "--db", db))
            Assert.True(await again.WaitAsync(TimeSpan.FromMinutes(5)) == 0, again.ToString());

        var events = await LabReader.EventsAsync(new SqliteLabStore(db));
        var completed = events.OfType<JobCompleted>().ToList();
        Assert.Equal(Jobs, completed.Count);                                         // one result per job
        Assert.Equal(Jobs, completed.Select(c => c.Result.Key).Distinct().Count());
        var startedAgain = events.Skip(afterKill.Count).OfType<JobsLeased>().SelectMany(l => l.Jobs, (_, j) => j.Key).ToHashSet();
        Assert.DoesNotContain(startedAgain, recorded.Contains);                      // nothing recorded was leased again

        var reference = _dir.File("reference.db");
        var r = LabTestSupport.Run(LabTestSupport.Configuration(env), "run", spec, "--db", reference);
        Assert.True(r.ExitCode == 0, r.ToString());
        var expected = (await LabReader.LoadAsync(new SqliteLabStore(reference))).Results("kill").Results.ToDictionary(x => x.Key);
        var actual = (await LabReader.LoadAsync(new SqliteLabStore(db))).Results("kill").Results.ToDictionary(x => x.Key);
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (key, x) in expected)
        {
            Assert.Equal(x.Metrics.Numbers, actual[key].Metrics.Numbers);
            Assert.Equal(x.Artifacts, actual[key].Artifacts);
        }
    }

    /// <summary>The most jobs done that any progress line printed so far says.</summary>
    private static int Done(string err) => Progress().Matches(err).Select(m => int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture)).DefaultIfEmpty(0).Max();
}
