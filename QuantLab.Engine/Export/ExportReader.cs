using System.Text.Json;
using System.Text.Json.Nodes;
using QuantLab.Engine.Int;
using QuantLab.Engine.Quantization;

namespace QuantLab.Engine.Export;

/// <summary>Reads an export directory, checking every field against DESIGN.md §4 and the arrays
/// against the shapes the layers declare.</summary>
internal sealed class ExportReader(string directory)
{
    private readonly string _manifest = Path.Combine(directory, "model.json");

    public (IntModel, ExportedTestSet?, JsonObject) Read()
    {
        if (!Directory.Exists(directory)) throw new BadInputException($"{directory}: export directory not found");
        if (!File.Exists(_manifest)) throw new BadInputException($"{_manifest}: not found; is '{directory}' written by 'quantlab quantize --out'?");
        JsonObject root;
        try
        {
            // Duplicate keys refused while parsing: a JsonObject would throw an ArgumentException on first access instead.
            root = JsonNode.Parse(File.ReadAllText(_manifest), documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false }) as JsonObject
                   ?? throw Bad("$", "expected a JSON object");
        }
        catch (JsonException e)
        {
            throw new BadInputException($"{_manifest}: invalid JSON: {JsonErrors.Describe(e)}", e);
        }
        var format = String(root, "$", "format");
        if (format != IntExport.Format) throw Bad("$.format", $"is '{format}', expected '{IntExport.Format}'");
        var rounding = Parse("$.rounding", () => RoundingMode.Parse(String(root, "$", "rounding")));
        var input = Object(root, "$", "input");
        var shape = IntArray(input, "$.input", "shape");
        if (shape.Length != 3) throw Bad("$.input.shape", "must be [channels, height, width]");
        int inputBits = Bits(input, "$.input", "bits");
        double inputScale = PositiveDouble(input, "$.input", "scale");

