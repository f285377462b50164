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
    /// <summary>The default bound on the jobs one spec may plan (<c>QuantLab:Orchestration:MaxPlannedJobs</c>).</summary>
    public const long DefaultMaxJobs = 1_000_000;

    /// <summary>A random search's candidate space up to this size is enumerated (exact distinct draws); past it, drawn from by index.</summary>
    private const long EnumerateUpTo = 200_000;

    /// <param name="maxJobs">Refuse (bad input) a grid whose jobs would exceed this, counted before anything is built.</param>
    public static CampaignPlan Plan(CampaignSpec spec, string datasetFingerprint, string? engineVersion = null, long maxJobs = DefaultMaxJobs)
    {
        var engine = engineVersion ?? EngineInfo.Version;
        var builder = new GraphBuilder(datasetFingerprint, engine);
        var dropped = new List<DroppedCombination>();

        long trainings = spec.Train.Sum(t => Product([t.Bias.Count, t.Epochs.Count, t.BatchSize.Count, t.Lr.Count, t.Momentum.Count, t.Seed.Count, t.TrainLimit.Count])
                                             * (t.Qat is null ? 1 : new QuantSpace(t.Qat, qat: true).Count * t.Methods.Count));
        if (trainings > maxJobs) throw TooMany($"its trainings expand to {trainings:N0} jobs", maxJobs);

        // Training variants, in spec order, and the QAT evaluations they lead to.
        var variants = new List<TrainVariant>();
        var qatCandidates = new List<Candidate>();
        // The FP32 models a QAT training may start from ('from'), by training id and seed: the parser saw to one per seed.
        var starts = new Dictionary<(string Id, int Seed), string>();
        foreach (var train in spec.Train)
        {
            foreach (var v in ExpandTraining(train, dropped))
            {
                JobRecord record = v.Qat is { } qat
                    ? new QatTrainJob(v.Options, qat, spec.Data, train.From is { } from ? starts[(from, v.Options.Seed)] : null)
                    : new Fp32TrainJob(v.Options, spec.Data);
                var variant = v with { Job = builder.Job(record, v.Label) };
                variants.Add(variant);
                if (v.Qat is null) starts[(train.Id, v.Options.Seed)] = variant.Job.Key;
                if (v.Qat is { } q)
                    qatCandidates.Add(new Candidate(variant, null, EvaluateJob.Qat(variant.Job.Key, q.Config, spec.Data), $"{v.Label} qat {Describe(q.Config, null)}"));
            }
        }

        // The PTQ candidates: every (model, quantization combination), counted before any is built.
        var models = spec.Quantize is not { } quantize ? []
            : quantize.Models.Count > 0 ? variants.Where(v => quantize.Models.Contains(v.Id)).ToList()
            : variants.Where(v => v.Qat is null).ToList();
        var space = new QuantSpace(spec.Quantize?.Axes ?? QuantAxes.Defaults, qat: false);
        long ptq = models.Count * space.Count;
        long total = qatCandidates.Count + ptq;
        Candidate? Build(long index)
        {
            if (index < qatCandidates.Count) return qatCandidates[(int)index];
            var model = models[(int)((index - qatCandidates.Count) / space.Count)];
            var (config, calibration) = space.At((index - qatCandidates.Count) % space.Count, model.Options.Bias);
            var description = $"{model.Label} {Describe(config, calibration)}";
            if (QuantizationOptions.Problem(config, model.Options.Bias) is { } reason) { dropped.Add(new DroppedCombination(description, reason)); return null; }
            var modelKey = model.Job!.Key;
            var calibrate = builder.Job(CalibrateJob.For(modelKey, config, calibration, spec.Data.InputTransform), description);
            return new Candidate(model, calibrate, EvaluateJob.Ptq(modelKey, (CalibrateJob)calibrate.Job, calibrate.Key, config, spec.Data), description);
        }

        List<Candidate> chosen;
        if (spec.Search.Kind == SearchKind.Grid)
        {
            // A calibrate and an evaluate job per PTQ combination at most (equal keys merge).
            long jobs = variants.Count + qatCandidates.Count + 2 * ptq;
            if (jobs > maxJobs)
                throw TooMany($"its grid expands to {total:N0} evaluations ({jobs:N0} jobs at most)", maxJobs, "narrow an axis, or use a random search");
            chosen = [];
            for (long i = 0; i < total; i++)
                if (Build(i) is { } c) chosen.Add(c);
        }
        else
        {
            if (2L * spec.Search.Samples + variants.Count > maxJobs) throw TooMany($"a random search of {spec.Search.Samples:N0} samples plans up to {2L * spec.Search.Samples + variants.Count:N0} jobs", maxJobs);
            chosen = total <= EnumerateUpTo
                ? Sample(Enumerable.Range(0, (int)total).Select(i => Build(i)).OfType<Candidate>().ToList(), builder, spec.Search)
                : Draw(total, Build, builder, spec.Search);
        }

        // Emit in dependency order: every training first (a grid keeps trainings nothing quantizes; a
        // random search keeps only those its samples need), then calibrate → evaluate per candidate.
        var needed = spec.Search.Kind == SearchKind.Grid
            ? variants.Select(v => v.Job!.Key).ToHashSet()
            : chosen.Select(c => c.Model.Job!.Key).ToHashSet();
        // A QAT training needs the FP32 training it starts from (defined before it, so emitted before it).
        foreach (var v in variants)
            if (needed.Contains(v.Job!.Key) && v.Job.Job is QatTrainJob { From: { } start }) needed.Add(start);
        foreach (var v in variants.Where(v => needed.Contains(v.Job!.Key))) builder.Add(v.Job!);
        foreach (var c in chosen)
        {
            if (c.Calibrate is not null) builder.Add(c.Calibrate);
            builder.Add(builder.Job(c.Evaluate, c.Description));
        }
        return new CampaignPlan(spec.Name, engine, datasetFingerprint, builder.Jobs, dropped, builder.Merged);
    }

    private static BadInputException TooMany(string what, long limit, string? hint = null) =>
        new($"the spec is too large: {what}, past the limit of {limit:N0} (QuantLab:Orchestration:MaxPlannedJobs); nothing was planned or recorded" +
            (hint is null ? "" : $"; {hint}"));

    /// <summary>The product of axis lengths, saturating at long.MaxValue.</summary>
    private static long Product(IEnumerable<long> factors)
    {
        long p = 1;
        foreach (var f in factors) p = f != 0 && p > long.MaxValue / f ? long.MaxValue : p * f;
        return p;
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
            foreach (var method in t.Methods)
            foreach (var (config, _) in new QuantSpace(t.Qat, qat: true).All(bias))
            {
                var description = $"{label} qat {Describe(config, null)}";
                if (QuantizationOptions.Problem(config, bias) is { } reason) { dropped.Add(new DroppedCombination(description, reason)); continue; }
                yield return plain with { Qat = new QatOptions { Config = config, Method = method }, Label = QatLabel(label, t, config, method) };
            }
        }
    }

    /// <summary>The training's label with the QAT options its spec sweeps (the method too, where it sweeps one).</summary>
    private static string QatLabel(string label, TrainSpec t, QuantizationConfig config, QatMethod method)
    {
        var parts = (t.Methods.Count > 1 ? [$"method={method.ToOption()}"] : new List<string>())
            .Concat(QuantizationOptions.All.Where(t.Qat!.Sweeps).Select(o => $"{o.Field}={QuantizationOptions.ValueOf(o, config)}")).ToList();
        return parts.Count == 0 ? label : $"{label}{{{string.Join(',', parts)}}}";
    }

    /// <summary>
    /// The combinations of quantization axes as a mixed-radix number: counted without being built, and the
    /// combination at any index parsed by the engine's grammar (a model's default bias mode where the spec names
    /// none). The last option varies fastest, as nested loops in the grammar's order would.
    /// </summary>
    private sealed class QuantSpace
    {
        private readonly List<QuantOption> _options;
        private readonly List<IReadOnlyList<string?>> _values;

        public QuantSpace(QuantAxes axes, bool qat)
        {
            _options = qat ? [.. QuantizationOptions.All] : [.. QuantizationOptions.All, QuantizationOptions.Calibration];
            _values = _options.Select(axes.Of).ToList();
            Count = Product(_values.Select(v => (long)v.Count));
        }

        public long Count { get; }

        public (QuantizationConfig Config, int Calibration) At(long index, bool modelHasBias)
        {
            var chosen = new Dictionary<QuantOption, string?>();
            for (int k = _options.Count - 1; k >= 0; k--)
            {
                chosen[_options[k]] = _values[k][(int)(index % _values[k].Count)];
                index /= _values[k].Count;
            }
            var calibration = chosen.GetValueOrDefault(QuantizationOptions.Calibration) ?? QuantizationOptions.Calibration.Default!;
            return (QuantizationOptions.Build(o => chosen[o], modelHasBias), int.Parse(calibration, CultureInfo.InvariantCulture));
        }

        public IEnumerable<(QuantizationConfig Config, int Calibration)> All(bool modelHasBias)
        {
            for (long i = 0; i < Count; i++) yield return At(i, modelHasBias);
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

    /// <summary>
    /// Distinct evaluations drawn by index from a space too large to enumerate (memory stays proportional to the
    /// sample): indices from a seeded SplitMix64, impossible combinations and repeats of an evaluation skipped, at
    /// most 20 draws per sample; kept in index order.
    /// </summary>
    private static List<Candidate> Draw(long total, Func<long, Candidate?> build, GraphBuilder builder, SearchSpec search)
    {
        var chosen = new SortedDictionary<long, Candidate>();
        var keys = new HashSet<string>(StringComparer.Ordinal);
        var tried = new HashSet<long>();
        var state = unchecked((ulong)search.Seed);
        for (long attempt = 0; chosen.Count < search.Samples && attempt < 20L * search.Samples + 1000; attempt++)
        {
            long index = (long)(SplitMix64(ref state) % (ulong)total);
            if (!tried.Add(index) || build(index) is not { } c) continue;
            if (keys.Add(builder.Job(c.Evaluate, "").Key)) chosen[index] = c;
        }
        return [.. chosen.Values];
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
