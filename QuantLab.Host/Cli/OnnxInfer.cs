using System.Text.Json.Nodes;
using Onnx;
using QuantLab.Engine;
using QuantLab.Engine.Export;

namespace QuantLab.Host.Cli;

/// <summary>
/// <c>quantlab infer --model DIR/model.onnx</c>: runs an ONNX export (written by <c>quantlab export --format onnx</c>)
/// through ONNX Runtime on the quantized inputs of its <c>testset/</c> and compares with the engine's logits stored
/// there. The exact style must equal them bit for bit (exit 1 otherwise, naming the first differing image and
/// logit); the qdq style must give the agreement recorded at export.
/// </summary>
public static class OnnxInfer
{
    public static bool IsOnnxPath(string path) => path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase);

    public static int Run(CliContext ctx, string path, int threads, bool json)
    {
        if (!File.Exists(path)) throw new BadInputException($"--model '{path}': no such ONNX file");
        var bytes = File.ReadAllBytes(path);
        ModelProto proto;
        try { proto = ModelProto.Parser.ParseFrom(bytes); }
        catch (Exception e) when (e is Google.Protobuf.InvalidProtocolBufferException or InvalidOperationException)
        {
            throw new BadInputException($"{path}: not an ONNX model ({e.Message})");
        }
        var style = OnnxExport.StyleOf(proto);
        var dir = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, "testset");
        if (!Directory.Exists(dir)) throw new BadInputException($"{path}: no testset/ beside it to compare with (write it with 'quantlab export --format onnx')");
        NpyArray<int> inputs, logits;
        JsonNode summary;
        try
        {
            inputs = Npy.Read<int>(Path.Combine(dir, "inputs.npy"));
            logits = Npy.Read<int>(Path.Combine(dir, "logits.npy"));
            summary = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")))!;
        }
        catch (Exception e) when (e is IOException or System.Text.Json.JsonException or FormatException)
        {
            throw new BadInputException($"{dir}: {e.Message}");
        }
        int count = inputs.Shape[0], classes = logits.Shape[1];
        var labels = Npy.Read<byte>(Path.Combine(dir, "labels.npy")).Data;
        int[] onnx;
        try
        {
            onnx = OnnxRunner.Run(bytes, inputs.Data.Select(v => (short)v).ToArray(), count, inputs.Shape[1..], threads: threads);
        }
        catch (Microsoft.ML.OnnxRuntime.OnnxRuntimeException e)
        {
            ctx.Err.WriteLine($"error: ONNX Runtime cannot run {path}: {e.Message}");
            return 1;
        }
        var agreement = OnnxAgreement.Measure(logits.Data, onnx, classes);
        var result = new ExportedTestSet(inputs.Data.Select(v => (short)v).ToArray(), labels, onnx, classes);
        bool matches = style == OnnxStyle.Exact
            ? agreement.Exact
            : summary["onnxRuntime"]?["logitsEqual"]?.GetValue<int>() == agreement.LogitsEqual
              && summary["onnxRuntime"]?["predictionsEqual"]?.GetValue<int>() == agreement.PredictionsEqual;
        if (json)
        {
            ctx.WriteJson(new
            {
                runtime = "onnxruntime " + OnnxRunner.RuntimeVersion,
                onnxStyle = style.ToOption(),
                accuracy = result.Accuracy,
                count,
                predictionsSha256 = result.PredictionsSha256,
                matchesExport = matches,
                logitMismatches = agreement.LogitCount - agreement.LogitsEqual,
                predictionsEqual = agreement.PredictionsEqual,
                firstDifference = agreement.FirstDifference,
            });
        }
        else
        {
            ctx.Out.WriteLine($"ONNX Runtime ({style.ToOption()}): accuracy {result.Accuracy * 100:F2}% on {count} test images");
            ctx.Out.WriteLine($"Predictions SHA-256: {result.PredictionsSha256}");
            if (style == OnnxStyle.Exact)
                ctx.Out.WriteLine(matches
                    ? "Matches the export: the engine's logits, bit for bit."
                    : $"DIFFERS from the export: {agreement.LogitCount - agreement.LogitsEqual} logits differ; first at {agreement.FirstDifference}.");
            else
                ctx.Out.WriteLine($"Agreement with the engine: predictions {agreement.PredictionAgreement * 100:F2}%, logits {agreement.LogitAgreement * 100:F2}% " +
                                  $"(max |difference| {agreement.MaxAbsLogitDifference}); {(matches ? "as recorded at export" : "DIFFERS from the figures recorded at export")}.");
        }
        return matches ? 0 : 1;
    }
}