        var ops = new List<IntOp>();
        var layers = root["layers"] as JsonArray ?? throw Bad("$.layers", "missing or not an array");
        int c = shape[0], h = shape[1], w = shape[2];
        bool flat = false;
        for (int i = 0; i < layers.Count; i++)
        {
            var path = $"$.layers[{i}]";
            var layer = layers[i] as JsonObject ?? throw Bad(path, "not an object");
            var name = String(layer, path, "name");
            var op = String(layer, path, "op");
            switch (op)
            {
                case "conv2d":
                {
                    int inC = Int(layer, path, "inChannels"), outC = Int(layer, path, "outChannels"), k = Int(layer, path, "kernel");
                    if (flat || inC != c) throw Bad($"{path}.inChannels", $"is {inC}, but the previous layer gives {c} channels");
                    if (Int(layer, path, "stride") != 1 || Int(layer, path, "padding") != 0) throw Bad(path, "only stride 1 and padding 0 are supported");
                    if (k < 1 || k > h || k > w) throw Bad($"{path}.kernel", $"{k} does not fit a {h}×{w} input");
                    ops.Add(Layer(layer, path, name, true, inC, outC, k));
                    (c, h, w) = (outC, h - k + 1, w - k + 1);
                    break;
                }
                case "linear":
                {
                    int inF = Int(layer, path, "inFeatures"), outF = Int(layer, path, "outFeatures");
                    if (!flat || inF != c) throw Bad($"{path}.inFeatures", $"is {inF}, but the previous layer gives {(flat ? c : c * h * w)} features{(flat ? "" : " (and no flatten came before)")}");
                    ops.Add(Layer(layer, path, name, false, inF, outF, 1));
                    c = outF;
                    break;
                }
                case "maxpool2d":
                {
                    int k = Int(layer, path, "kernel");
                    if (Int(layer, path, "stride") != k) throw Bad($"{path}.stride", "must equal the kernel");
                    if (flat || k < 1) throw Bad(path, "max-pool needs a feature map");
                    ops.Add(new IntMaxPool(name, k));
                    (h, w) = (h / k, w / k);
                    break;
                }
                case "flatten":
                    ops.Add(new IntFlatten(name));
                    (c, h, w, flat) = (c * h * w, 1, 1, true);
                    break;
                default:
                    throw Bad($"{path}.op", $"'{op}' is not one of conv2d, linear, maxpool2d, flatten");
            }
        }
        var model = new IntModel(rounding, inputBits, inputScale, ops) { InputShape = shape };
        return (model, ReadTestSet(model, c * h * w), root);
    }

    private IntLayer Layer(JsonObject o, string path, string name, bool isConv, int inC, int outC, int k)
    {
        int weightBits = Bits(o, path, "weightBits"), outputBits = Bits(o, path, "outputBits");
        var weightShape = isConv ? new[] { outC, inC, k, k } : new[] { outC, inC };
        var weightFile = ArrayFile(o, path, "weights", "weightsSha256");
        short[] weights = weightBits <= 8
            ? Array<sbyte>(weightFile, weightShape).Select(v => (short)v).ToArray()
            : Array<short>(weightFile, weightShape);
        int qmin = Quantizer.QMin(weightBits), qmax = Quantizer.QMax(weightBits);
        if (weights.Any(v => v < qmin || v > qmax)) throw new BadInputException($"{weightFile}: values outside the {weightBits}-bit range [{qmin}, {qmax}]");

        var weightScale = DoubleArray(o, path, "weightScale");
        if (weightScale.Length != 1 && weightScale.Length != outC) throw Bad($"{path}.weightScale", $"needs 1 or {outC} entries, has {weightScale.Length}");
        double inputScale = PositiveDouble(o, path, "inputScale"), outputScale = PositiveDouble(o, path, "outputScale");
        bool relu = o["relu"] is JsonValue r && r.TryGetValue<bool>(out var rv) ? rv : throw Bad($"{path}.relu", "must be true or false");
        // Absent in exports written before unsigned grids existed: those are signed.
        bool outputSigned = o["outputSigned"] is null || (o["outputSigned"] is JsonValue u && u.TryGetValue<bool>(out var uv) ? uv : throw Bad($"{path}.outputSigned", "must be true or false"));
        if (!outputSigned && !relu) throw Bad($"{path}.outputSigned", "is false, but only a ReLU output (relu true) may be unsigned");

        LayerBias bias = NoBias.Instance;
        if (o["bias"] is JsonObject b)
        {
            var mode = String(b, $"{path}.bias", "mode");
            var file = ArrayFile(b, $"{path}.bias", "file", "sha256");
            bias = mode switch
            {
                "int32" => new Int32Bias(Array<int>(file, [outC])),
                "float" => new FloatBias(Array<double>(file, [outC])),
                _ => throw Bad($"{path}.bias.mode", $"'{mode}' is not one of int32, float"),
            };
        }
        else if (o["bias"] is not null) throw Bad($"{path}.bias", "must be null or an object {mode, file}");

        var requant = Object(o, path, "requant");
        var requantPath = $"{path}.requant";
        var requantMode = String(requant, requantPath, "mode");
        LayerRequant layerRequant;
        if (requantMode == "float")
        {
            var multiplier = DoubleArray(requant, requantPath, "multiplier");
            if (multiplier.Length != outC) throw Bad($"{requantPath}.multiplier", $"needs {outC} entries, has {multiplier.Length}");
            layerRequant = new FloatRequant(multiplier);
        }
        else if (requantMode == "fixed-point")
        {
            int precision = Int(requant, requantPath, "precision");
            Parse($"{requantPath}.precision", () => RequantSpec.FixedPoint(precision));
            if (bias is FloatBias) throw Bad($"{path}.bias", "fixed-point requantization needs bias null or int32");
            var m0 = LongArray(requant, requantPath, "multiplier");
            var shift = IntArray(requant, requantPath, "shift");
            if (m0.Length != outC || shift.Length != outC) throw Bad(requantPath, $"multiplier and shift need {outC} entries each");
            layerRequant = new FixedPointRequant(precision, m0, shift);
        }
        else throw Bad($"{requantPath}.mode", $"'{requantMode}' is not one of float, fixed-point");

        return new IntLayer(name)
        {
            Shape = isConv ? new Conv2dShape(k) : LinearShape.Instance, InChannels = inC, OutChannels = outC, Weights = weights,
            WeightBits = weightBits, WeightScale = weightScale, InputScale = inputScale, OutputScale = outputScale,
            OutputBits = outputBits, Relu = relu, OutputSigned = outputSigned, Bias = bias, Requant = layerRequant,
        };
    }

    private ExportedTestSet? ReadTestSet(IntModel model, int classes)
    {
        var dir = Path.Combine(directory, "testset");
        if (!Directory.Exists(dir)) return null;
        var labels = Npy.Read<byte>(Path.Combine(dir, "labels.npy"));
        int n = labels.Data.Length;
        var inputShape = new[] { n }.Concat(model.InputShape).ToArray();
        var inputsPath = Path.Combine(dir, "inputs.npy");
        short[] inputs = model.InputBits <= 8
            ? Array<sbyte>(inputsPath, inputShape).Select(v => (short)v).ToArray()
            : Array<short>(inputsPath, inputShape);
        var logits = Array<int>(Path.Combine(dir, "logits.npy"), [n, classes]);
        return new ExportedTestSet(inputs, labels.Data, logits, classes);
    }

    /// <summary>
    /// The array file that <paramref name="key"/> names, checked before it is read: a plain path inside the
    /// export directory (not absolute, no way out through '..'), whose SHA-256 is the one model.json records
    /// under <paramref name="hashKey"/>, so a tampered array is refused even without testset/ to compare with.
    /// </summary>
    private string ArrayFile(JsonObject o, string path, string key, string hashKey)
    {
        var name = String(o, path, key);
        var root = Path.GetFullPath(directory);
        var file = Path.GetFullPath(Path.Combine(root, name));
        if (Path.IsPathRooted(name) || !file.StartsWith(root.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw Bad($"{path}.{key}", $"'{name}' is outside the export directory; array files must be inside it");
        if (o[hashKey] is null)
            throw Bad($"{path}.{hashKey}", $"is missing: model.json records every array's SHA-256 (an export written before it did: export it again)");
        var expected = String(o, path, hashKey);
        if (!File.Exists(file)) throw new BadInputException($"{file}: not found (named by {_manifest} at {path}.{key})");
        var actual = IntExport.FileSha256(file);
        if (!string.Equals(actual, expected, StringComparison.OrdinalIgnoreCase))
            throw new BadInputException($"{file}: SHA-256 {actual} differs from {expected} recorded in {_manifest} at {path}.{hashKey}; the export was changed after it was written");
        return file;
    }

    private static T[] Array<T>(string file, int[] shape) where T : unmanaged
    {
        var array = Npy.Read<T>(file);
        if (!array.Shape.SequenceEqual(shape))
            throw new BadInputException($"{file}: shape [{string.Join(",", array.Shape)}], expected [{string.Join(",", shape)}]");
        return array.Data;
    }

    private BadInputException Bad(string path, string problem) => new($"{_manifest}: {path} {problem}");

    private T Parse<T>(string path, Func<T> parse)
    {
        try { return parse(); }
        catch (BadInputException e) { throw Bad(path, e.Message); }
    }

    private JsonObject Object(JsonObject o, string path, string key) => o[key] as JsonObject ?? throw Bad($"{path}.{key}", "missing or not an object");

    private string String(JsonObject o, string path, string key) =>
        o[key] is JsonValue v && v.TryGetValue<string>(out var s) ? s : throw Bad($"{path}.{key}", "missing or not a string");

    private int Int(JsonObject o, string path, string key) =>
        o[key] is JsonValue v && v.TryGetValue<int>(out var i) ? i : throw Bad($"{path}.{key}", "missing or not an integer");

    private int Bits(JsonObject o, string path, string key)
    {
        int bits = Int(o, path, key);
        if (bits is < 2 or > 16) throw Bad($"{path}.{key}", $"is {bits}; allowed: 2 to 16");
        return bits;
    }

    private double PositiveDouble(JsonObject o, string path, string key)
    {
        double d = o[key] is JsonValue v && v.TryGetValue<double>(out var x) ? x : throw Bad($"{path}.{key}", "missing or not a number");
        if (!(d > 0) || double.IsInfinity(d)) throw Bad($"{path}.{key}", $"must be a positive number, is {d}");
        return d;
    }

    private double[] DoubleArray(JsonObject o, string path, string key) => Elements(o, path, key, (JsonValue v, out double d) => v.TryGetValue(out d));
    private long[] LongArray(JsonObject o, string path, string key) => Elements(o, path, key, (JsonValue v, out long d) => v.TryGetValue(out d));
    private int[] IntArray(JsonObject o, string path, string key) => Elements(o, path, key, (JsonValue v, out int d) => v.TryGetValue(out d));

    private delegate bool TryGet<T>(JsonValue value, out T result);

    private T[] Elements<T>(JsonObject o, string path, string key, TryGet<T> get)
    {
        var array = o[key] as JsonArray ?? throw Bad($"{path}.{key}", "missing or not an array");
        var result = new T[array.Count];
        for (int i = 0; i < array.Count; i++)
            if (array[i] is not JsonValue v || !get(v, out result[i])) throw Bad($"{path}.{key}[{i}]", $"is not a {typeof(T).Name.ToLowerInvariant()}");
        return result;
    }
}
