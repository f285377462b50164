using System.Text.Json;
using QuantLab.Tests.Actors;

namespace QuantLab.Tests.Host;

/// <summary>The orchestration verbs end to end: run (in-process and as the built process), resume, status, report, bad input.</summary>
public sealed class LabCliTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>One training (1 epoch on 1,000 images), one calibration, two evaluations: a few seconds.</summary>
    private const string TinySpec = """
        {
          "name": "tiny-test",
          "data": { "testLimit": 500 },
          "train": [{ "id": "fp32", "epochs": 1, "trainLimit": 1000, "lr": 0.01, "seed": 2 }],
          "quantize": { "weightBits": [4, 8], "calibration": 100 }
        }
        """;

    private string Spec(string json = TinySpec)
    {
        var path = _dir.File($"spec-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        return path;
    }

    private static JsonElement Report(CliRunner.Result r)
    {
        Assert.True(r.ExitCode == 0, r.ToString());
        return JsonDocument.Parse(r.Out).RootElement;
    }

    [Fact]
    public void Run_in_process_completes_and_a_second_run_resumes_without_running_any_job_again()
    {
        var config = LabTestSupport.Configuration();
        var db = _dir.File("lab.db");
        var spec = Spec();
        CliRunner.Result first;
        lock (Engine.TorchThreads.Gate) first = LabTestSupport.Run(config, "run", spec, "--db", db, "--workers", "2", "--json");
        Assert.True(first.ExitCode == 0, first.ToString());
        var status = JsonDocument.Parse(first.Out).RootElement;
        Assert.Equal("completed", status.GetProperty("state").GetString());
        Assert.Equal(4, status.GetProperty("jobs").GetProperty("total").GetInt32());
        Assert.Equal(4, status.GetProperty("jobs").GetProperty("done").GetInt32());

        var report = Report(LabTestSupport.Run(config, "report", "tiny-test", "--db", db, "--format", "json"));
        var results = report.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(4, results.Count);
        Assert.Equal(["calibrate", "evaluate", "evaluate", "train"], results.Select(r => r.GetProperty("kind").GetString()!).Order(StringComparer.Ordinal));
        foreach (var r in results.Where(r => r.GetProperty("kind").GetString() == "evaluate"))
        {
            var numbers = r.GetProperty("metrics").GetProperty("numbers");
            Assert.InRange(numbers.GetProperty("accuracy").GetDouble(), 0.3, 1.0);
            Assert.InRange(numbers.GetProperty("agreement").GetDouble(), 0.3, 1.0);
            Assert.Equal(8, r.GetProperty("params").GetProperty("actBits").GetInt32());
        }

        // Again: everything is known, nothing runs, the recorded results are untouched.
        CliRunner.Result second;
        lock (Engine.TorchThreads.Gate) second = LabTestSupport.Run(config, "run", spec, "--db", db, "--workers", "2");
        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Contains("4 already known", second.Err);
        Assert.Equal(report.GetRawText(), Report(LabTestSupport.Run(config, "report", "tiny-test", "--db", db, "--format", "json")).GetRawText());

        var status2 = JsonDocument.Parse(LabTestSupport.Run(config, "status", "tiny-test", "--db", db, "--json").Out).RootElement;
        Assert.Equal("completed", status2.GetProperty("state").GetString());

        // export: an evaluate job's integer model, rebuilt on the worker's path from the database alone; infer re-runs it.
        var evaluation = results.First(r => r.GetProperty("kind").GetString() == "evaluate");
        var key = evaluation.GetProperty("job").GetString()!;
        var exportDir = _dir.File("export-int8");
        var exported = Report(LabTestSupport.Run(config, "export", "tiny-test", "--job", key[..12], "--out", exportDir, "--db", db, "--json"));
        Assert.True(exported.GetProperty("matchesRecord").GetBoolean());
        Assert.Equal(evaluation.GetProperty("metrics").GetProperty("text").GetProperty("predictionsSha256").GetString(), exported.GetProperty("predictionsSha256").GetString());
        var infer = Report(LabTestSupport.Run(config, "infer", "--model", exportDir, "--json"));
        Assert.Equal(exported.GetProperty("predictionsSha256").GetString(), infer.GetProperty("predictionsSha256").GetString());
        // The same job as ONNX (bit-exact through ONNX Runtime) and as a hardware kit; a training cannot be either.
        var onnx = Report(LabTestSupport.Run(config, "export", "tiny-test", "--job", key[..12], "--format", "onnx", "--out", _dir.File("onnx"), "--db", db, "--json"));
        Assert.True(onnx.GetProperty("bitExact").GetBoolean());
        Assert.Equal(exported.GetProperty("predictionsSha256").GetString(), onnx.GetProperty("predictionsSha256").GetString());
        Assert.Equal(0, LabTestSupport.Run(config, "infer", "--model", Path.Combine(_dir.File("onnx"), "model.onnx")).ExitCode);
        Assert.Equal(0, LabTestSupport.Run(config, "export", "tiny-test", "--job", key[..12], "--format", "hw", "--vectors", "2", "--out", _dir.File("kit"), "--db", db).ExitCode);
        Assert.True(File.Exists(Path.Combine(_dir.File("kit"), "reference.c")));
        // A train job's model directory, and clear refusals.
        var train = results.First(r => r.GetProperty("kind").GetString() == "train").GetProperty("job").GetString()!;
        Assert.Equal(0, LabTestSupport.Run(config, "export", "tiny-test", "--job", train, "--out", _dir.File("model"), "--db", db).ExitCode);
        Assert.True(File.Exists(Path.Combine(_dir.File("model"), "model.json")));
        Assert.Equal(2, LabTestSupport.Run(config, "export", "tiny-test", "--job", train, "--format", "onnx", "--out", _dir.File("x"), "--db", db).ExitCode);
        var calibrate = results.First(r => r.GetProperty("kind").GetString() == "calibrate").GetProperty("job").GetString()!;
        var refused = LabTestSupport.Run(config, "export", "tiny-test", "--job", calibrate, "--out", _dir.File("x"), "--db", db);
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("calibrate job", refused.Err);
        var unknown = LabTestSupport.Run(config, "export", "tiny-test", "--job", "ffffffffffff", "--out", _dir.File("y"), "--db", db);
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("no finished job", unknown.Err);
        Assert.False(Directory.Exists(_dir.File("x")) || Directory.Exists(_dir.File("y")));
    }

    [Fact]
    public async Task The_built_quantlab_process_runs_a_campaign_and_resumes_it()
    {
        var db = _dir.File("lab.db");
        var spec = Spec();
        using (var run = new QuantlabProcess(LabTestSupport.FastTimings, "run", spec, "--db", db, "--workers", "1"))
            Assert.True(await run.WaitAsync(TimeSpan.FromMinutes(3)) == 0, run.ToString());
        var report = Report(LabTestSupport.Run(LabTestSupport.Configuration(), "report", "tiny-test", "--db", db, "--format", "json"));
        Assert.Equal(4, report.GetProperty("results").GetArrayLength());
        using (var again = new QuantlabProcess(LabTestSupport.FastTimings, "run", spec, "--db", db, "--workers", "1"))
        {
            Assert.True(await again.WaitAsync(TimeSpan.FromMinutes(3)) == 0, again.ToString());
            Assert.Contains("4 already known", again.Err);
        }
        Assert.Equal(report.GetRawText(), Report(LabTestSupport.Run(LabTestSupport.Configuration(), "report", "tiny-test", "--db", db, "--format", "json")).GetRawText());
    }

    [Fact]
    public void Bad_input_is_refused_with_a_clear_message_and_nothing_recorded()
    {
        var config = LabTestSupport.Configuration();
        var db = _dir.File("lab.db");
        var bad = LabTestSupport.Run(config, "run", Spec("""{"name":"x","train":[{"id":"a","epochs":0}]}"""), "--db", db);
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("$.train[0].epochs", bad.Err);
        Assert.False(File.Exists(db));

        var missing = LabTestSupport.Run(config, "status", "x", "--db", db);
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("no QuantLab database", missing.Err);
        Assert.False(File.Exists(db));

        var seeds = LabTestSupport.Run(config, "node", "--port", "1", "--seed-nodes", "http://nowhere");
        Assert.Equal(2, seeds.ExitCode);
        Assert.Contains("--seed-nodes", seeds.Err);
    }

    [Fact]
    public void A_database_of_a_newer_schema_or_an_unknown_campaign_is_refused()
    {
        var config = LabTestSupport.Configuration(new Dictionary<string, string> { ["QuantLab:Orchestration:Executor"] = "synthetic" });
        var db = _dir.File("lab.db");
        var ok = LabTestSupport.Run(config, "run", Spec("""{"name":"s","train":[{"id":"a","seed":[1,2]}]}"""), "--db", db);
        Assert.True(ok.ExitCode == 0, ok.ToString());

        var unknown = LabTestSupport.Run(config, "report", "nope", "--db", db, "--format", "json");
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("it has: s", unknown.Err);

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        using (var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={db}"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "INSERT INTO quantlab_schema (version) VALUES (99);";
            cmd.ExecuteNonQuery();
        }
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var args in new[] { new[] { "status", "s", "--db", db }, ["run", Spec("""{"name":"t","train":[{"id":"a"}]}"""), "--db", db] })
        {
            var newer = LabTestSupport.Run(config, args);
            Assert.True(newer.ExitCode == 2, newer.ToString());
            Assert.Contains("newer", newer.Err);
        }
    }

    [Fact]
    public void A_node_on_a_port_in_use_exits_3()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var r = LabTestSupport.Run(LabTestSupport.Configuration(), "node", "--port", port, "--seed-nodes", $"akka.tcp://quantlab@127.0.0.1:{port}", "--db", _dir.File("lab.db"));
            Assert.Equal(3, r.ExitCode);
            Assert.Contains($"127.0.0.1:{port}", r.Err);
        }
        finally { listener.Stop(); }
    }
}
