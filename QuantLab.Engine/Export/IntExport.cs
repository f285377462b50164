using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using QuantLab.Engine.Int;
using QuantLab.Engine.Quantization;

namespace QuantLab.Engine.Export;

/// <summary>The test set as the engine saw and scored it (the export's <c>testset/</c>).</summary>
public sealed record ExportedTestSet(short[] Inputs, byte[] Labels, int[] Logits, int Classes)
{
    public int Count => Labels.Length;
    public int[] Predictions => IntegerEngine.Predictions(Logits, Classes);
    public double Accuracy => Training.Evaluation.Accuracy(Predictions, Labels);
    public string PredictionsSha256 => IntExport.PredictionsHash(Predictions);
}

/// <summary>
/// The export format of DESIGN.md §4: <c>model.json</c> (format <c>quantlab.int/1</c>), one .npy per
/// weight and bias array, and <c>testset/</c> with the quantized inputs, labels, the engine's logits and
/// a summary. Everything needed to re-run the integer network from the design document alone.
/// </summary>
public static class IntExport
{
    public const string Format = "quantlab.int/1";

    public static string PredictionsHash(int[] predictions) =>
        Convert.ToHexStringLower(SHA256.HashData(predictions.Select(p => (byte)p).ToArray()));

    /// <summary>Writes the export to <paramref name="directory"/> through a temporary directory.</summary>
    public static void Write(string directory, IntModel model, ExportedTestSet? testSet, JsonObject? extra = null)
    {
        AtomicFile.WriteDirectory(directory, tmp =>
        {
            var layers = new JsonArray();
            int c = model.InputShape[0], h = model.InputShape[1], w = model.InputShape[2];
            foreach (var op in model.Ops)
            {
                switch (op)
                {
                    case IntLayer layer:
                        layers.Add(LayerJson(layer, tmp));
                        (c, h, w) = layer.OutputShape(c, h, w);
                        break;
                    case IntMaxPool pool:
                        layers.Add(new JsonObject { ["name"] = pool.Name, ["op"] = "maxpool2d", ["kernel"] = pool.Kernel, ["stride"] = pool.Kernel });
                        break;
                    case IntFlatten flatten:
                        layers.Add(new JsonObject { ["name"] = flatten.Name, ["op"] = "flatten" });
                        break;
                }
            }
            var json = new JsonObject
            {
                ["format"] = Format,
                ["engineVersion"] = EngineInfo.Version,
                ["rounding"] = model.Rounding.ToOption(),
                ["input"] = new JsonObject
                {
                    ["shape"] = new JsonArray(model.InputShape.Select(d => (JsonNode)d).ToArray()),
                    ["bits"] = model.InputBits,
                    ["scale"] = model.InputScale,
                },
                ["layers"] = layers,
            };
            if (extra is not null)
                foreach (var (key, value) in extra) json[key] = value?.DeepClone();
            File.WriteAllText(Path.Combine(tmp, "model.json"), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));

            if (testSet is null) return;
            var dir = Directory.CreateDirectory(Path.Combine(tmp, "testset")).FullName;
            var shape = new[] { testSet.Count }.Concat(model.InputShape).ToArray();
            if (model.InputBits <= 8) Npy.Write<sbyte>(Path.Combine(dir, "inputs.npy"), testSet.Inputs.Select(v => (sbyte)v).ToArray(), shape);
            else Npy.Write<short>(Path.Combine(dir, "inputs.npy"), testSet.Inputs, shape);
            Npy.Write<byte>(Path.Combine(dir, "labels.npy"), testSet.Labels, testSet.Count);
            Npy.Write<int>(Path.Combine(dir, "logits.npy"), testSet.Logits, testSet.Count, testSet.Classes);
            var summary = new JsonObject
            {
                ["accuracy"] = testSet.Accuracy,
                ["count"] = testSet.Count,
                ["predictionsSha256"] = testSet.PredictionsSha256,
            };
            File.WriteAllText(Path.Combine(dir, "summary.json"), summary.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        });
    }

