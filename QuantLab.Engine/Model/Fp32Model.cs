using System.Text.Json;
using System.Text.Json.Serialization;
using QuantLab.Engine.Export;
using TorchSharp;
using static TorchSharp.torch;

namespace QuantLab.Engine.Model;

/// <summary>
/// A trained FP32 LeNet-5 on disk (the output of <c>quantlab train --out DIR</c>): <c>model.json</c>
/// describing it, and one float32 .npy file per parameter (<c>conv1.weight.npy</c>, …), which reload
/// bit for bit. The layout is documented in README.md ("Model directory").
/// </summary>
public sealed class Fp32Model
{
    public const string Format = "quantlab.fp32/1";
    public const string ManifestFile = "model.json";

    public required ModelManifest Manifest { get; init; }
    /// <summary>Parameter name → (shape, values in C order).</summary>
    public required IReadOnlyDictionary<string, NpyArray<float>> Parameters { get; init; }

    public bool HasBias => Manifest.Bias;

    public static Fp32Model FromModule(LeNet5 module, ModelManifest manifest)
    {
        var parameters = new Dictionary<string, NpyArray<float>>();
        foreach (var (name, p) in module.named_parameters())
        {
            using var cpu = p.detach().cpu().contiguous();
            parameters[name] = new NpyArray<float>(cpu.shape.Select(d => (int)d).ToArray(), cpu.data<float>().ToArray());
        }
        return new Fp32Model { Manifest = manifest with { Bias = module.HasBias }, Parameters = parameters };
    }

    /// <summary>A new module holding exactly these weights.</summary>
    public LeNet5 ToModule()
    {
        // Construction draws throwaway initial weights from torch's process-wide generator; no training depends
        // on that generator (LeNet5.Seeded), and every weight is overwritten below.
        var module = new LeNet5(HasBias);
        using (no_grad())
        {
            foreach (var (name, p) in module.named_parameters())
            {
                var array = Parameters[name];
                using var source = tensor(array.Data, array.Shape.Select(d => (long)d).ToArray());
                p.copy_(source);
            }
        }
        return module;
    }

    public void Save(string directory)
    {
        AtomicFile.WriteDirectory(directory, tmp =>
        {
            foreach (var (name, array) in Parameters)
                Npy.Write<float>(Path.Combine(tmp, name + ".npy"), array.Data, array.Shape);
            var manifest = Manifest with { Format = Format, Parameters = Parameters.Keys.Order().ToList() };
            File.WriteAllText(Path.Combine(tmp, ManifestFile), JsonSerializer.Serialize(manifest, ManifestJson.Options));
        });
    }

    public static Fp32Model Load(string directory)
    {
        var manifestPath = Path.Combine(directory, ManifestFile);
        if (!Directory.Exists(directory)) throw new BadInputException($"{directory}: model directory not found");
        if (!File.Exists(manifestPath)) throw new BadInputException($"{manifestPath}: not found; is '{directory}' a directory written by 'quantlab train --out'?");
        ModelManifest manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<ModelManifest>(File.ReadAllText(manifestPath), ManifestJson.Options)
                       ?? throw new BadInputException($"{manifestPath}: empty");
        }
        catch (JsonException e)
        {
            throw new BadInputException($"{manifestPath}: invalid JSON: {JsonErrors.Describe(e)}", e);
        }
        if (manifest.Format != Format)
            throw new BadInputException($"{manifestPath}: $.format is '{manifest.Format}', expected '{Format}'");

        return new Fp32Model { Manifest = manifest, Parameters = ReadParameters(directory, manifest.Bias) };
    }

    /// <summary>The parameter files of a model directory (FP32 or QAT), each checked against LeNet-5's shape.</summary>
    internal static Dictionary<string, NpyArray<float>> ReadParameters(string directory, bool bias)
    {
        var parameters = new Dictionary<string, NpyArray<float>>();
        foreach (var (name, shape) in ExpectedShapes(bias))
        {
            var array = Npy.Read<float>(Path.Combine(directory, name + ".npy"));
            if (!array.Shape.SequenceEqual(shape))
                throw new BadInputException($"{Path.Combine(directory, name + ".npy")}: shape [{string.Join(",", array.Shape)}] does not match LeNet-5's [{string.Join(",", shape)}]");
            parameters[name] = array;
        }
        return parameters;
    }

    /// <summary>The <c>format</c> of a model directory's model.json (<c>quantlab.fp32/1</c>, <c>quantlab.qat/1</c>, …),
    /// read leniently so a caller can say which kind of directory it was given; a missing directory or
    /// manifest, or one without a format, is a <see cref="BadInputException"/>.</summary>
    public static string ReadFormat(string directory)
    {
        var manifestPath = Path.Combine(directory, ManifestFile);
        if (!Directory.Exists(directory)) throw new BadInputException($"{directory}: model directory not found");
        if (!File.Exists(manifestPath)) throw new BadInputException($"{manifestPath}: not found; is '{directory}' a directory written by 'quantlab train --out'?");
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllText(manifestPath));
            if (document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("format", out var format) && format.ValueKind == JsonValueKind.String)
                return format.GetString()!;
            throw new BadInputException($"{manifestPath}: $.format is missing");
        }
        catch (JsonException e)
        {
            throw new BadInputException($"{manifestPath}: invalid JSON: {JsonErrors.Describe(e)}", e);
        }
    }

    /// <summary>Parameter name → shape, as LeNet-5 (with or without bias) has them.</summary>
    public static IReadOnlyDictionary<string, int[]> ExpectedShapes(bool bias)
    {
        var shapes = new Dictionary<string, int[]>();
        foreach (var layer in LeNet5Architecture.WeightLayers)
        {
            var (weight, outputs) = layer switch
            {
                ConvSpec c => (new[] { c.OutChannels, c.InChannels, c.Kernel, c.Kernel }, c.OutChannels),
                LinearSpec l => (new[] { l.OutFeatures, l.InFeatures }, l.OutFeatures),
                _ => throw new InvalidOperationException(),
            };
            shapes[$"{layer.Name}.weight"] = weight;
            if (bias) shapes[$"{layer.Name}.bias"] = [outputs];
        }
        return shapes;
    }

    /// <summary>Weight tensor of layer <paramref name="layer"/> and its bias (null without bias).</summary>
    public (NpyArray<float> Weight, NpyArray<float>? Bias) Layer(string layer) =>
        (Parameters[$"{layer}.weight"], Parameters.GetValueOrDefault($"{layer}.bias"));
}

/// <summary>The <c>model.json</c> of an FP32 model directory.</summary>
public sealed record ModelManifest
{
    public string Format { get; init; } = Fp32Model.Format;
    public string Architecture { get; init; } = LeNet5Architecture.Name;
    public string EngineVersion { get; init; } = EngineInfo.Version;
    public bool Bias { get; init; }
    /// <summary>How 28×28 MNIST becomes the 32×32 input: <c>resize</c> or <c>pad</c>.</summary>
    public string InputTransform { get; init; } = "resize";
    public TrainingRecord? Training { get; init; }
    public double? TestAccuracy { get; init; }
    public List<string> Parameters { get; init; } = [];
}

/// <summary>How a model was trained: enough to train it again.</summary>
public sealed record TrainingRecord(int Epochs, int BatchSize, double Lr, double Momentum, int Seed, int? TrainLimit, int Threads, double Seconds);

internal static class ManifestJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };
}
