using System.Text.Json.Nodes;
using QuantLab.Engine;
using QuantLab.Engine.Export;
using QuantLab.Engine.Int;
using QuantLab.Engine.Ptq;
using QuantLab.Engine.Quantization;
using QuantLab.Tests.Host;

namespace QuantLab.Tests.Engine;

public sealed class ExportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ql-export-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    private static (IntModel Model, ExportedTestSet TestSet) Quantized(QuantizationConfig config, int images = 200)
    {
        var model = SharedModels.QuickBias;
        var intModel = PtqBuilder.BuildInteger(model, Calibrator.Calibrate(model, Calibrator.Sample(SharedMnist.Train, 200), config), config);
        var test = SharedMnist.TestSubset(images);
        var inputs = QuantizeJob.QuantizeInputs(intModel, test);
        return (intModel, new ExportedTestSet(inputs, test.Labels, IntegerEngine.Run(intModel, inputs), 10));
    }

    [Theory]
    [InlineData(8, "float", "float", "tensor")]
    [InlineData(8, "fixed-point:31", "int32", "channel")]
    [InlineData(12, "float", "int32", "channel")]
    public void An_export_reads_back_to_a_model_with_the_same_logits(int bits, string requant, string bias, string granularity)
    {
        var config = QuantizationConfig.Default with
        {
            WeightBits = bits, ActBits = bits, Requant = RequantSpec.Parse(requant), Bias = BiasMode.Parse(bias), Granularity = Granularity.Parse(granularity),
        };
        var (model, testSet) = Quantized(config);
        var dir = Path.Combine(_dir, "e");
        IntExport.Write(dir, model, testSet);

        var (back, recorded, json) = IntExport.Read(dir);
        Assert.Equal("quantlab.int/1", json["format"]!.GetValue<string>());
        Assert.NotNull(recorded);
        Assert.Equal(testSet.Inputs, recorded!.Inputs);
        Assert.Equal(testSet.Logits, recorded.Logits);
        Assert.Equal(testSet.Logits, IntegerEngine.Run(back, recorded.Inputs));
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "testset", "summary.json")))!;
        Assert.Equal(testSet.PredictionsSha256, summary["predictionsSha256"]!.GetValue<string>());
        Assert.Equal(200, summary["count"]!.GetValue<int>());
    }

    [Theory]
    [InlineData(4, "float")]
    [InlineData(8, "fixed-point:31")]
    [InlineData(16, "float")]
    public void An_unsigned_after_relu_export_marks_its_relu_outputs_and_reads_back_to_the_same_logits(int bits, string requant)
    {
        var config = QuantizationConfig.Default with
        {
            WeightBits = bits, ActBits = bits, Requant = RequantSpec.Parse(requant), Bias = BiasMode.Int32, Granularity = Granularity.Channel,
            Rounding = RoundingMode.HalfEven, ActSignedness = ActSignedness.UnsignedAfterRelu,
        };
        var (model, testSet) = Quantized(config);
        var dir = Path.Combine(_dir, "u");
        IntExport.Write(dir, model, testSet);
        var layers = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "model.json")))!["layers"]!.AsArray()
            .Where(l => l!["op"]!.GetValue<string>() is "conv2d" or "linear").ToList();
        // Every ReLU output is marked unsigned; the logits layer carries no flag (absent = signed).
        Assert.All(layers.Where(l => l!["relu"]!.GetValue<bool>()), l => Assert.False(l!["outputSigned"]!.GetValue<bool>()));
        Assert.Null(layers.Single(l => !l!["relu"]!.GetValue<bool>())!["outputSigned"]);

        var (back, recorded, _) = IntExport.Read(dir);
        Assert.Equal(model.Layers.Select(l => l.OutputSigned), back.Layers.Select(l => l.OutputSigned));
        Assert.Equal(testSet.Logits, IntegerEngine.Run(back, recorded!.Inputs));
    }

    [Fact]
    public void A_signed_export_has_no_signedness_flag_so_it_is_byte_identical_to_one_written_before_the_option()
    {
        var (model, testSet) = Quantized(QuantizationConfig.Default with { Bias = BiasMode.Int32 });
        var dir = Path.Combine(_dir, "s");
        IntExport.Write(dir, model, testSet);
        Assert.DoesNotContain("outputSigned", File.ReadAllText(Path.Combine(dir, "model.json")));
        Assert.All(IntExport.Read(dir).Model.Layers, l => Assert.True(l.OutputSigned));
    }

    [Fact]
    public void The_files_follow_the_design_layout_and_types()
    {
        var (model, testSet) = Quantized(QuantizationConfig.Default with { Bias = BiasMode.Int32 });
        var dir = Path.Combine(_dir, "e");
        IntExport.Write(dir, model, testSet);
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "model.json")))!;
        var layers = json["layers"]!.AsArray();
        Assert.Equal(new[] { "conv2d", "maxpool2d", "conv2d", "maxpool2d", "conv2d", "flatten", "linear", "linear" },
            layers.Select(l => l!["op"]!.GetValue<string>()));
        Assert.Equal("int32", layers[0]!["bias"]!["mode"]!.GetValue<string>());
        Assert.Equal(new[] { 6, 1, 5, 5 }, Npy.Read<sbyte>(Path.Combine(dir, "conv1.weight.npy")).Shape);
        Assert.Equal(new[] { 6 }, Npy.Read<int>(Path.Combine(dir, "conv1.bias.npy")).Shape);
        Assert.Equal(new[] { 200, 1, 32, 32 }, Npy.Read<sbyte>(Path.Combine(dir, "testset", "inputs.npy")).Shape);
        Assert.Equal(new[] { 200, 10 }, Npy.Read<int>(Path.Combine(dir, "testset", "logits.npy")).Shape);
        Assert.Equal(new[] { 200 }, Npy.Read<byte>(Path.Combine(dir, "testset", "labels.npy")).Shape);
        Assert.Equal("floor", json["rounding"]!.GetValue<string>());
        Assert.Equal(model.InputScale, json["input"]!["scale"]!.GetValue<double>());
    }

    [Fact]
    public void A_corrupt_or_partial_export_is_refused_naming_the_problem()
    {
        var (model, testSet) = Quantized(QuantizationConfig.Default);
        var dir = Path.Combine(_dir, "e");
        IntExport.Write(dir, model, testSet);
        var manifest = Path.Combine(dir, "model.json");
        var original = File.ReadAllText(manifest);

        File.WriteAllText(manifest, original.Replace("quantlab.int/1", "quantlab.int/9"));
        Assert.Contains("$.format", Assert.Throws<BadInputException>(() => IntExport.Read(dir)).Message);

        File.WriteAllText(manifest, original.Replace("\"weightBits\": 8", "\"weightBits\": 17"));
        Assert.Contains("allowed: 2 to 16", Assert.Throws<BadInputException>(() => IntExport.Read(dir)).Message);

        File.WriteAllText(manifest, original.Replace("\"weightBits\": 8", "\"weightBits\": 1"));
        var oneBit = Assert.Throws<BadInputException>(() => IntExport.Read(dir)).Message;
        Assert.Contains("$.layers[0].weightBits is 1; allowed: 2 to 16", oneBit);

        // Only a ReLU output may be unsigned: the logits layer (relu false) with outputSigned false is refused.
        var json = JsonNode.Parse(original)!;
        json["layers"]![7]!["outputSigned"] = false;
        File.WriteAllText(manifest, json.ToJsonString());
        Assert.Contains("$.layers[7].outputSigned", Assert.Throws<BadInputException>(() => IntExport.Read(dir)).Message);

        File.WriteAllText(manifest, original[..(original.Length / 2)]);
        Assert.Contains("invalid JSON", Assert.Throws<BadInputException>(() => IntExport.Read(dir)).Message);

        File.WriteAllText(manifest, original);
        File.Delete(Path.Combine(dir, "fc6.weight.npy"));
        Assert.Contains("fc6.weight.npy", Assert.Throws<BadInputException>(() => IntExport.Read(dir)).Message);

        Assert.Contains("not found", Assert.Throws<BadInputException>(() => IntExport.Read(Path.Combine(_dir, "nothing"))).Message);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]   // testset/ removed: nothing to compare the logits with, only the recorded hashes
    public void A_tampered_array_or_an_array_path_outside_the_export_is_refused_by_infer(bool withTestSet)
    {
        var (model, testSet) = Quantized(QuantizationConfig.Default with { Bias = BiasMode.Int32 });
        var dir = Path.Combine(_dir, "e");
        IntExport.Write(dir, model, testSet);
        if (!withTestSet) Directory.Delete(Path.Combine(dir, "testset"), true);
        var manifest = Path.Combine(dir, "model.json");
        var original = File.ReadAllText(manifest);
        var weights = Path.Combine(dir, "conv3.weight.npy");
        var bytes = File.ReadAllBytes(weights);

        void Refused(string expected, string name)
        {
            Assert.Contains(expected, Assert.Throws<BadInputException>(() => IntExport.Read(dir)).Message);
            var r = CliRunner.Run("infer", "--model", dir);
            Assert.True(r.ExitCode == 2, r.ToString());
            Assert.Contains(expected, r.Err);
            Assert.Contains(name, r.Err);
        }

        var tampered = (byte[])bytes.Clone();
        tampered[^1] ^= 1;   // one weight changed by one: a valid array, a different model
        File.WriteAllBytes(weights, tampered);
        Refused("differs from", "conv3.weight.npy");
        File.WriteAllBytes(weights, bytes);

        var outside = Path.Combine(_dir, "outside.npy");
        File.WriteAllBytes(outside, bytes);
        File.WriteAllText(manifest, original.Replace("\"conv3.weight.npy\"", "\"../outside.npy\""));
        Refused("outside the export directory", "../outside.npy");
        File.WriteAllText(manifest, original.Replace("\"conv3.weight.npy\"", $"\"{outside}\""));
        Refused("outside the export directory", outside);
        File.WriteAllText(manifest, original.Replace("\"conv1.bias.npy\"", "\"testset/../../e/conv1.bias.npy\""));
        Assert.NotNull(IntExport.Read(dir).Model);   // a '..' that stays inside is only a spelling

        var bias = JsonNode.Parse(original)!;
        bias["layers"]![0]!["bias"]!.AsObject().Remove("sha256");
        File.WriteAllText(manifest, bias.ToJsonString());
        Refused("$.layers[0].bias.sha256 is missing", "model.json");
    }

    [Fact]
    public void A_failed_write_leaves_no_half_written_directory()
    {
        var (model, testSet) = Quantized(QuantizationConfig.Default);
        var broken = testSet with { Logits = new int[7] }; // shape mismatch: fails while writing testset/
        var dir = Path.Combine(_dir, "e");
        Assert.ThrowsAny<Exception>(() => IntExport.Write(dir, model, broken));
        Assert.False(Directory.Exists(dir));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir));
    }
}
