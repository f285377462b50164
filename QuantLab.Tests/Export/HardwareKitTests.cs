using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using QuantLab.Engine.Quantization;
using QuantLab.Engine.Export;
using QuantLab.Tests.Host;

namespace QuantLab.Tests.Export;

/// <summary>The hardware kit: its files, and its reference.c compiled with the system C compiler and run on the kit.</summary>
public sealed class HardwareKitTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ql-hw-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    internal static (int Code, string Out) Sh(string file, string args, string? workDir = null)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workDir ?? "" };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result + stderr);
    }

    /// <summary>Compiles the kit's reference.c (C99, no fused multiply-add) and runs it on the kit.</summary>
    internal static (int Code, string Out) RunReference(string kit)
    {
        var exe = Path.Combine(kit, "reference.bin");
        var cc = Sh("cc", $"-std=c99 -pedantic -Wall -Werror -O2 -ffp-contract=off -o {exe} {Path.Combine(kit, "reference.c")} -lm");
        Assert.True(cc.Code == 0, cc.Out);
        return Sh(exe, kit);
    }

    /// <summary>Every width 2..16 once, cycling the rounding modes, requantization (float and fixed-point at several
    /// precisions), bias modes and granularity (8 bits comes out as the seed's configuration: floor, float, no bias,
    /// per tensor).</summary>
    public static TheoryData<int, int, string, string, string, string> Grid()
    {
        string[] roundings = ["floor", "half-even", "half-away"];
        string[] requants = ["float", "fixed-point:31", "float", "fixed-point:16", "float", "fixed-point:8"];
        string[] biases = ["none", "int32", "float"];
        var data = new TheoryData<int, int, string, string, string, string>();
        for (int bits = 2; bits <= 16; bits++)
        {
            int i = bits - 2;
            var requant = requants[i % requants.Length];
            var bias = biases[(i / 2) % 3];
            if (requant != "float" && bias == "float") bias = "int32";
            data.Add(bits, bits, roundings[i % 3], requant, bias, i % 4 < 2 ? "channel" : "tensor");
        }
        data.Add(16, 16, "half-away", "fixed-point:31", "int32", "channel");
        data.Add(4, 12, "half-even", "float", "float", "channel");
        return data;
    }

    [Theory]
    [MemberData(nameof(Grid))]
    public void Reference_c_recomputes_every_golden_vector_of_the_kit(int weightBits, int actBits, string rounding, string requant, string bias, string granularity)
    {
        var (model, testSet) = ExportFixtures.Quantized(ExportFixtures.Config(weightBits, actBits, rounding, requant, bias, granularity), images: 16);
        var kit = Path.Combine(_dir, "kit");
        HardwareKit.Write(kit, model, testSet, vectors: 16);
        var r = RunReference(kit);
        Assert.True(r.Code == 0, r.Out);
        Assert.Contains("all 16 vectors match", r.Out);
    }

    [Theory]
    [InlineData(8, 8, "half-even", "float", "int32", "channel")]
    [InlineData(2, 2, "floor", "fixed-point:16", "none", "tensor")]
    [InlineData(16, 16, "half-away", "fixed-point:31", "int32", "channel")]
    public void Reference_c_recomputes_every_golden_vector_of_an_unsigned_after_relu_kit(int weightBits, int actBits, string rounding, string requant, string bias, string granularity)
    {
        var config = ExportFixtures.Config(weightBits, actBits, rounding, requant, bias, granularity) with { ActSignedness = ActSignedness.UnsignedAfterRelu };
        var (model, testSet) = ExportFixtures.Quantized(config, images: 16);
        var kit = Path.Combine(_dir, "kit");
        HardwareKit.Write(kit, model, testSet, vectors: 16);
        // ReLU outputs are unsigned n-bit values stored as (n+1)-bit words; the manifest says so.
        var conv1 = JsonNode.Parse(File.ReadAllText(Path.Combine(kit, "manifest.json")))!["layers"]![0]!;
        Assert.False(conv1["outputSigned"]!.GetValue<bool>());
        Assert.Equal(actBits + 1, conv1["wordBits"]!.GetValue<int>());
        Assert.Equal((1L << actBits) - 1, conv1["clamp"]![1]!.GetValue<long>());
        var r = RunReference(kit);
        Assert.True(r.Code == 0, r.Out);
        Assert.Contains("all 16 vectors match", r.Out);
    }

    [Fact]
    public void The_kit_cli_writes_hex_and_a_manifest_and_a_tampered_kit_fails_at_the_first_difference()
    {
        var (model, testSet) = ExportFixtures.Quantized(ExportFixtures.Config(8, 8, "floor", "fixed-point:31", "int32", "channel"), images: 50);
        var npy = Path.Combine(_dir, "npy");
        IntExport.Write(npy, model, testSet);
        var kit = Path.Combine(_dir, "kit");
        var e = CliRunner.Run("export", "--model", npy, "--format", "hw", "--vectors", "5", "--out", kit, "--json");
        Assert.True(e.ExitCode == 0, e.ToString());

        var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(kit, "manifest.json"))).RootElement;
        Assert.Equal("quantlab.hw/1", manifest.GetProperty("format").GetString());
        Assert.Equal(5, manifest.GetProperty("vectors").GetInt32());
        var conv1 = manifest.GetProperty("layers")[0];
        Assert.Equal("[out][in][ky][kx], row-major", conv1.GetProperty("files").GetProperty("weights").GetProperty("order").GetString());
        var weights = File.ReadAllLines(Path.Combine(kit, conv1.GetProperty("files").GetProperty("weights").GetProperty("hex").GetString()!));
        Assert.Equal(model.Layers.First().Weights.Length, weights.Length);
        Assert.All(weights, line => Assert.Matches("^[0-9a-f]{2}$", line));
        Assert.Equal(model.Layers.First().Weights[0], (sbyte)Convert.ToByte(weights[0], 16));
        Assert.Equal(5 * 1024, File.ReadAllLines(Path.Combine(kit, "vectors", "input.hex")).Length);
        Assert.True(File.Exists(Path.Combine(kit, "params", "conv1.weight.npy")) || Directory.GetFiles(Path.Combine(kit, "params"), "*.weight.npy").Length == 4);

        Assert.Equal(0, RunReference(kit).Code);
        // Flip one bit of one weight of the second layer: reference.c names the layer, image, index, expected and actual.
        var second = manifest.GetProperty("layers").EnumerateArray().Where(l => l.TryGetProperty("files", out _)).Skip(1).First();
        var path = Path.Combine(kit, second.GetProperty("files").GetProperty("weights").GetProperty("hex").GetString()!);
        var lines = File.ReadAllLines(path);
        lines[3] = (Convert.ToByte(lines[3], 16) ^ 0x10).ToString("x2");
        File.WriteAllLines(path, lines);
        var t = RunReference(kit);
        Assert.Equal(1, t.Code);
        Assert.Matches($@"MISMATCH layer {second.GetProperty("name").GetString()} acc image 0 index \d+: expected -?\d+, actual -?\d+", t.Out);

        Assert.Equal(2, CliRunner.Run("export", "--model", npy, "--format", "hw", "--vectors", "0", "--out", Path.Combine(_dir, "bad")).ExitCode);
        Assert.False(Directory.Exists(Path.Combine(_dir, "bad")));
    }
}

