using System.Text.Json;
using Google.Protobuf;
using Onnx;
using QuantLab.Engine.Export;
using QuantLab.Tests.Host;

namespace QuantLab.Tests.Export;

/// <summary><c>quantlab export --model EXPORT --format onnx</c> and <c>quantlab infer --model model.onnx</c>.</summary>
public sealed class OnnxCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ql-onnx-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    private string NpyExport(string rounding, string requant = "float", string bias = "int32", int images = 1000)
    {
        var (model, testSet) = ExportFixtures.Quantized(ExportFixtures.Config(8, 8, rounding, requant, bias, "channel"), images);
        var dir = Path.Combine(_dir, $"npy-{rounding}-{requant.Replace(':', '-')}-{bias}");
        IntExport.Write(dir, model, testSet);
        return dir;
    }

    private static JsonElement Json(CliRunner.Result r) => JsonDocument.Parse(r.Out).RootElement;

    [Fact]
    public void An_exact_onnx_export_runs_bit_exactly_in_infer_and_a_tampered_file_is_caught_at_its_first_difference()
    {
        var onnxDir = Path.Combine(_dir, "onnx");
        var e = CliRunner.Run("export", "--model", NpyExport("floor"), "--format", "onnx", "--out", onnxDir, "--json");
        Assert.True(e.ExitCode == 0, e.ToString());
        Assert.True(Json(e).GetProperty("bitExact").GetBoolean());
        var file = Path.Combine(onnxDir, "model.onnx");

        // The model records its opset and QuantLab's metadata.
        var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(file));
        Assert.Equal(OnnxExport.Opset, proto.OpsetImport.Single().Version);
        var meta = proto.MetadataProps.ToDictionary(p => p.Key, p => p.Value);
        Assert.Equal("quantlab.onnx/1", meta["quantlab.format"]);
        Assert.Equal("exact", meta["quantlab.onnxStyle"]);
        Assert.Equal("floor", meta["quantlab.rounding"]);
        Assert.Contains("quantlab.engineVersion", meta.Keys);
        Assert.Contains("ConvInteger", proto.Graph.Node.Select(n => n.OpType));

        var i = CliRunner.Run("infer", "--model", file, "--json");
        Assert.True(i.ExitCode == 0, i.ToString());
        Assert.True(Json(i).GetProperty("matchesExport").GetBoolean());
        Assert.Equal(1000, Json(i).GetProperty("count").GetInt32());

        // Tamper with one weight of the second convolution: infer exits 1 and names the first differing image and logit.
        var weights = proto.Graph.Initializer.Where(t => t.DataType == (int)TensorProto.Types.DataType.Int8 && t.Dims.Count == 4).Skip(1).First();
        var raw = weights.RawData.ToByteArray();
        raw[0] = (byte)(raw[0] ^ 0x20);
        weights.RawData = ByteString.CopyFrom(raw);
        File.WriteAllBytes(file, proto.ToByteArray());
        var t = CliRunner.Run("infer", "--model", file, "--json");
        Assert.Equal(1, t.ExitCode);
        Assert.False(Json(t).GetProperty("matchesExport").GetBoolean());
        Assert.Matches(@"^image \d+, logit \d: expected -?\d+, got -?\d+$", Json(t).GetProperty("firstDifference").GetString());
        Assert.Contains("first at image", CliRunner.Run("infer", "--model", file).Out);
    }

    [Fact]
    public void A_qdq_export_records_its_agreement_and_infer_reproduces_it()
    {
        var onnxDir = Path.Combine(_dir, "qdq");
        var e = CliRunner.Run("export", "--model", NpyExport("half-even"), "--format", "onnx", "--onnx-style", "qdq", "--out", onnxDir, "--json");
        Assert.True(e.ExitCode == 0, e.ToString());
        Assert.InRange(Json(e).GetProperty("predictionAgreement").GetDouble(), 0.9, 1.0);
        var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(onnxDir, "testset", "summary.json"))).RootElement;
        Assert.Equal("qdq", summary.GetProperty("onnxStyle").GetString());
        Assert.True(summary.GetProperty("onnxRuntime").TryGetProperty("logitAgreement", out _));
        var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(onnxDir, "model.onnx")));
        Assert.Contains("QuantizeLinear", proto.Graph.Node.Select(n => n.OpType));
        Assert.DoesNotContain("ConvInteger", proto.Graph.Node.Select(n => n.OpType));
        var i = CliRunner.Run("infer", "--model", Path.Combine(onnxDir, "model.onnx"), "--json");
        Assert.True(i.ExitCode == 0, i.ToString());
    }

    [Fact]
    public void Bad_requests_are_refused_with_exit_2_and_nothing_written()
    {
        var floor = NpyExport("floor", images: 100);
        var qdq = CliRunner.Run("export", "--model", floor, "--format", "onnx", "--onnx-style", "qdq", "--out", Path.Combine(_dir, "x"));
        Assert.Equal(2, qdq.ExitCode);
        Assert.Contains("half-even", qdq.Err);
        Assert.Equal(2, CliRunner.Run("export", "--model", floor, "--format", "tflite", "--out", Path.Combine(_dir, "x")).ExitCode);
        Assert.Equal(2, CliRunner.Run("export", "--model", floor, "--format", "npy", "--out", Path.Combine(_dir, "x")).ExitCode);
        Assert.Equal(2, CliRunner.Run("export", "--format", "onnx", "--out", Path.Combine(_dir, "x")).ExitCode);
        Assert.Equal(2, CliRunner.Run("infer", "--model", Path.Combine(_dir, "missing.onnx")).ExitCode);
        Assert.False(Directory.Exists(Path.Combine(_dir, "x")));
    }
}
