using QuantLab.Engine.Int;
using System.Text.Json;
using QuantLab.Engine.Export;
using QuantLab.Engine.Qat;
using QuantLab.Tests.Engine;
using QuantLab.Tests.Qat;

namespace QuantLab.Tests.Host;

public sealed class QatCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ql-qatcli-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    private static JsonElement Json(CliRunner.Result r)
    {
        Assert.True(r.ExitCode == 0, r.ToString());
        return JsonDocument.Parse(r.Out).RootElement;
    }

    private static CliRunner.Result Train(params string[] args)
    {
        lock (TorchThreads.Gate) return CliRunner.Run(["train", .. args]);
    }

    [Fact]
    public void Train_qat_json_quantize_and_infer_report_the_same_accuracy()
    {
        var qatDir = Path.Combine(_dir, "qat");
        var trained = Json(Train("--qat", "--out", qatDir, "--train-limit", "800", "--epochs", "1", "--requant", "fixed-point:16", "--json"));
        foreach (var key in new[] { "accuracy", "fp32Accuracy", "epochs", "seconds", "predictionsSha256", "float32Forward", "quantization", "qat" })
            Assert.True(trained.TryGetProperty(key, out _), key);
        Assert.Equal(1, trained.GetProperty("epochs").GetInt32());
        Assert.Equal("fixed-point:16", trained.GetProperty("quantization").GetProperty("requant").GetString());
        var model = QatModel.Load(qatDir);
        Assert.Equal(trained.GetProperty("accuracy").GetDouble(), model.Manifest.TestAccuracy);

        var export = Path.Combine(_dir, "export");
        var q = Json(CliRunner.Run("quantize", "--model", qatDir, "--out", export, "--json"));
        Assert.Equal(trained.GetProperty("accuracy").GetDouble(), q.GetProperty("accuracy").GetDouble());
        Assert.Equal(trained.GetProperty("predictionsSha256").GetString(), q.GetProperty("predictionsSha256").GetString());
        Assert.Equal("qat", q.GetProperty("ranges").GetString());
        Assert.Equal(0, q.GetProperty("calibrationImages").GetInt32());

        var i = Json(CliRunner.Run("infer", "--model", export, "--json"));
        Assert.Equal(q.GetProperty("accuracy").GetDouble(), i.GetProperty("accuracy").GetDouble());
        Assert.True(i.GetProperty("matchesExport").GetBoolean());
        var (intModel, _, _) = IntExport.Read(export);
        Assert.All(intModel.Layers, l => Assert.Equal(16, Assert.IsType<FixedPointRequant>(l.Requant).Precision));

        // The requantization alone may change at conversion (the seed's §3.1 converts with float and fixed-point M).
        var asFloat = Json(CliRunner.Run("quantize", "--model", qatDir, "--requant", "float", "--json"));
        Assert.Equal("float", asFloat.GetProperty("quantization").GetProperty("requant").GetString());
        Assert.InRange(asFloat.GetProperty("accuracy").GetDouble(), 0.0, 1.0);
    }

    [Fact]
    public void A_diverging_training_exits_1_and_writes_nothing()
    {
        // QAT with a huge learning rate does not diverge (minmax steps scale with the weights, the
        // quantized logits stay bounded); a NaN range is the QAT route to the same exception, see
        // QatTests.A_non_finite_activation_range_is_divergence.
        var outDir = Path.Combine(_dir, "diverged");
        var r = Train("--out", outDir, "--train-limit", "400", "--epochs", "1", "--lr", "1e6");
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Contains("diverged", r.Err);
        Assert.False(Directory.Exists(outDir));
    }

    [Fact]
    public void Bad_qat_input_exits_2_before_training_and_writes_nothing()
    {
        var qatDir = Path.Combine(_dir, "qat");
        SharedQatModels.Seed.Model.Save(qatDir);
        var fp32Dir = Path.Combine(_dir, "fp32");
        SharedModels.Quick.Save(fp32Dir);
        var broken = Path.Combine(_dir, "broken");
        SharedModels.Quick.Save(broken);
        Npy.Write<float>(Path.Combine(broken, "fc6.weight.npy"), new float[84 * 100], 84, 100);
        var otherArchitecture = Path.Combine(_dir, "resnet");
        SharedModels.Quick.Save(otherArchitecture);
        var otherManifest = Path.Combine(otherArchitecture, "model.json");
        File.WriteAllText(otherManifest, File.ReadAllText(otherManifest).Replace("\"lenet5\"", "\"resnet18\""));
        var outDir = Path.Combine(_dir, "out");

        (string[] Args, string Mentioned)[] cases =
        [
            (["--qat", "--act-range", "entropy"], "entropy"),
            (["--qat", "--weight-range", "percentile:99"], "percentile"),
            (["--qat", "--scope", "weights"], "scope"),
            (["--qat", "--requant", "fixed-point", "--bias", "float"], "fixed-point"),
            (["--qat", "--bias", "sometimes"], "none, float, int32"),
            (["--bias", "int32"], "--qat"),
            (["--qat", "--weight-bits", "1"], "--weight-bits"),
            (["--qat", "--freeze-fraction", "1"], "frozen"),
            (["--weight-bits", "4"], "--qat"),
            (["--from", fp32Dir], "--qat"),
            (["--qat", "--from", Path.Combine(_dir, "missing")], "--from"),
            (["--qat", "--from", qatDir], "quantlab.qat/1"),
            (["--qat", "--from", broken], "fc6.weight.npy"),
            (["--qat", "--from", fp32Dir, "--bias"], "without bias"),
            (["--qat", "--from", fp32Dir, "--bias", "int32"], "needs a model with bias"),
            (["--qat", "--from", fp32Dir, "--input-transform", "pad"], "resize"),
            (["--qat", "--from", otherArchitecture], "resnet18"),
            (["--qat", "--qat-method", "lsq", "--act-range", "entropy"], "--qat-method lsq"),
            (["--qat", "--qat-method", "lsq", "--weight-range", "mse"], "--weight-range"),
            (["--qat", "--qat-method", "adam"], "observe, lsq"),
            (["--qat", "--qat-method", "lsq", "--freeze-fraction", "0.5"], "--freeze-fraction"),
            (["--qat-method", "lsq"], "--qat"),
        ];
        foreach (var (args, mentioned) in cases)
        {
            var r = CliRunner.Run(["train", "--out", outDir, .. args]);
            Assert.True(r.ExitCode == 2, $"{string.Join(' ', args)}: {r}");
            Assert.Contains(mentioned, r.Err);
            Assert.False(Directory.Exists(outDir));
        }

        var conflict = CliRunner.Run("quantize", "--model", qatDir, "--weight-bits", "4");
        Assert.Equal(2, conflict.ExitCode);
        Assert.Contains("--weight-bits", conflict.Err);
        Assert.Equal(2, CliRunner.Run("quantize", "--model", qatDir, "--calibration", "100").ExitCode);
        // Restating what the model was trained for is not a conflict.
        Assert.Equal(0, CliRunner.Run("quantize", "--model", qatDir, "--weight-bits", "8", "--rounding", "floor").ExitCode);
    }
}
