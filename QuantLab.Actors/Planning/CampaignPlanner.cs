using System.Globalization;
using System.Text.Json.Nodes;
using QuantLab.Actors.Campaigns;
using QuantLab.Engine;
using QV = QuantLab.Actors.Campaigns.QuantizationValues;

namespace QuantLab.Actors.Planning;

/// <summary>
/// Expands a campaign spec into its job graph: every training combination is a <c>train</c> job; every
/// (PTQ model, quantization combination) is a <c>calibrate</c> job (ranges) and an <c>evaluate</c> job;
/// a QAT training is followed by one <c>evaluate</c> of its own quantization. Parameters that a
/// combination does not use are left out of its canonical parameters, so combinations that only differ
/// there share one key and run once.
/// </summary>
public static class CampaignPlanner
{
    public static CampaignPlan Plan(CampaignSpec spec, string datasetFingerprint, string? engineVersion = null)
    {
        var engine = engineVersion ?? EngineInfo.Version;
        var builder = new GraphBuilder(datasetFingerprint, engine);
        var dropped = new List<DroppedCombination>();

        // Training variants, in spec order, and the evaluate candidates they lead to.
        var variants = new List<TrainVariant>();
        var candidates = new List<Candidate>();
        foreach (var train in spec.Train)
        {
            foreach (var v in ExpandTraining(train, dropped))
            {
                var trainJob = builder.Job(JobKind.Train, TrainParameters(v, spec.Data), [], v.Label);
                var variant = v with { Job = trainJob };
                variants.Add(variant);
                if (v.Qat is { } qat)
                {
                    var p = QuantParameters(qat, withCalibration: false);
                    p["method"] = "qat";
                    AddData(p, spec.Data, forEvaluation: true);
                    candidates.Add(new Candidate(variant, null, p, $"{v.Label} qat {Describe(qat)}"));
                }
            }
        }

        if (spec.Quantize is { } quantize)
        {
            var models = quantize.Models.Count > 0
                ? variants.Where(v => quantize.Models.Contains(v.Id)).ToList()
                : variants.Where(v => v.Qat is null).ToList();
            foreach (var model in models)
            foreach (var q in ExpandQuant(quantize.Axes, model.Bias))
            {
                var description = $"{model.Label} {Describe(q)}";
                if (Impossible(q, model.Bias) is { } reason) { dropped.Add(new DroppedCombination(description, reason)); continue; }
                var calibrate = CalibrateParameters(q);
                AddData(calibrate, spec.Data, forEvaluation: false);
                var evaluate = QuantParameters(q, withCalibration: true);
                evaluate["method"] = "ptq";
                AddData(evaluate, spec.Data, forEvaluation: true);
                candidates.Add(new Candidate(model, calibrate, evaluate, description));
            }
        }

        var chosen = spec.Search.Kind == SearchKind.Grid ? candidates : Sample(candidates, builder, spec.Search);

        // Emit in dependency order: every training first (a grid keeps trainings nothing quantizes; a
        // random search keeps only those its samples need), then calibrate → evaluate per candidate.
        var needed = spec.Search.Kind == SearchKind.Grid
            ? variants.Select(v => v.Job!.Key).ToHashSet()
            : chosen.Select(c => c.Model.Job!.Key).ToHashSet();
        foreach (var v in variants.Where(v => needed.Contains(v.Job!.Key))) builder.Add(v.Job!);
        foreach (var c in chosen)
        {
            var upstream = new List<string> { c.Model.Job!.Key };
            if (c.Calibrate is not null)
                upstream.Add(builder.Add(builder.Job(JobKind.Calibrate, c.Calibrate, [c.Model.Job.Key], c.Description)).Key);
            builder.Add(builder.Job(JobKind.Evaluate, c.Evaluate, upstream, c.Description));
        }
        return new CampaignPlan(spec.Name, engine, datasetFingerprint, builder.Jobs, dropped, builder.Merged);
    }

    /// <summary>Why a quantization combination cannot exist on a model, or null if it can.</summary>
    public static string? Impossible(QuantCombination q, bool modelHasBias)
    {
        if (!modelHasBias && q.Bias != "none")
            return $"bias mode {q.Bias} on a model without bias";
        if (q.Scope == "weights" && q.Bias == "int32")
            return "int32 bias needs the activation scale, which scope weights does not compute";
        if (q.Scope == "all" && QV.IsFixedPoint(q.Requant) && q.Bias == "float")
            return "fixed-point requantization needs bias none or int32, not float";
        return null;
    }

    // ---- expansion -------------------------------------------------------------------------------

    public sealed record QuantCombination(
        string Scope, int WeightBits, int ActBits, string WeightRange, string ActRange,
        string Granularity, string Rounding, string Requant, string Bias, int Calibration);