    private static JsonObject LayerJson(IntLayer layer, string dir)
    {
        var weightFile = $"{layer.Name}.weight.npy";
        var weightShape = WeightShape(layer);
        if (layer.WeightBits <= 8) Npy.Write<sbyte>(Path.Combine(dir, weightFile), layer.Weights.Select(v => (sbyte)v).ToArray(), weightShape);
        else Npy.Write<short>(Path.Combine(dir, weightFile), layer.Weights, weightShape);

        var o = new JsonObject { ["name"] = layer.Name };
        if (layer.Shape is Conv2dShape conv)
        {
            o["op"] = "conv2d";
            o["inChannels"] = layer.InChannels;
            o["outChannels"] = layer.OutChannels;
            o["kernel"] = conv.Kernel;
            o["stride"] = 1;
            o["padding"] = 0;
        }
        else
        {
            o["op"] = "linear";
            o["inFeatures"] = layer.InChannels;
            o["outFeatures"] = layer.OutChannels;
        }
        o["weights"] = weightFile;
        o["weightsSha256"] = FileSha256(Path.Combine(dir, weightFile));
        o["weightBits"] = layer.WeightBits;
        o["weightScale"] = Array(layer.WeightScale);
        o["inputScale"] = layer.InputScale;
        o["outputScale"] = layer.OutputScale;
        o["outputBits"] = layer.OutputBits;
        o.WithOutputSigned(layer);
        o["relu"] = layer.Relu;
        var biasFile = $"{layer.Name}.bias.npy";
        switch (layer.Bias)
        {
            case Int32Bias bq:
                Npy.Write<int>(Path.Combine(dir, biasFile), bq.Quantized, layer.OutChannels);
                o["bias"] = new JsonObject { ["mode"] = "int32", ["file"] = biasFile, ["sha256"] = FileSha256(Path.Combine(dir, biasFile)) };
                break;
            case FloatBias bf:
                Npy.Write<double>(Path.Combine(dir, biasFile), bf.OverOutputStep, layer.OutChannels);
                o["bias"] = new JsonObject { ["mode"] = "float", ["file"] = biasFile, ["sha256"] = FileSha256(Path.Combine(dir, biasFile)) };
                break;
            default:
                o["bias"] = null;
                break;
        }
        o["requant"] = layer.Requant switch
        {
            FixedPointRequant f => new JsonObject
            {
                ["mode"] = "fixed-point",
                ["precision"] = f.Precision,
                ["multiplier"] = new JsonArray(f.M0.Select(v => (JsonNode)v).ToArray()),
                ["shift"] = new JsonArray(f.Shift.Select(v => (JsonNode)v).ToArray()),
            },
            FloatRequant f => new JsonObject { ["mode"] = "float", ["multiplier"] = Array(f.Multiplier) },
            _ => throw new InvalidOperationException(layer.Requant.GetType().Name),
        };
        return o;
    }

    /// <summary>[out, in, k, k] for a conv, [out, in] for a linear layer: the shape of the weight arrays in every format.</summary>
    public static int[] WeightShape(IntLayer layer) => layer.Shape is Conv2dShape conv
        ? [layer.OutChannels, layer.InChannels, conv.Kernel, conv.Kernel]
        : [layer.OutChannels, layer.InChannels];

    /// <summary>An array file's SHA-256 (lower-case hex), recorded in model.json and checked on every read.</summary>
    public static string FileSha256(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    /// <summary>Adds <c>outputSigned: false</c> for a layer whose output is on the unsigned grid, and where the hardware kit
    /// stores it wider, its <c>wordBits</c> (<see cref="HardwareKit.WordBits"/>). Nothing for a signed output (absent =
    /// signed), so every file describing a signed model stays byte-identical to its earlier form.</summary>
    internal static JsonObject WithOutputSigned(this JsonObject o, IntLayer layer, bool words = false)
    {
        if (layer.OutputSigned) return o;
        o["outputSigned"] = false;
        if (words) o["wordBits"] = HardwareKit.WordBits(layer);
        return o;
    }

    private static JsonArray Array(double[] values) => new(values.Select(v => (JsonNode)v).ToArray());

    /// <summary>Reads and checks an export directory. Any problem is a <see cref="BadInputException"/>
    /// naming the file and the JSON path.</summary>
    public static (IntModel Model, ExportedTestSet? TestSet, JsonObject Json) Read(string directory)
    {
        var reader = new ExportReader(directory);
        return reader.Read();
    }
}
