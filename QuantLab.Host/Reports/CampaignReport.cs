using QuantLab.Actors.Messages;
using QuantLab.Engine.Jobs;
using QuantLab.Engine.Quantization;

namespace QuantLab.Host.Reports;

/// <summary>Mean accuracy over two parameter axes; the other axes are averaged over (with the count shown).</summary>
public sealed record PivotTable(string RowAxis, string ColumnAxis, IReadOnlyList<string> Rows, IReadOnlyList<string> Columns, IReadOnlyList<IReadOnlyList<PivotCell?>> Cells);

public sealed record PivotCell(double MeanAccuracy, double BestAccuracy, int Count);

/// <summary>An evaluation against its FP32 baseline and against its PTQ↔QAT twin (same training, same
/// quantization settings, the other method), where the campaign has one.</summary>
public sealed record DeltaRow(string Key, string Label, string Method, double Accuracy, double? Fp32Accuracy, double? DeltaFp32, double? TwinAccuracy, double? DeltaTwin);

public sealed record BestRow(string BitWidth, int Rank, string Label, double Accuracy);

/// <summary>
/// One figure of the seed next to ours (accuracies in percent). The seed's figure is one training run;
/// ours is the mean over the campaign's training seeds (<see cref="Runs"/> of them, from <see cref="OursMin"/>
/// to <see cref="OursMax"/>), so a lucky or unlucky run does not decide the comparison.
/// </summary>
public sealed record SeedRow(string Section, string What, double Seed, double? Ours, int Runs = 0, double? OursMin = null, double? OursMax = null);

