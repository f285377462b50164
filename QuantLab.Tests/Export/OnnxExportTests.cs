using Google.Protobuf;
using QuantLab.Engine;
using QuantLab.Engine.Export;
using QuantLab.Engine.Quantization;

namespace QuantLab.Tests.Export;

public sealed class OnnxExportTests
{
    /// <summary>Every rounding mode × requantization × bias mode × granularity at 8/8 bits, plus narrower and wider widths.</summary>
    public static TheoryData<int, int, string, string, string, string> ExactGrid()
    {
        var data = new TheoryData<int, int, string, string, string, string>();
        // The seed's configuration, then every rounding × requantization × bias pair, granularity alternating.
        data.Add(8, 8, "floor", "float", "none", "tensor");
        int i = 0;
        foreach (var rounding in new[] { "floor", "half-even", "half-away" })
        foreach (var requant in new[] { "float", "fixed-point:31" })
        foreach (var bias in new[] { "none", "int32", "float" })
            if (!(requant != "float" && bias == "float"))
                data.Add(8, 8, rounding, requant, bias, i++ % 2 == 0 ? "channel" : "tensor");
        data.Add(4, 6, "floor", "float", "int32", "channel");
        data.Add(4, 4, "half-even", "fixed-point:16", "int32", "tensor");
        data.Add(2, 3, "half-away", "fixed-point:8", "none", "channel");
        data.Add(8, 12, "half-away", "float", "float", "tensor");
        data.Add(12, 12, "half-even", "fixed-point:31", "int32", "channel");
        data.Add(16, 16, "floor", "float", "int32", "channel");
        data.Add(16, 16, "half-even", "fixed-point:31", "none", "channel");
        return data;
    }

    [Theory]
    [MemberData(nameof(ExactGrid))]
    public void Onnx_Runtime_reproduces_the_engine_logits_bit_for_bit_on_the_whole_test_set(
        int weightBits, int actBits, string rounding, string requant, string bias, string granularity)
    {
        var (model, testSet) = ExportFixtures.Quantized(ExportFixtures.Config(weightBits, actBits, rounding, requant, bias, granularity));
        var bytes = OnnxExport.Build(model, OnnxStyle.Exact).ToByteArray();
        var logits = OnnxRunner.Run(bytes, testSet.Inputs, testSet.Count, model.InputShape);
        var agreement = OnnxAgreement.Measure(testSet.Logits, logits, 10);
        Assert.True(agreement.Exact, $"{agreement.LogitCount - agreement.LogitsEqual} logits differ; first at {agreement.FirstDifference}");
        Assert.Equal(10_000, testSet.Count);
        Assert.True(testSet.Logits.Distinct().Count() > 2, "the logits vary");
    }

    /// <summary>unsigned-after-relu: uint8 activations into ConvInteger / MatMulInteger / MaxPool up to 8 bits, the
    /// int64 path above (16 bits: the engine itself runs on the scalar reference there).</summary>
    public static TheoryData<int, int, string, string, string, string> UnsignedGrid() => new()
    {
        { 8, 8, "floor", "float", "int32", "channel" },
        { 8, 8, "half-even", "fixed-point:31", "int32", "tensor" },
        { 4, 4, "half-away", "float", "none", "channel" },
        { 2, 2, "half-even", "fixed-point:16", "int32", "channel" },
        { 8, 12, "half-even", "fixed-point:31", "int32", "channel" },
        { 16, 16, "half-even", "float", "int32", "channel" },
    };

    [Theory]
    [MemberData(nameof(UnsignedGrid))]
    public void With_unsigned_activations_after_relu_Onnx_Runtime_reproduces_the_engine_bit_for_bit(
        int weightBits, int actBits, string rounding, string requant, string bias, string granularity)
    {
        var config = ExportFixtures.Config(weightBits, actBits, rounding, requant, bias, granularity) with { ActSignedness = ActSignedness.UnsignedAfterRelu };
        var (model, testSet) = ExportFixtures.Quantized(config);
        Assert.Contains(model.Layers, l => !l.OutputSigned);
        var bytes = OnnxExport.Build(model, OnnxStyle.Exact).ToByteArray();
        var agreement = OnnxAgreement.Measure(testSet.Logits, OnnxRunner.Run(bytes, testSet.Inputs, testSet.Count, model.InputShape), 10);
        Assert.True(agreement.Exact, $"{agreement.LogitCount - agreement.LogitsEqual} logits differ; first at {agreement.FirstDifference}");
        Assert.Equal(10_000, testSet.Count);
    }

}

