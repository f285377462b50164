using System.Text.Json;

namespace QuantLab.Tests.Host;

/// <summary>A full disk under a real <c>quantlab run</c>: noticed at once (exit 3, "disk full" and the path, no
/// stack trace), refused the same way at start while it stays full, and once space returns a rerun completes the
/// campaign with every result recorded before kept as it was.</summary>
public sealed class DiskFullTests
{
    [Fact]
    public async Task A_full_disk_ends_run_at_once_and_a_rerun_after_freeing_space_loses_nothing()
    {
        using var disk = new Tmpfs("8m");
        var db = disk.File("lab.db");
        var spec = disk.File("spec.json");
        File.WriteAllText(spec, """{ "name": "full", "train": [{ "id": "m", "seed": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] }] }""");
        string filler;
        using (var run = new QuantlabProcess(LabTestSupport.SlowSyntheticJobs, "run", spec, "--db", db, "--workers", "1"))
        {
            using var wait = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            while (!run.Err.Contains("1/12 finished") && !run.HasExited)
                await Task.Delay(100, wait.Token);
            Assert.False(run.HasExited, run.ToString());
            filler = disk.Fill();
            Assert.True(await run.WaitAsync(TimeSpan.FromSeconds(30)) == 3, run.ToString());   // at once: jobs take 1 s, 11 are left
            AssertDiskFull(run, db);
        }

        using (var full = new QuantlabProcess(LabTestSupport.SlowSyntheticJobs, "run", spec, "--db", db, "--workers", "1"))
        {
            Assert.True(await full.WaitAsync(TimeSpan.FromSeconds(60)) == 3, full.ToString());
            AssertDiskFull(full, db);
        }

        File.Delete(filler);
        var before = Results(db);
        Assert.NotEmpty(before);
        using (var again = new QuantlabProcess(LabTestSupport.SlowSyntheticJobs, "run", spec, "--db", db, "--workers", "2"))
            Assert.True(await again.WaitAsync(TimeSpan.FromMinutes(2)) == 0, again.ToString());
        var after = Results(db);
        Assert.Equal(12, after.Count);
        foreach (var (key, result) in before)
            Assert.Equal(result, after[key]);
    }

    private static void AssertDiskFull(QuantlabProcess run, string db)
    {
        Assert.Contains($"error: disk full: no space left for {db}", run.Err);
        Assert.DoesNotContain("   at ", run.Err);   // no stack trace without --verbose
    }

    private static Dictionary<string, string> Results(string db)
    {
        var r = LabTestSupport.Run(LabTestSupport.Configuration(), "report", "full", "--db", db, "--format", "json");
        Assert.True(r.ExitCode == 0, r.ToString());
        return JsonDocument.Parse(r.Out).RootElement.GetProperty("results").EnumerateArray()
            .ToDictionary(x => x.GetProperty("job").GetString()!, x => x.GetRawText());
    }
}