/// <summary>Everything a campaign report shows, computed from the recorded results alone.</summary>
public sealed record CampaignReport(
    string Campaign,
    CampaignResults Source,
    IReadOnlyList<ReportRow> Rows,
    PivotTable? Pivot,
    IReadOnlyList<DeltaRow> Deltas,
    IReadOnlyList<BestRow> Best,
    IReadOnlyList<FailedJob> Failed,
    IReadOnlyList<SeedRow> SeedComparison)
{
    /// <summary>Parameters that describe a quantization setting (a twin matches on all of them).</summary>
    public static readonly string[] QuantAxes = [.. QuantizationOptions.All.Select(o => o.Field)];

    /// <summary>Default pivot axes, in order of preference, among those that vary.</summary>
    public static readonly string[] PreferredAxes = ["weightBits", "weightRange", "actBits", "actRange", "actSignedness", "rounding", "requant", "granularity", "bias", "scope", "method",
        "train.lr", "train.batchSize", "train.epochs", "train.seed"];

    public static CampaignReport Build(CampaignResults results, string? rowAxis = null, string? columnAxis = null)
    {
        var rows = ReportRow.From(results);
        var evaluations = rows.Where(r => r.IsEvaluation && r.Accuracy is not null).ToList();
        return new CampaignReport(results.Campaign, results, rows, BuildPivot(evaluations, rowAxis, columnAxis), BuildDeltas(rows, evaluations),
            BuildBest(evaluations), results.Failed, BuildSeed(rows));
    }

    public static IReadOnlyList<string> VaryingAxes(IReadOnlyList<ReportRow> evaluations) =>
        evaluations.SelectMany(r => r.Params.Keys).Distinct()
            .Where(k => evaluations.Select(r => r.Param(k)).Where(v => v is not null).Distinct().Count() > 1)
            .OrderBy(k => Array.IndexOf(PreferredAxes, k) is var i && i < 0 ? int.MaxValue : i).ThenBy(k => k, StringComparer.Ordinal)
            .ToList();

    private static PivotTable? BuildPivot(IReadOnlyList<ReportRow> evaluations, string? rowAxis, string? columnAxis)
    {
        if (evaluations.Count == 0) return null;
        var varying = VaryingAxes(evaluations);
        rowAxis ??= varying.FirstOrDefault() ?? "method";
        columnAxis ??= varying.FirstOrDefault(a => a != rowAxis) ?? "method";
        string Value(ReportRow r, string axis) => r.Param(axis) ?? "-";
        var rowValues = evaluations.Select(r => Value(r, rowAxis)).Distinct().OrderBy(v => v, AxisValueComparer.Instance).ToList();
        var columnValues = evaluations.Select(r => Value(r, columnAxis)).Distinct().OrderBy(v => v, AxisValueComparer.Instance).ToList();
        var cells = rowValues.Select(rv => (IReadOnlyList<PivotCell?>)columnValues.Select(cv =>
        {
            var accuracies = evaluations.Where(r => Value(r, rowAxis) == rv && Value(r, columnAxis) == cv).Select(r => r.Accuracy!.Value).ToList();
            return accuracies.Count == 0 ? null : new PivotCell(accuracies.Average(), accuracies.Max(), accuracies.Count);
        }).ToList()).ToList();
        return new PivotTable(rowAxis, columnAxis, rowValues, columnValues, cells);
    }

    private static IReadOnlyList<DeltaRow> BuildDeltas(IReadOnlyList<ReportRow> rows, IReadOnlyList<ReportRow> evaluations)
    {
        var trains = rows.Where(r => r.Kind == "train").ToDictionary(r => r.Key);
        // An evaluation's twin: the first evaluation of the other method (PTQ or QAT) with the same quantization and
        // training, found by key (comparing every pair took 1.2 s for the bit-width sweep's 7,350 evaluations).
        var keyed = evaluations.Select(e => (Row: e, TwinKey: TwinKey(e))).ToList();
        var twins = new Dictionary<(bool IsQat, string TwinKey), ReportRow>();
        foreach (var (e, key) in keyed)
            if (key is not null) twins.TryAdd((e.IsQat, key), e);
        return keyed.Select(x =>
        {
            var e = x.Row;
            double? fp32 = e.Metric("fp32Accuracy") ?? (e.TrainKey is { } k && trains.TryGetValue(k, out var t) ? t.Accuracy : null);
            var twin = x.TwinKey is { } key && twins.TryGetValue((!e.IsQat, key), out var other) ? other : null;
            return new DeltaRow(e.Key, e.Label, e.IsQat ? "qat" : "ptq", e.Accuracy!.Value, fp32, e.Accuracy - fp32, twin?.Accuracy, twin is null ? null : e.Accuracy - twin.Accuracy);
        }).ToList();
    }

    /// <summary>What twins share: the quantization, and the training recipe and data, QAT or not (a QAT training's twin is
    /// the FP32 one); null for a row without both.</summary>
    private static string? TwinKey(ReportRow r) =>
        r.Quantization is { } q && r.Recipe is { } recipe
            ? QuantizationOptions.Canonical(q) + "\n" + JobCodec.Canonical(new Fp32TrainJob(recipe.Options, recipe.Data))
            : null;

    private static IReadOnlyList<BestRow> BuildBest(IReadOnlyList<ReportRow> evaluations, int top = 3) =>
        evaluations.GroupBy(e => e.Quantization is { } q ? $"W{q.WeightBits}/A{(q.Scope == QuantScope.All ? q.ActBits.ToString(System.Globalization.CultureInfo.InvariantCulture) : "-")}" : "W?/A-")
            .OrderBy(g => g.Key, AxisValueComparer.Instance)
            .SelectMany(g => g.OrderByDescending(e => e.Accuracy).ThenBy(e => e.Label, StringComparer.Ordinal).Take(top)
                .Select((e, i) => new BestRow(g.Key, i + 1, e.Label, e.Accuracy!.Value)))
            .ToList();

    /// <summary>The seed's figures (§1.3–§3.1) next to the matching jobs of this campaign, where it has them.</summary>
    private static IReadOnlyList<SeedRow> BuildSeed(IReadOnlyList<ReportRow> rows)
    {
        // Only trainings with the seed's recipe are compared with the seed (2 epochs, mini-batch 4, SGD lr 0.001,
        // momentum 0.9, the whole training and test sets), and only quantizations with its choices (8 bits,
        // min/max ranges per tensor, floor rounding); any training seed.
        static bool SeedRecipe(ReportRow r) => r.Recipe is var (t, d) && t.Epochs == 2 && t.BatchSize == 4 && t.Lr == 0.001 && t.Momentum == 0.9
            && t.TrainLimit is null && d.TestLimit is null;
        static bool SeedQuantization(QuantizationConfig c) => c.WeightBits == 8 && c.WeightRange.Is("minmax") && c.Granularity == Granularity.Tensor
            && c.Rounding == RoundingMode.Floor && (c.Scope == QuantScope.Weights || (c.ActBits == 8 && c.ActRange.Is("minmax")));
        bool Fp32Train(ReportRow r, bool bias) => r.Job is Fp32TrainJob t && t.Training.Bias == bias && SeedRecipe(r);
        bool Ptq(ReportRow r, bool trainBias, QuantScope scope, BiasMode mode) => r.Job is EvaluateJob { Method: EvaluationMethod.Ptq } e
            && r.Training is Fp32TrainJob t && t.Training.Bias == trainBias && SeedRecipe(r)
            && e.Quantization.Scope == scope && e.Quantization.Bias == mode && SeedQuantization(e.Quantization)
            && (scope == QuantScope.Weights || !e.Quantization.Requant.IsFixedPoint);
        bool Qat(ReportRow r, bool fixedPoint) => r.Job is EvaluateJob { Method: EvaluationMethod.Qat } e
            && r.Training is QatTrainJob { Training.Bias: false, From: null } && SeedRecipe(r) && SeedQuantization(e.Quantization)
            && e.Quantization.Scope == QuantScope.All && e.Quantization.Requant.IsFixedPoint == fixedPoint;
        SeedRow Row(string section, string what, double seed, Func<ReportRow, bool> match, Func<ReportRow, double?> value)
        {
            // One figure per training run (the first matching job of each, by key), in percent, rounded so
            // 0.9843 reads 98.43 in JSON rather than 98.42999999999999.
            var perRun = rows.Where(match)
                .Select(r => (Training: r.Kind == "train" ? r.Key : r.TrainKey ?? r.Key, r.Key, Value: value(r)))
                .Where(x => x.Value is not null)
                .GroupBy(x => x.Training)
                .Select(g => Math.Round(g.OrderBy(x => x.Key, StringComparer.Ordinal).First().Value!.Value * 100, 6))
                .ToList();
            return perRun.Count == 0 ? new SeedRow(section, what, seed, null)
                : new SeedRow(section, what, seed, Math.Round(perRun.Average(), 6), perRun.Count, perRun.Min(), perRun.Max());
        }

        var table = new List<SeedRow>
        {
            Row("1.3", "FP32 LeNet-5, 2 epochs, mini-batch 4", 98.67, r => Fp32Train(r, false), r => r.Accuracy),
            Row("2.2", "8-bit weights (symmetric, min/max), activations in float", 98.67, r => Ptq(r, false, QuantScope.Weights, BiasMode.None), r => r.Accuracy),
            Row("2.4", "8-bit weights and activations, requantization, floor", 98.69, r => Ptq(r, false, QuantScope.All, BiasMode.None), r => r.Accuracy),
            Row("2.5-fp32-bias", "FP32 LeNet-5 with bias", 97.77, r => Fp32Train(r, true), r => r.Accuracy),
            Row("2.5-weights", "with bias: weights and activations quantized, bias float", 97.81, r => Ptq(r, true, QuantScope.All, BiasMode.Float), r => r.Accuracy),
            Row("2.5-weights-bias", "with bias: weights, activations and bias (int32) quantized", 97.77, r => Ptq(r, true, QuantScope.All, BiasMode.Int32), r => r.Accuracy),
            Row("3.1-fp32", "QAT run: the trained weights evaluated in FP32", 98.09, r => Qat(r, false), r => r.Metric("fp32Accuracy")),
            Row("3.1-qat", "QAT, 8-bit, float M", 98.11, r => Qat(r, false), r => r.Accuracy),
            Row("3.1-qat-fixed-point", "QAT, 8-bit, fixed-point M", 98.14, r => Qat(r, true), r => r.Accuracy),
        };
        return table.Any(r => r.Ours is not null) ? table : [];
    }
}

/// <summary>Orders axis values numerically where they are numbers ("2" before "10"), otherwise as text.</summary>
public sealed class AxisValueComparer : IComparer<string>
{
    public static readonly AxisValueComparer Instance = new();

    public int Compare(string? x, string? y)
    {
        if (double.TryParse(x, System.Globalization.CultureInfo.InvariantCulture, out var a) &&
            double.TryParse(y, System.Globalization.CultureInfo.InvariantCulture, out var b))
            return a.CompareTo(b);
        var nx = new string((x ?? "").Where(char.IsDigit).ToArray());
        var ny = new string((y ?? "").Where(char.IsDigit).ToArray());
        var px = (x ?? "").TrimEnd("0123456789".ToCharArray());
        var py = (y ?? "").TrimEnd("0123456789".ToCharArray());
        if (px == py && int.TryParse(nx, out var ix) && int.TryParse(ny, out var iy)) return ix.CompareTo(iy);
        return string.CompareOrdinal(x, y);
    }
}
