using Google.Protobuf;
using QuantLab.Engine.Export;

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
        data.Add(4, 4, "floor", "float", "int32", "channel");
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
}