    private sealed record TrainVariant(
        string Id, string Label, bool Bias, int Epochs, int BatchSize, double Lr, double Momentum,
        int Seed, int? TrainLimit, QuantCombination? Qat, JobDescriptor? Job);

    private sealed record Candidate(TrainVariant Model, JsonObject? Calibrate, JsonObject Evaluate, string Description);

    private static IEnumerable<TrainVariant> ExpandTraining(TrainSpec t, List<DroppedCombination> dropped)
    {
        foreach (var bias in t.Bias)
        foreach (var epochs in t.Epochs)
        foreach (var batch in t.BatchSize)
        foreach (var lr in t.Lr)
        foreach (var momentum in t.Momentum)
        foreach (var seed in t.Seed)
        foreach (var limit in t.TrainLimit)
        {
            var swept = new List<string>();
            void Mark<T>(IReadOnlyList<T> axis, string name, T value) { if (axis.Count > 1) swept.Add($"{name}={Format(value)}"); }
            Mark(t.Bias, "bias", bias); Mark(t.Epochs, "epochs", epochs); Mark(t.BatchSize, "batchSize", batch);
            Mark(t.Lr, "lr", lr); Mark(t.Momentum, "momentum", momentum); Mark(t.Seed, "seed", seed);
            Mark(t.TrainLimit, "trainLimit", limit);
            var label = swept.Count == 0 ? t.Id : $"{t.Id}[{string.Join(',', swept)}]";
            var plain = new TrainVariant(t.Id, label, bias, epochs, batch, lr, momentum, seed, limit, null, null);
            if (t.Qat is null) { yield return plain; continue; }
            foreach (var q in ExpandQuant(t.Qat, bias))
            {
                var description = $"{label} qat {Describe(q)}";
                if (Impossible(q, bias) is { } reason) { dropped.Add(new DroppedCombination(description, reason)); continue; }
                yield return plain with { Qat = q, Label = QatLabel(label, t.Qat, q) };
            }
        }
    }

    private static string QatLabel(string label, QuantAxes axes, QuantCombination q)
    {
        var parts = new List<string>();
        if (axes.Scope.Count > 1) parts.Add(q.Scope);
        if (axes.WeightBits.Count > 1 || axes.ActBits.Count > 1) parts.Add($"w{q.WeightBits}a{q.ActBits}");
        if (axes.WeightRange.Count > 1) parts.Add($"wr={q.WeightRange}");
        if (axes.ActRange.Count > 1) parts.Add($"ar={q.ActRange}");
        if (axes.Granularity.Count > 1) parts.Add(q.Granularity);
        if (axes.Rounding.Count > 1) parts.Add(q.Rounding);
        if (axes.Requant.Count > 1) parts.Add(q.Requant);
        if (axes.Bias is { Count: > 1 }) parts.Add($"bias={q.Bias}");
        if (axes.Calibration.Count > 1) parts.Add($"cal={q.Calibration}");
        return parts.Count == 0 ? label : $"{label}{{{string.Join(',', parts)}}}";
    }

    private static IEnumerable<QuantCombination> ExpandQuant(QuantAxes a, bool modelHasBias)
    {
        var biasModes = a.Bias ?? [QV.Defaults.BiasFor(modelHasBias)];
        foreach (var scope in a.Scope)
        foreach (var wb in a.WeightBits)
        foreach (var ab in a.ActBits)
        foreach (var wr in a.WeightRange)
        foreach (var ar in a.ActRange)
        foreach (var g in a.Granularity)
        foreach (var r in a.Rounding)
        foreach (var rq in a.Requant)
        foreach (var b in biasModes)
        foreach (var cal in a.Calibration)
            yield return new QuantCombination(scope, wb, ab, wr, ar, g, r, rq, b, cal);
    }

    private static string Describe(QuantCombination q) => q.Scope == "weights"
        ? $"scope=weights w{q.WeightBits} wr={q.WeightRange} {q.Granularity} {q.Rounding} bias={q.Bias}"
        : $"scope=all w{q.WeightBits}a{q.ActBits} wr={q.WeightRange} ar={q.ActRange} {q.Granularity} {q.Rounding} {q.Requant} bias={q.Bias} cal={q.Calibration}";

    // ---- canonical parameters ---------------------------------------------------------------------

    private static JsonObject TrainParameters(TrainVariant v, DataOptions data)
    {
        var p = new JsonObject
        {
            ["bias"] = v.Bias,
            ["epochs"] = v.Epochs,
            ["batchSize"] = v.BatchSize,
            ["lr"] = v.Lr,
            ["momentum"] = v.Momentum,
            ["seed"] = v.Seed,
        };
        if (v.TrainLimit is { } limit) p["trainLimit"] = limit;
        if (v.Qat is { } q) p["qat"] = QuantParameters(q, withCalibration: true);
        AddData(p, data, forEvaluation: true);   // a training measures its test accuracy
        return p;
    }