/// <summary>The kit's Verilog testbenches under Icarus Verilog (fixed-point models).</summary>
public sealed class VerilogKitTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ql-v-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    [Theory]
    [InlineData(8, 8, "floor", "fixed-point:31", "none", "tensor")]         // the seed's 8-bit setting with fixed-point M
    [InlineData(4, 4, "half-even", "fixed-point:16", "int32", "channel")]
    [InlineData(12, 12, "half-away", "fixed-point:31", "int32", "channel")]
    [InlineData(8, 8, "half-even", "fixed-point:31", "int32", "channel", true)]   // unsigned-after-relu: 9-bit words, clamp 0..255
    public void Every_conv_and_linear_testbench_passes_under_Icarus_Verilog(int weightBits, int actBits, string rounding, string requant, string bias, string granularity,
        bool unsigned = false)
    {
        var config = ExportFixtures.Config(weightBits, actBits, rounding, requant, bias, granularity) with
        {
            ActSignedness = unsigned ? ActSignedness.UnsignedAfterRelu : ActSignedness.Signed,
        };
        var (model, testSet) = ExportFixtures.Quantized(config, images: 2);
        var kit = Path.Combine(_dir, "kit");
        HardwareKit.Write(kit, model, testSet, vectors: 2);
        var r = HardwareKitTests.Sh("sh", Path.Combine(kit, "verilog", "run.sh"));
        Assert.True(r.Code == 0, r.Out);
        foreach (var layer in model.Layers) Assert.Contains($"PASS {layer.Name} (", r.Out);
        Assert.DoesNotContain("FAIL", r.Out);

        // A wrong multiplier is caught at the layer it belongs to.
        var first = model.Layers.First().Name;
        var m0 = Path.Combine(kit, "params", $"{first}.M0.hex");
        var lines = File.ReadAllLines(m0);
        lines[0] = (Convert.ToUInt32(lines[0], 16) / 2).ToString("x8");
        File.WriteAllLines(m0, lines);
        var t = HardwareKitTests.Sh("sh", Path.Combine(kit, "verilog", "run.sh"));
        Assert.Equal(1, t.Code);
        Assert.Matches($@"FAIL {first} out image \d+ index \d+: expected -?\d+, actual -?\d+", t.Out);
    }

    [Fact]
    public void A_float_requantized_kit_says_why_it_has_no_verilog()
    {
        var (model, testSet) = ExportFixtures.Quantized(ExportFixtures.Config(8, 8, "floor", "float", "none", "tensor"), images: 2);
        var kit = Path.Combine(_dir, "float");
        HardwareKit.Write(kit, model, testSet, vectors: 2);
        Assert.False(Directory.Exists(Path.Combine(kit, "verilog")));
        var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(kit, "manifest.json"))).RootElement;
        Assert.False(manifest.GetProperty("verilog").GetProperty("generated").GetBoolean());
        Assert.Contains("float requantization", manifest.GetProperty("verilog").GetProperty("reason").GetString());
    }
}
