using System.Text.Json;

namespace QuantLab.Tests.Host;

/// <summary>Ctrl+C (or SIGTERM) on a real <c>quantlab run</c> process mid-campaign, then <c>run</c> again: it
/// resumes, and every finished job is kept, none runs twice.</summary>
public sealed class InterruptResumeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ql-interrupt-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    [Theory]
    [InlineData("INT", 130, "interrupted")]    // Ctrl+C
    [InlineData("TERM", 143, "terminated")]    // kill, timeout(1), a scheduler or service manager stopping the run
    public async Task An_interrupted_run_loses_nothing_finished_and_a_second_run_completes_it(string signal, int exitCode, string message)
    {
        var (spec, db) = EightJobCampaign();

        using (var run = new QuantlabProcess(LabTestSupport.SlowSyntheticJobs, "run", spec, "--db", db, "--workers", "1"))
        {
            // Interrupt once at least two jobs have finished.
            using var wait = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            while (!run.Err.Contains("2/8 finished") && !run.Err.Contains("3/8 finished") && !run.HasExited)
                await Task.Delay(100, wait.Token);
            Assert.False(run.HasExited, run.ToString());
            run.Signal(signal);
            Assert.Equal(exitCode, await run.WaitAsync(TimeSpan.FromSeconds(60)));
            Assert.Contains($"{message}: nothing was written for the unfinished work", run.Err);
        }

        var afterInterrupt = Status(db);
        int done = afterInterrupt.GetProperty("jobs").GetProperty("done").GetInt32();
        Assert.InRange(done, 2, 7);
        Assert.NotEqual("completed", afterInterrupt.GetProperty("state").GetString());
        var finishedBefore = Results(db);

        using (var again = new QuantlabProcess(LabTestSupport.SlowSyntheticJobs, "run", spec, "--db", db, "--workers", "1"))
        {
            Assert.True(await again.WaitAsync(TimeSpan.FromMinutes(2)) == 0, again.ToString());
            Assert.Contains("report: ", again.Err);
        }
        Assert.Equal("completed", Status(db).GetProperty("state").GetString());
        var finishedAfter = Results(db);
        Assert.Equal(8, finishedAfter.Count);                              // one result per job: none ran twice
        foreach (var (key, result) in finishedBefore)
            Assert.Equal(result, finishedAfter[key]);                     // what had finished before Ctrl+C is kept as it was
    }

    [Fact]
    public async Task After_kill_9_status_shows_the_campaign_interrupted_not_running()
    {
        var (spec, db) = EightJobCampaign();
        using (var run = new QuantlabProcess(LabTestSupport.SlowSyntheticJobs, "run", spec, "--db", db, "--workers", "1"))
        {
            using var wait = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            while (!run.Err.Contains("1 running") && !run.HasExited)
                await Task.Delay(100, wait.Token);
            Assert.False(run.HasExited, run.ToString());
            Assert.Equal("running", Status(db).GetProperty("state").GetString());   // a live process holds the database
            run.Kill();
        }

        var status = Status(db);
        Assert.Equal("interrupted", status.GetProperty("state").GetString());
        Assert.Equal(0, status.GetProperty("jobs").GetProperty("running").GetInt32());
        var text = LabTestSupport.Run(LabTestSupport.Configuration(), "status", "--db", db);
        Assert.True(text.ExitCode == 0, text.ToString());
        Assert.Contains("interrupt-test: interrupted", text.Out);
        Assert.Contains(", 0 running", text.Out);
        // The report's header agrees with status.
        var report = LabTestSupport.Run(LabTestSupport.Configuration(), "report", "interrupt-test", "--db", db, "--format", "json");
        Assert.True(report.ExitCode == 0, report.ToString());
        Assert.Equal("interrupted", JsonDocument.Parse(report.Out).RootElement.GetProperty("status").GetProperty("state").GetString());
    }

    /// <summary>Eight synthetic trainings (the slow executor makes each take 1 s), and the database path.</summary>
    private (string Spec, string Db) EightJobCampaign()
    {
        var spec = Path.Combine(_dir, "sweep.json");
        File.WriteAllText(spec, """
            { "name": "interrupt-test",
              "train": [{ "id": "m", "seed": [1, 2, 3, 4, 5, 6, 7, 8] }] }
            """);
        return (spec, Path.Combine(_dir, "lab.db"));
    }

    /// <summary>Job key → its recorded result (the report's JSON of it), from the database alone.</summary>
    private static Dictionary<string, string> Results(string db)
    {
        var r = LabTestSupport.Run(LabTestSupport.Configuration(), "report", "interrupt-test", "--db", db, "--format", "json");
        Assert.True(r.ExitCode == 0, r.ToString());
        var results = JsonDocument.Parse(r.Out).RootElement.GetProperty("results").EnumerateArray().ToList();
        return results.ToDictionary(x => x.GetProperty("job").GetString()!, x => x.GetRawText());
    }

    private static JsonElement Status(string db)
    {
        var r = LabTestSupport.Run(LabTestSupport.Configuration(), "status", "interrupt-test", "--db", db, "--json");
        Assert.True(r.ExitCode == 0, r.ToString());
        return JsonDocument.Parse(r.Out).RootElement;
    }
}
