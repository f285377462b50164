using System.Text.Json;
using QuantLab.Actors.Storage;
using QuantLab.Engine;
using QuantLab.Engine.Calibration;
using QuantLab.Engine.Model;
using QuantLab.Engine.Qat;
using QuantLab.Engine.Ptq;

namespace QuantLab.Actors.Workers;

/// <summary>
/// How engine objects become content-addressed artifacts and back. A model is its model directory
/// (the files <c>quantlab train --out</c> writes), one blob per file, named <c>model/&lt;file&gt;</c>; the
/// ranges of a calibration are one JSON blob, <c>ranges.json</c>. Messages carry only these names and hashes.
/// </summary>
public static class EngineArtifacts
{
    public const string ModelPrefix = "model/";
    public const string Ranges = "ranges.json";
    /// <summary>An FP32 training's predictions on its test images (int32 little-endian), so evaluations need not run the FP32 model again.</summary>
    public const string Predictions = "fp32-predictions.bin";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static IReadOnlyDictionary<string, string> PutModel(Fp32Model model, IArtifactStore store, int[]? testPredictions = null)
    {
        var artifacts = new Dictionary<string, string>(PutDirectory(model.Save, store), StringComparer.Ordinal);
        if (testPredictions is not null)
        {
            var bytes = new byte[testPredictions.Length * sizeof(int)];
            for (int i = 0; i < testPredictions.Length; i++)
                System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(i * sizeof(int)), testPredictions[i]);
            artifacts[Predictions] = store.Put(bytes);
        }
        return artifacts;
    }

    /// <summary>The FP32 predictions a training stored, or null (older trainings, or none stored).</summary>
    public static int[]? GetPredictions(IReadOnlyDictionary<string, string> artifacts, IArtifactStore store)
    {
        if (!artifacts.TryGetValue(Predictions, out var hash)) return null;
        var bytes = store.Get(hash);
        var predictions = new int[bytes.Length / sizeof(int)];
        for (int i = 0; i < predictions.Length; i++)
            predictions[i] = System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(i * sizeof(int)));
        return predictions;
    }

    /// <summary>A QAT model directory (quantlab.qat/1), stored file by file like an FP32 model.</summary>
    public static IReadOnlyDictionary<string, string> PutQatModel(QatModel model, IArtifactStore store) => PutDirectory(model.Save, store);

    private static IReadOnlyDictionary<string, string> PutDirectory(Action<string> save, IArtifactStore store)
    {
        var dir = Scratch();
        try
        {
            save(dir);
            return Directory.GetFiles(dir).Order(StringComparer.Ordinal)
                .ToDictionary(f => ModelPrefix + Path.GetFileName(f), f => store.Put(File.ReadAllBytes(f)), StringComparer.Ordinal);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    /// <summary>The model of these artifacts; the same object for every job in this process that asks for the same files (<see cref="RecentModels"/>).</summary>
    public static Fp32Model GetModel(IReadOnlyDictionary<string, string> artifacts, IArtifactStore store) =>
        RecentModels.GetOrLoad(ModelFiles(artifacts), () => GetDirectory(artifacts, store, Fp32Model.Load));

    private static Dictionary<string, string> ModelFiles(IReadOnlyDictionary<string, string> artifacts) =>
        artifacts.Where(a => a.Key.StartsWith(ModelPrefix, StringComparison.Ordinal)).ToDictionary(StringComparer.Ordinal);

    public static QatModel GetQatModel(IReadOnlyDictionary<string, string> artifacts, IArtifactStore store) => GetDirectory(artifacts, store, QatModel.Load);

    private static T GetDirectory<T>(IReadOnlyDictionary<string, string> artifacts, IArtifactStore store, Func<string, T> load)
    {
        var files = ModelFiles(artifacts);
        if (files.Count == 0) throw new InfrastructureException("the upstream job produced no model artifacts");
        var dir = Scratch();
        try
        {
            Directory.CreateDirectory(dir);
            foreach (var (name, hash) in files)
            {
                var file = Path.GetFileName(name[ModelPrefix.Length..]);
                File.WriteAllBytes(Path.Combine(dir, file), store.Get(hash));
            }
            return load(dir);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    public static string PutRanges(CalibrationResult ranges, IArtifactStore store) =>
        store.Put(JsonSerializer.SerializeToUtf8Bytes(RangesDocument.From(ranges), Json));

    public static CalibrationResult GetRanges(IReadOnlyDictionary<string, string> artifacts, IArtifactStore store)
    {
        if (!artifacts.TryGetValue(Ranges, out var hash)) throw new InfrastructureException("the upstream calibrate job produced no ranges");
        var doc = JsonSerializer.Deserialize<RangesDocument>(store.Get(hash), Json)
                  ?? throw new InfrastructureException($"artifact {hash}: empty ranges document");
        return doc.ToResult();
    }

    private static string Scratch() => Path.Combine(Path.GetTempPath(), "quantlab-artifacts-" + Guid.NewGuid().ToString("N"));

    /// <summary>The ranges as JSON: [min, max] pairs, per layer (one pair, or one per output channel) and per activation point.</summary>
    private sealed record RangesDocument(
        SortedDictionary<string, double[][]> Weights, SortedDictionary<string, double[]> Activations, int CalibrationImages)
    {
        public static RangesDocument From(CalibrationResult r) => new(
            new SortedDictionary<string, double[][]>(r.Weights.ToDictionary(kv => kv.Key, kv => kv.Value.Select(x => new[] { x.Min, x.Max }).ToArray()), StringComparer.Ordinal),
            new SortedDictionary<string, double[]>(r.Activations.ToDictionary(kv => kv.Key, kv => new[] { kv.Value.Min, kv.Value.Max }), StringComparer.Ordinal),
            r.CalibrationImages);

        public CalibrationResult ToResult() => new(
            Weights.ToDictionary(kv => kv.Key, kv => kv.Value.Select(p => new ObservedRange(p[0], p[1])).ToArray()),
            Activations.ToDictionary(kv => kv.Key, kv => new ObservedRange(kv.Value[0], kv.Value[1])),
            CalibrationImages);
    }
}