    /// <summary>The fields a quantization uses: activation fields only for scope all.</summary>
    private static JsonObject QuantParameters(QuantCombination q, bool withCalibration)
    {
        var p = new JsonObject
        {
            ["scope"] = q.Scope,
            ["weightBits"] = q.WeightBits,
            ["weightRange"] = q.WeightRange,
            ["granularity"] = q.Granularity,
            ["rounding"] = q.Rounding,
            ["bias"] = q.Bias,
        };
        if (q.Scope == "all")
        {
            p["actBits"] = q.ActBits;
            p["actRange"] = q.ActRange;
            p["requant"] = q.Requant;
            if (withCalibration) p["calibration"] = q.Calibration;
        }
        return p;
    }

    /// <summary>What ranges depend on: the methods, the granularity, the calibration set, and bits only for methods that optimize for them.</summary>
    private static JsonObject CalibrateParameters(QuantCombination q)
    {
        var p = new JsonObject { ["weightRange"] = q.WeightRange, ["granularity"] = q.Granularity };
        if (QV.RangeDependsOnBits(q.WeightRange)) p["weightBits"] = q.WeightBits;
        if (q.Scope == "all")
        {
            p["actRange"] = q.ActRange;
            p["calibration"] = q.Calibration;
            if (QV.RangeDependsOnBits(q.ActRange)) p["actBits"] = q.ActBits;
        }
        // mse minimises the error of the rounding it will be used with.
        if (q.WeightRange == "mse" || (q.Scope == "all" && q.ActRange == "mse")) p["rounding"] = q.Rounding;
        return p;
    }

    private static void AddData(JsonObject p, DataOptions data, bool forEvaluation)
    {
        p["inputTransform"] = data.InputTransform;
        if (forEvaluation && data.TestLimit is { } limit) p["testLimit"] = limit;
    }

    private static string Format<T>(T value) => value switch
    {
        null => "all",
        bool b => b ? "true" : "false",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    // ---- random search ----------------------------------------------------------------------------

    /// <summary>Distinct evaluations (by key) drawn with a seeded SplitMix64, kept in enumeration order.</summary>
    private static List<Candidate> Sample(List<Candidate> candidates, GraphBuilder builder, SearchSpec search)
    {
        var distinct = new List<Candidate>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var c in candidates)
        {
            var calibrateKey = c.Calibrate is null ? null : builder.Job(JobKind.Calibrate, c.Calibrate, [c.Model.Job!.Key], "").Key;
            var upstream = calibrateKey is null ? new[] { c.Model.Job!.Key } : [c.Model.Job!.Key, calibrateKey];
            if (seen.Add(builder.Job(JobKind.Evaluate, c.Evaluate, upstream, "").Key)) distinct.Add(c);
        }
        var indices = Enumerable.Range(0, distinct.Count).ToArray();
        var n = Math.Min(search.Samples, distinct.Count);
        var state = unchecked((ulong)search.Seed);
        for (var i = 0; i < n; i++)   // partial Fisher–Yates
        {
            var j = i + (int)(SplitMix64(ref state) % (ulong)(distinct.Count - i));
            (indices[i], indices[j]) = (indices[j], indices[i]);
        }
        return indices.Take(n).Order().Select(i => distinct[i]).ToList();
    }

    /// <summary>A fixed generator (not System.Random) so a seed draws the same sample on every runtime.</summary>
    private static ulong SplitMix64(ref ulong state)
    {
        var z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Builds descriptors and keeps the emitted list free of duplicate keys.</summary>
    private sealed class GraphBuilder(string dataset, string engine)
    {
        private readonly Dictionary<string, JobDescriptor> _byKey = new(StringComparer.Ordinal);
        public List<JobDescriptor> Jobs { get; } = [];
        public int Merged { get; private set; }

        public JobDescriptor Job(JobKind kind, JsonObject parameters, IReadOnlyList<string> upstream, string label)
        {
            var canonical = CanonicalJson.Write(parameters);
            var key = JobKeys.Compute(kind, canonical, upstream, dataset, engine);
            return new JobDescriptor(key, kind, canonical, upstream, dataset, engine, label);
        }

        public JobDescriptor Add(JobDescriptor job)
        {
            if (_byKey.TryGetValue(job.Key, out var existing)) { Merged++; return existing; }
            _byKey.Add(job.Key, job);
            Jobs.Add(job);
            return job;
        }
    }
}
