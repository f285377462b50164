using System.Globalization;
using QuantLab.Actors.Campaigns;
using QuantLab.Engine;
using QuantLab.Engine.Jobs;
using QuantLab.Engine.Qat;
using QuantLab.Engine.Quantization;
using QuantLab.Engine.Training;

namespace QuantLab.Actors.Planning;

/// <summary>
/// Expands a campaign spec into its job graph of typed records (<see cref="JobRecord"/>): every training
/// combination is a train job (FP32 or QAT); every (FP32 model, quantization combination) is a calibrate job
/// (the ranges its methods need) and an evaluate job; a QAT training is followed by one evaluate job of its own
/// quantization. The records hold only what a result depends on (<see cref="QuantizationOptions.Used"/>, the
/// range methods' declared options), so combinations that differ elsewhere share one key and run once.
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
                JobRecord record = v.Qat is { } qat ? new QatTrainJob(v.Options, qat, spec.Data) : new Fp32TrainJob(v.Options, spec.Data);
                var variant = v with { Job = builder.Job(record, v.Label) };
                variants.Add(variant);
                if (v.Qat is { } q)
                    candidates.Add(new Candidate(variant, null, EvaluateJob.Qat(variant.Job.Key, q.Config, spec.Data), $"{v.Label} qat {Describe(q.Config, null)}"));
            }
        }

        if (spec.Quantize is { } quantize)
        {
            var models = quantize.Models.Count > 0
                ? variants.Where(v => quantize.Models.Contains(v.Id)).ToList()
                : variants.Where(v => v.Qat is null).ToList();
            foreach (var model in models)
            foreach (var (config, calibration) in ExpandQuant(quantize.Axes, model.Options.Bias))
            {
                var description = $"{model.Label} {Describe(config, calibration)}";
                if (QuantizationOptions.Problem(config, model.Options.Bias) is { } reason) { dropped.Add(new DroppedCombination(description, reason)); continue; }
                var modelKey = model.Job!.Key;
                var calibrate = builder.Job(CalibrateJob.For(modelKey, config, calibration, spec.Data.InputTransform), description);
                var evaluate = EvaluateJob.Ptq(modelKey, (CalibrateJob)calibrate.Job, calibrate.Key, config, spec.Data);
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
            if (c.Calibrate is not null) builder.Add(c.Calibrate);
            builder.Add(builder.Job(c.Evaluate, c.Description));
        }
        return new CampaignPlan(spec.Name, engine, datasetFingerprint, builder.Jobs, dropped, builder.Merged);
    }

    // ---- expansion -------------------------------------------------------------------------------

    private sealed record TrainVariant(string Id, string Label, TrainOptions Options, QatOptions? Qat, JobDescriptor? Job);

    private sealed record Candidate(TrainVariant Model, JobDescriptor? Calibrate, EvaluateJob Evaluate, string Description);

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
            var options = new TrainOptions { Bias = bias, Epochs = epochs, BatchSize = batch, Lr = lr, Momentum = momentum, Seed = seed, TrainLimit = limit };
            var plain = new TrainVariant(t.Id, label, options, null, null);
            if (t.Qat is null) { yield return plain; continue; }
            foreach (var (config, _) in ExpandQuant(t.Qat, bias))
            {
                var description = $"{label} qat {Describe(config, null)}";
                if (QuantizationOptions.Problem(config, bias) is { } reason) { dropped.Add(new DroppedCombination(description, reason)); continue; }
                yield return plain with { Qat = new QatOptions { Config = config }, Label = QatLabel(label, t.Qat, config) };
            }
        }
    }

    /// <summary>The training's label with the QAT options its spec sweeps.</summary>
    private static string QatLabel(string label, QuantAxes axes, QuantizationConfig config)
    {
        var parts = QuantizationOptions.All.Where(axes.Sweeps).Select(o => $"{o.Field}={QuantizationOptions.ValueOf(o, config)}").ToList();
        return parts.Count == 0 ? label : $"{label}{{{string.Join(',', parts)}}}";
    }

    /// <summary>Every combination of the axes, parsed by the engine's grammar (a model's default bias mode where the spec names none).</summary>
    private static IEnumerable<(QuantizationConfig Config, int Calibration)> ExpandQuant(QuantAxes axes, bool modelHasBias)
    {
        var options = QuantizationOptions.All.Append(QuantizationOptions.Calibration).ToList();
        var values = options.Select(axes.Of).ToList();
        var index = new int[options.Count];
        while (true)
        {
            string? Value(QuantOption o) => values[options.IndexOf(o)][index[options.IndexOf(o)]];
            var calibration = int.Parse(Value(QuantizationOptions.Calibration) ?? QuantizationOptions.Calibration.Default!, CultureInfo.InvariantCulture);
            yield return (QuantizationOptions.Build(Value, modelHasBias), calibration);
            // The last option varies fastest, as nested loops in the grammar's order would.
            int k = options.Count - 1;
            while (k >= 0 && ++index[k] == values[k].Count) index[k--] = 0;
            if (k < 0) yield break;
        }
    }

    /// <summary>The options a combination uses, as <c>field=value</c>, and its calibration set where it has one.</summary>
    private static string Describe(QuantizationConfig config, int? calibration) =>
        string.Join(' ', QuantizationOptions.Used(config).Select(o => $"{o.Field}={QuantizationOptions.ValueOf(o, config)}"))
        + (calibration is { } n && config.NeedsActivationRanges ? $" calibration={n.ToString(CultureInfo.InvariantCulture)}" : "");

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
            if (seen.Add(builder.Job(c.Evaluate, "").Key)) distinct.Add(c);
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

        public JobDescriptor Job(JobRecord record, string label) => JobDescriptor.For(record, dataset, engine, label);

        public JobDescriptor Add(JobDescriptor job)
        {
            if (_byKey.TryGetValue(job.Key, out var existing)) { Merged++; return existing; }
            _byKey.Add(job.Key, job);
            Jobs.Add(job);
            return job;
        }
    }
}
