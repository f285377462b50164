using System.Text.Json;
using QuantLab.Engine.Export;
using QuantLab.Engine.Int;
using QuantLab.Engine.Model;
using QuantLab.Engine.Ptq;
using QuantLab.Engine.Quantization;

namespace QuantLab.Engine.Qat;

/// <summary>
/// A QAT-trained LeNet-5 on disk (<c>quantlab train --qat --out DIR</c>): the float32 parameter files of
/// an FP32 model directory (<c>conv1.weight.npy</c>, …) and a <c>model.json</c> of format
/// <c>quantlab.qat/1</c> holding the quantization configuration it was trained for and the learned
/// thresholds (weights: one per tensor or per output channel; activations: one per point), as
/// round-trip doubles. Weights and thresholds reload bit for bit, so <see cref="ToIntModel"/> gives the
/// same integer network after a save and load.
/// </summary>
public sealed class QatModel
{
    public const string Format = "quantlab.qat/1";

    public required QatManifest Manifest { get; init; }
    /// <summary>The trained float weights, as an FP32 model (same files, same names).</summary>
    public required Fp32Model Weights { get; init; }

    public QuantizationConfig Config => Manifest.Quantization.ToConfig();
    public bool HasBias => Manifest.Bias;

    /// <summary>
    /// The integer model (DESIGN.md §3) of these weights and learned thresholds, built by the PTQ builder
    /// with no calibration. <paramref name="requant"/> overrides the trained requantization (the seed's
    /// §3.1 converts one QAT model with M as a float and as a fixed-point number); the steps are the same.
    /// </summary>
    public IntModel ToIntModel(RequantSpec? requant = null)
    {
        var config = Config;
        if (requant is not null) config = (config with { Requant = requant }).Validate();
        return PtqBuilder.BuildInteger(Weights, Manifest.Thresholds.Weights, Manifest.Thresholds.Activations, config);
    }

    public void Save(string directory)
    {
        AtomicFile.WriteDirectory(directory, tmp =>
        {
            foreach (var (name, array) in Weights.Parameters)
                Npy.Write<float>(Path.Combine(tmp, name + ".npy"), array.Data, array.Shape);
            var manifest = Manifest with { Format = Format, Parameters = Weights.Parameters.Keys.Order().ToList() };
            File.WriteAllText(Path.Combine(tmp, Fp32Model.ManifestFile), JsonSerializer.Serialize(manifest, ManifestJson.Options));
        });
    }

    public static QatModel Load(string directory)
    {
        var format = Fp32Model.ReadFormat(directory);
        var manifestPath = Path.Combine(directory, Fp32Model.ManifestFile);
        if (format != Format)
            throw new BadInputException($"{manifestPath}: $.format is '{format}', expected '{Format}' (a model written by 'quantlab train --qat')");
        QatManifest manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<QatManifest>(File.ReadAllText(manifestPath), ManifestJson.Options)
                       ?? throw new BadInputException($"{manifestPath}: empty");
        }
        catch (JsonException e)
        {
            throw new BadInputException($"{manifestPath}: invalid JSON: {JsonErrors.Describe(e)}", e);
        }
        try
        {
            manifest.Quantization.ToConfig();
        }
        catch (BadInputException e)
        {
            throw new BadInputException($"{manifestPath}: $.quantization: {e.Message}", e);
        }
        CheckThresholds(manifest, manifestPath);
        var parameters = Fp32Model.ReadParameters(directory, manifest.Bias);
        var weights = new Fp32Model
        {
            Manifest = new ModelManifest { Bias = manifest.Bias, InputTransform = manifest.InputTransform, TestAccuracy = manifest.Fp32Accuracy },
            Parameters = parameters,
        };
        return new QatModel { Manifest = manifest, Weights = weights };
    }

    private static void CheckThresholds(QatManifest manifest, string path)
    {
        var config = manifest.Quantization.ToConfig();
        foreach (var spec in LeNet5Architecture.WeightLayers)
        {
            int outputs = Fp32Model.ExpectedShapes(false)[$"{spec.Name}.weight"][0];
            int expected = config.Granularity == Granularity.Channel ? outputs : 1;
            if (!manifest.Thresholds.Weights.TryGetValue(spec.Name, out var t) || t.Length != expected || t.Any(v => !(double.IsFinite(v) && v >= 0)))
                throw new BadInputException($"{path}: $.thresholds.weights.{spec.Name} must hold {expected} finite threshold(s) >= 0");
        }
        foreach (var point in ActivationPoints.All)
            if (!manifest.Thresholds.Activations.TryGetValue(point, out var t) || !(double.IsFinite(t) && t >= 0))
                throw new BadInputException($"{path}: $.thresholds.activations.{point} must be a finite threshold >= 0");
    }
}

/// <summary>The <c>model.json</c> of a QAT model directory.</summary>
public sealed record QatManifest
{
    public string Format { get; init; } = QatModel.Format;
    public string Architecture { get; init; } = LeNet5Architecture.Name;
    public string EngineVersion { get; init; } = EngineInfo.Version;
    public bool Bias { get; init; }
    public string InputTransform { get; init; } = "resize";
    /// <summary>The configuration the model was trained for (and converts to).</summary>
    public required QuantizationSettings Quantization { get; init; }
    public required LearnedThresholds Thresholds { get; init; }
    public required QatSchedule Qat { get; init; }
    public TrainingRecord? Training { get; init; }
    /// <summary>What training started from: the FP32 model directory (<c>--from</c>, full path) or, in a campaign, <c>job KEY</c> of its FP32 training; null from scratch.</summary>
    public string? From { get; init; }
    /// <summary>Test accuracy of the integer model (exact).</summary>
    public double? TestAccuracy { get; init; }
    /// <summary>Test accuracy of the trained float weights without quantization.</summary>
    public double? Fp32Accuracy { get; init; }
    public List<string> Parameters { get; init; } = [];
}

/// <summary>The thresholds T (s = 2T/(2^n − 1)): weights per layer (one, or one per output channel), activations per point.</summary>
public sealed record LearnedThresholds(Dictionary<string, double[]> Weights, Dictionary<string, double> Activations);

/// <summary>How the activation ranges were learned: EMA constant, the frozen fraction and the step it started at;
/// <see cref="Method"/> <c>lsq</c> where every step was trained instead (null: observe, the files written before it existed).</summary>
public sealed record QatSchedule(double EmaConstant, double FreezeFraction, long FreezeStep, long TotalSteps, string? Method = null);
