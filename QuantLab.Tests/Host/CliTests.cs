using System.Text.Json;
using QuantLab.Engine.Export;
using QuantLab.Engine.Model;
using QuantLab.Tests.Engine;

namespace QuantLab.Tests.Host;

public sealed class CliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ql-cli-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    private string SavedModel(bool bias = true)
    {
        var dir = Path.Combine(_dir, bias ? "model-bias" : "model");
        if (!Directory.Exists(dir)) (bias ? SharedModels.QuickBias : SharedModels.Quick).Save(dir);
        return dir;
    }

    private static JsonElement Json(CliRunner.Result r)
    {
        Assert.True(r.ExitCode == 0, r.ToString());
        return JsonDocument.Parse(r.Out).RootElement;
    }

    [Fact]
    public void Model_summary_json_gives_the_seeds_figures()
    {
        var json = Json(CliRunner.Run("model", "summary", "--json"));
        Assert.Equal(61_470, json.GetProperty("totalParams").GetInt64());
        Assert.Equal(1_666_080, json.GetProperty("multAdds").GetInt64());
        var conv1 = json.GetProperty("layers").EnumerateArray().First();
        Assert.Equal("conv1", conv1.GetProperty("name").GetString());
        Assert.Equal("Conv2d", conv1.GetProperty("type").GetString());
        Assert.Equal(150, conv1.GetProperty("params").GetInt64());
        Assert.Equal(new[] { 4, 6, 28, 28 }, conv1.GetProperty("outputShape").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(61_706, Json(CliRunner.Run("model", "summary", "--bias", "--json")).GetProperty("totalParams").GetInt64());
    }

    [Fact]
    public void Model_summary_prints_both_tables()
    {
        var r = CliRunner.Run("model", "summary");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("Total params: 61,470", r.Out);
        Assert.Contains("(16, 5, 5) = 400", r.Out);
    }

    [Theory]
    [InlineData(new string[0], "command")]
    [InlineData(new[] { "model", "summary", "--frobnicate" }, "--frobnicate")]
    [InlineData(new[] { "train" }, "--out")]
    [InlineData(new[] { "model", "summary", "--batch", "four" }, "four")]
    // An unknown option where a campaign or spec argument is free is not taken for a campaign's name.
    [InlineData(new[] { "status", "--frobnicate" }, "Unrecognized option '--frobnicate'")]
    [InlineData(new[] { "report", "--frobnicate" }, "Unrecognized option '--frobnicate'")]
    [InlineData(new[] { "retry", "--frobnicate" }, "Unrecognized option '--frobnicate'")]
    [InlineData(new[] { "export", "--frobnicate", "--out", "x" }, "Unrecognized option '--frobnicate'")]
    [InlineData(new[] { "run", "--frobnicate" }, "Unrecognized option '--frobnicate'")]
    [InlineData(new[] { "train", "--out", "/tmp/quantlab-cli-test-never-written", "--input-transform", "crop" }, "--input-transform: 'crop' is not one of: resize, pad")]
    public void Usage_errors_exit_2_and_say_what_is_wrong(string[] args, string mentioned)
    {
        var r = CliRunner.Run(args);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(mentioned, r.Err);
        Assert.Equal("", r.Out);
    }

    [Fact]
    public void Help_is_printed_for_every_verb()
    {
        foreach (var verb in new[] { new[] { "data", "fetch" }, new[] { "model", "summary" }, new[] { "train" }, new[] { "quantize" }, new[] { "infer" }, new[] { "bench" } })
        {
            var r = CliRunner.Run([.. verb, "--help"]);
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Contains("Usage", r.Out);
        }
    }

    [Theory]
    [InlineData("--weight-bits", "17", "--weight-bits")]
    [InlineData("--act-bits", "1", "--act-bits")]
    [InlineData("--weight-range", "median", "minmax")]
    [InlineData("--rounding", "up", "half-even")]
    [InlineData("--requant", "fixed-point:40", "fixed-point")]
    [InlineData("--granularity", "row", "channel")]
    [InlineData("--calibration", "0", "calibration")]
    public void Bad_quantization_options_exit_2_naming_the_allowed_values(string option, string value, string mentioned)
    {
        var r = CliRunner.Run("quantize", "--model", SavedModel(), option, value);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(mentioned, r.Err);
    }

    [Fact]
    public void Fixed_point_with_float_bias_is_refused()
    {
        var r = CliRunner.Run("quantize", "--model", SavedModel(), "--requant", "fixed-point", "--bias", "float");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("fixed-point", r.Err);
    }

    [Fact]
    public void A_missing_or_mismatched_model_directory_is_refused()
    {
        Assert.Equal(2, CliRunner.Run("quantize", "--model", Path.Combine(_dir, "nope")).ExitCode);
        var dir = Path.Combine(_dir, "broken");
        SharedModels.Quick.Save(dir);
        Npy.Write<float>(Path.Combine(dir, "conv3.weight.npy"), new float[16 * 6 * 3 * 3], 16, 6, 3, 3);
        var r = CliRunner.Run("quantize", "--model", dir, "--out", Path.Combine(_dir, "out"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("conv3.weight.npy", r.Err);
        Assert.False(Directory.Exists(Path.Combine(_dir, "out")));
    }

    [Fact]
    public void Quantize_export_and_infer_agree_on_accuracy_and_hash()
    {
        var export = Path.Combine(_dir, "export");
        var q = Json(CliRunner.Run("quantize", "--model", SavedModel(), "--out", export, "--requant", "fixed-point", "--bias", "int32", "--json"));
        foreach (var key in new[] { "accuracy", "fp32Accuracy", "agreement", "predictionsSha256" }) Assert.True(q.TryGetProperty(key, out _), key);
        Assert.InRange(q.GetProperty("accuracy").GetDouble(), 0.5, 1.0);

        var i = Json(CliRunner.Run("infer", "--model", export, "--json"));
        Assert.Equal(q.GetProperty("accuracy").GetDouble(), i.GetProperty("accuracy").GetDouble());
        Assert.Equal(q.GetProperty("predictionsSha256").GetString(), i.GetProperty("predictionsSha256").GetString());
        Assert.True(i.GetProperty("matchesExport").GetBoolean());

        // A tampered export is detected: exit 1 and the mismatch count.
        var logitsPath = Path.Combine(export, "testset", "logits.npy");
        var logits = Npy.Read<int>(logitsPath);
        logits.Data[0] += 1;
        Npy.Write<int>(logitsPath, logits.Data, logits.Shape);
        var tampered = CliRunner.Run("infer", "--model", export, "--json");
        Assert.Equal(1, tampered.ExitCode);
        Assert.Equal(1, JsonDocument.Parse(tampered.Out).RootElement.GetProperty("logitMismatches").GetInt32());
    }

    [Fact]
    public void The_weights_scope_cannot_be_exported_but_is_evaluated()
    {
        Assert.Equal(2, CliRunner.Run("quantize", "--model", SavedModel(false), "--scope", "weights", "--out", Path.Combine(_dir, "x")).ExitCode);
        var json = Json(CliRunner.Run("quantize", "--model", SavedModel(false), "--scope", "weights", "--json"));
        Assert.InRange(json.GetProperty("agreement").GetDouble(), 0.9, 1.0);
    }

    [Fact]
    public void The_range_report_has_histograms_and_the_table()
    {
        var report = Path.Combine(_dir, "report");
        Json(CliRunner.Run("quantize", "--model", SavedModel(false), "--report", report, "--calibration", "200", "--json"));
        foreach (var name in new[] { "conv1", "conv3", "conv5", "fc6", "output" })
            Assert.True(new FileInfo(Path.Combine(report, $"weights-{name}.png")).Length > 1000, name);
        foreach (var point in new[] { "input", "conv1", "conv3", "conv5", "fc6", "output" })
        {
            var png = File.ReadAllBytes(Path.Combine(report, $"activations-{point}.png"));
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
        }
        var table = File.ReadAllText(Path.Combine(report, "ranges.md"));
        Assert.Contains("| conv1 |", table);
        Assert.Contains("3-sigma", table);
        Assert.Equal(1 + 5 + 6, File.ReadAllLines(Path.Combine(report, "ranges.csv")).Length);
    }

    [Fact]
    public void Train_json_writes_a_model_that_reloads()
    {
        var outDir = Path.Combine(_dir, "trained");
        CliRunner.Result r;
        lock (TorchThreads.Gate) r = CliRunner.Run("train", "--out", outDir, "--train-limit", "800", "--epochs", "1", "--json");
        var json = Json(r);
        Assert.Equal(1, json.GetProperty("epochs").GetInt32());
        Assert.InRange(json.GetProperty("accuracy").GetDouble(), 0.0, 1.0); // 800 images barely start learning; TrainingTests checks learning
        Assert.True(json.GetProperty("seconds").GetDouble() > 0);
        var model = Fp32Model.Load(outDir);
        Assert.Equal(800, model.Manifest.Training!.TrainLimit);
        Assert.Equal(json.GetProperty("accuracy").GetDouble(), model.Manifest.TestAccuracy);
    }

    [Fact]
    public void Train_refuses_an_unwritable_output_before_training()
    {
        var blocker = Path.Combine(_dir, "file");
        File.WriteAllText(blocker, "");
        var r = CliRunner.Run("train", "--out", Path.Combine(blocker, "sub", "model"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("cannot write", r.Err);
    }

    [Fact]
    public void Data_fetch_reports_the_verified_directory()
    {
        var json = Json(CliRunner.Run("data", "fetch", "--json"));
        Assert.True(Directory.Exists(json.GetProperty("directory").GetString()));
        Assert.Equal(4, json.GetProperty("files").GetArrayLength());
    }

    [Fact]
    public void Data_fetch_with_a_bad_explicit_directory_exits_2()
    {
        var r = CliRunner.Run("data", "fetch", "--data-dir", Path.Combine(_dir, "no-such-dir"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("no-such-dir", r.Err);
    }

    [Fact]
    public void Bench_orchestration_times_a_campaign_on_one_node_and_on_three()
    {
        var r = CliRunner.Run("bench", "--orchestration", "--jobs", "200", "--json");
        var runs = Json(r).GetProperty("orchestration").EnumerateArray().ToList();
        Assert.Equal([1, 3], runs.Select(m => m.GetProperty("nodes").GetInt32()));
        Assert.All(runs, m =>
        {
            Assert.Equal("sqlite", m.GetProperty("provider").GetString());
            Assert.Equal(200, m.GetProperty("jobs").GetInt32());
            Assert.Equal(200 / m.GetProperty("seconds").GetDouble(), m.GetProperty("jobsPerSecond").GetDouble(), 6);
        });

        var bad = CliRunner.Run("bench", "--orchestration", "--jobs", "0");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("--jobs must be 1..100000", bad.Err);
    }

    [Theory]
    [InlineData("--rounds 0", "--rounds must be 1..10 (got 0)")]
    [InlineData("--rounds 11", "--rounds must be 1..10 (got 11)")]
    [InlineData("--orchestration --rounds 2", "--rounds repeats the engine bench")]
    public void Bench_refuses_rounds_out_of_range_or_with_orchestration(string arguments, string message)
    {
        var r = CliRunner.Run(["bench", .. arguments.Split(' ')]);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(message, r.Err);
    }

    [Fact]
    public void Version_states_the_build_and_the_engine_version_that_keys_the_jobs()
    {
        var r = CliRunner.Run("--version");
        Assert.Equal(0, r.ExitCode);
        Assert.Matches($@"^quantlab \S+ \(engine {System.Text.RegularExpressions.Regex.Escape(QuantLab.Engine.EngineInfo.Version)}\)\s*$", r.Out);
    }

    [Fact]
    public void Bench_json_states_ratios_against_a_baseline_of_the_same_run()
    {
        CliRunner.Result r;
        lock (TorchThreads.Gate) r = CliRunner.Run("bench", "--json", "--rounds", "1");
        var json = Json(r);
        Assert.Equal(1, json.GetProperty("rounds").GetInt32());
        var benchmarks = json.GetProperty("benchmarks").EnumerateArray().ToList();
        Assert.Equal(json.GetProperty("baseline").GetString(), benchmarks[0].GetProperty("name").GetString());
        Assert.Equal(1.0, benchmarks[0].GetProperty("ratioToBaseline").GetDouble(), 6);
        Assert.All(benchmarks, b => Assert.True(b.GetProperty("imagesPerSecond").GetDouble() > 0));
        // ONNX Runtime runs the exported model beside the engine, in the same run.
        Assert.Contains(benchmarks, b => b.GetProperty("path").GetString() == "onnxruntime-exact");
        Assert.Contains(benchmarks, b => b.GetProperty("path").GetString() == "onnxruntime-qdq");
        // The evaluate job's time and allocation beside the inference it contains.
        var evaluate = json.GetProperty("evaluate");
        Assert.Equal(evaluate.GetProperty("evaluateSeconds").GetDouble() / evaluate.GetProperty("inferenceSeconds").GetDouble(), evaluate.GetProperty("ratio").GetDouble(), 6);
        Assert.InRange(evaluate.GetProperty("evaluateAllocatedBytes").GetInt64(), 1, 20L << 20);
        // The summary restates the default path's 8/8 row on every core (every test machine has AVX2 at least).
        var summary = json.GetProperty("summary");
        var path = json.GetProperty("path").GetString();
        Assert.Equal(path, summary.GetProperty("path").GetString());
        var all = benchmarks.Single(b => b.GetProperty("path").GetString() == path && b.GetProperty("config").GetString() == "8/8"
            && b.GetProperty("threads").GetInt32() == summary.GetProperty("threads").GetInt32());
        Assert.Equal(all.GetProperty("ratioToTorch").GetDouble(), summary.GetProperty("ratioToTorch").GetDouble(), 9);
        Assert.True(summary.GetProperty("slowestFactor").GetDouble() > 0);
        // Progress, row by row, on stderr (stdout is the JSON document alone).
        Assert.Contains("TorchSharp FP32 inference", r.Err);
        Assert.Contains("images/s", r.Err);
    }
}