/// <summary>The qdq style's agreement with the engine on the whole test set (the figures the README states).</summary>
public sealed class QdqAgreementTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Theory]
    [InlineData(8, 8, "float", "none", "tensor")]
    [InlineData(8, 8, "float", "int32", "channel")]
    [InlineData(8, 8, "fixed-point:31", "int32", "channel")]
    [InlineData(4, 4, "float", "int32", "channel")]
    public void The_qdq_graph_agrees_with_the_engine_on_nearly_every_prediction(int weightBits, int actBits, string requant, string bias, string granularity)
    {
        var (model, testSet) = ExportFixtures.Quantized(ExportFixtures.Config(weightBits, actBits, "half-even", requant, bias, granularity));
        var bytes = Google.Protobuf.MessageExtensions.ToByteArray(OnnxExport.Build(model, OnnxStyle.Qdq));
        var a = OnnxAgreement.Measure(testSet.Logits, OnnxRunner.Run(bytes, testSet.Inputs, testSet.Count, model.InputShape), 10);
        output.WriteLine($"qdq {weightBits}/{actBits} half-even {requant} bias {bias} {granularity}: predictions {a.PredictionAgreement:P2}, logits {a.LogitAgreement:P2}, max |Δ| {a.MaxAbsLogitDifference}, engine accuracy {testSet.Accuracy:P2}");
        Assert.InRange(a.PredictionAgreement, 0.97, 1.0);
    }

    /// <summary>Unsigned grids after ReLU travel as uint8 (zero point 0), up to 255 at 8 bits: an int8 tensor would clip them at 127.</summary>
    [Theory]
    [InlineData(8, 8)]
    [InlineData(4, 4)]
    [InlineData(2, 2)]
    public void With_unsigned_activations_the_qdq_graph_carries_uint8_and_agrees_with_the_engine(int weightBits, int actBits)
    {
        var config = ExportFixtures.Config(weightBits, actBits, "half-even", "float", "int32", "channel") with { ActSignedness = ActSignedness.UnsignedAfterRelu };
        var (model, testSet) = ExportFixtures.Quantized(config);
        var proto = OnnxExport.Build(model, OnnxStyle.Qdq);
        var zeroPoints = proto.Graph.Node.Where(n => n.OpType == "QuantizeLinear").Select(n => proto.Graph.Initializer.Single(t => t.Name == n.Input[2]).DataType).ToList();
        Assert.Equal(model.Layers.Select(l => l.OutputSigned ? (int)Onnx.TensorProto.Types.DataType.Int8 : (int)Onnx.TensorProto.Types.DataType.Uint8), zeroPoints);
        var a = OnnxAgreement.Measure(testSet.Logits, OnnxRunner.Run(Google.Protobuf.MessageExtensions.ToByteArray(proto), testSet.Inputs, testSet.Count, model.InputShape), 10);
        output.WriteLine($"qdq {weightBits}/{actBits} unsigned-after-relu: predictions {a.PredictionAgreement:P2}, logits {a.LogitAgreement:P2}, max |Δ| {a.MaxAbsLogitDifference}, engine accuracy {testSet.Accuracy:P2}");
        Assert.InRange(a.PredictionAgreement, 0.97, 1.0);
    }
}

/// <summary>The graph's own hygiene: ONNX Runtime warns about (and drops) an initializer no node reads, so an export
/// that carries one prints a warning at every session a user opens.</summary>
public sealed class OnnxGraphHygieneTests
{
    public static TheoryData<string, int, int, string, string, string, string, bool> Configurations()
    {
        var data = new TheoryData<string, int, int, string, string, string, string, bool>();
        foreach (var row in OnnxExportTests.ExactGrid())
            data.Add("exact", (int)row[0], (int)row[1], (string)row[2], (string)row[3], (string)row[4], (string)row[5], false);
        data.Add("exact", 8, 8, "half-even", "fixed-point:31", "int32", "channel", true);
        data.Add("exact", 16, 16, "half-away", "float", "int32", "tensor", true);
        foreach (bool unsigned in new[] { false, true })
        {
            data.Add("qdq", 8, 8, "half-even", "float", "none", "tensor", unsigned);
            data.Add("qdq", 8, 8, "half-even", "fixed-point:31", "int32", "channel", unsigned);
            data.Add("qdq", 4, 4, "half-even", "float", "float", "channel", unsigned);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Configurations))]
    public void Every_initializer_of_an_exported_graph_is_read_by_some_node(
        string style, int weightBits, int actBits, string rounding, string requant, string bias, string granularity, bool unsigned)
    {
        var config = ExportFixtures.Config(weightBits, actBits, rounding, requant, bias, granularity);
        if (unsigned) config = config with { ActSignedness = ActSignedness.UnsignedAfterRelu };
        var graph = OnnxExport.Build(ExportFixtures.Model(config), style == "qdq" ? OnnxStyle.Qdq : OnnxStyle.Exact).Graph;
        var read = graph.Node.SelectMany(n => n.Input).ToHashSet();
        var unread = graph.Initializer.Select(t => t.Name).Where(name => !read.Contains(name)).ToList();
        Assert.True(unread.Count == 0, $"initializers no node reads: {string.Join(", ", unread)}");
        Assert.True(graph.Initializer.Count > 0 && graph.Node.Count > 0, "the graph has nodes and initializers");
    }
}
