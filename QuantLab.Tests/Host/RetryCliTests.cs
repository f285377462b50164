namespace QuantLab.Tests.Host;

/// <summary><c>quantlab retry</c> as a real process: a job the environment failed (a broken data directory)
/// runs again once the environment is fixed, and a campaign with nothing failed is refused.</summary>
public sealed class RetryCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ql-retry-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public async Task Retry_reruns_the_failed_jobs_and_refuses_when_none_failed()
    {
        var spec = Path.Combine(_dir, "r.json");
        File.WriteAllText(spec, """{ "name": "r", "data": { "testLimit": 200 }, "train": [{ "id": "m", "epochs": 1, "trainLimit": 200 }] }""");
        var db = Path.Combine(_dir, "lab.db");
        var broken = new Dictionary<string, string>(LabTestSupport.FastTimings)
        {
            ["QuantLab:Data:Dir"] = Directory.CreateDirectory(Path.Combine(_dir, "no-mnist-here")).FullName,
            ["QuantLab:Orchestration:MaxAttempts"] = "1",
        };
        using (var run = new QuantlabProcess(broken, "run", spec, "--db", db, "--workers", "1"))
            Assert.True(await run.WaitAsync(TimeSpan.FromMinutes(2)) == 3, run.ToString());

        using (var retry = new QuantlabProcess(LabTestSupport.FastTimings, "retry", "r", "--db", db, "--workers", "1", "--json"))
        {
            Assert.True(await retry.WaitAsync(TimeSpan.FromMinutes(3)) == 0, retry.ToString());
            Assert.Contains("campaign r: retrying 1 failed jobs", retry.Err);
            Assert.Contains("\"state\":\"completed\"", retry.Out.Replace(" ", ""));
        }

        using (var none = new QuantlabProcess(LabTestSupport.FastTimings, "retry", "r", "--db", db))
        {
            Assert.True(await none.WaitAsync(TimeSpan.FromMinutes(1)) == 2, none.ToString());
            Assert.Contains("campaign r has no failed jobs", none.Err);
        }
    }
}
