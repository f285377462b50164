using QuantLab.Engine.Quantization;

namespace QuantLab.Host.Reports;

/// <summary>The report's plots, drawn with ScottPlot.</summary>
public static class ReportPlots
{
    public sealed record Plot(string Title, byte[] Png);

    public static IReadOnlyList<Plot> Render(CampaignReport report)
    {
        var plots = new List<Plot>();
        var evaluations = report.Rows.Where(r => r.Quantization is not null && r.Accuracy is not null).ToList();
        if (report.SeedComparison.Any(s => s.Ours is not null))
            plots.Add(SeedBesideOurs(report.SeedComparison));
        if (evaluations.Select(r => r.Quantization!.WeightBits).Distinct().Count() > 1)
            plots.Add(AccuracyByBits(evaluations, "Accuracy vs weight bit width", "weight bits"));
        // Where activation widths vary too, the diagonal alone: each point one bit width for weights and activations.
        var same = evaluations.Where(r => r.Quantization is { Scope: QuantScope.All } q && q.ActBits == q.WeightBits).ToList();
        if (same.Select(r => r.Quantization!.WeightBits).Distinct().Count() > 1 && same.Count < evaluations.Count)
            plots.Add(AccuracyByBits(same, "Accuracy vs bit width, weights = activations", "bits (weights = activations)"));
        return plots;
    }

    /// <summary>Each seed figure beside our mean over training seeds, with a bar from our lowest to our highest run.</summary>
    private static Plot SeedBesideOurs(IReadOnlyList<SeedRow> rows)
    {
        var plot = new ScottPlot.Plot();
        var xs = Enumerable.Range(0, rows.Count).Select(i => (double)i).ToArray();
        var seed = plot.Add.ScatterPoints(xs, rows.Select(r => r.Seed).ToArray());
        seed.LegendText = "seed (one run)";
        seed.MarkerSize = 10;
        seed.MarkerShape = ScottPlot.MarkerShape.OpenSquare;
        var ours = rows.Select((r, i) => (X: (double)i, r)).Where(p => p.r.Ours is not null).ToList();
        var mean = plot.Add.ScatterPoints(ours.Select(p => p.X).ToArray(), ours.Select(p => p.r.Ours!.Value).ToArray());
        mean.LegendText = "ours (mean over training seeds, lowest to highest)";
        mean.MarkerSize = 9;
        foreach (var (x, r) in ours.Where(p => p.r.Runs > 1))
        {
            var range = plot.Add.Line(x, r.OursMin!.Value, x, r.OursMax!.Value);
            range.LineColor = mean.MarkerFillColor;
            range.LineWidth = 2;
        }
        plot.Axes.Bottom.SetTicks(xs, rows.Select(r => r.Section).ToArray());
        plot.Axes.SetLimitsX(-0.7, rows.Count - 0.3);   // room for the outer sections' labels
        plot.Title("The seed's figures beside ours");
        plot.YLabel("test accuracy (%)");
        plot.ShowLegend(ScottPlot.Edge.Bottom);          // below the axes: inside it would hide the ranges
        return new Plot("The seed's figures beside ours", plot.GetImageBytes(1000, 450, ScottPlot.ImageFormat.Png));
    }

    /// <summary>
    /// Accuracy at each weight bit width, one line per method (<see cref="ReportRow.Method"/>: PTQ by its range method,
    /// QAT by its training method and start, each with its activation grid): per training run the best over the other
    /// axes, then the mean over runs (training seeds), so a method's line is not just its luckiest seed.
    /// </summary>
    private static Plot AccuracyByBits(IReadOnlyList<ReportRow> evaluations, string title, string xLabel)
    {
        var plot = new ScottPlot.Plot();
        foreach (var series in evaluations.GroupBy(r => r.Method!).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var points = series.GroupBy(r => r.Quantization!.WeightBits).OrderBy(g => g.Key)
                .Select(g => (Bits: (double)g.Key, Accuracy: g.GroupBy(r => r.TrainKey).Average(run => run.Max(r => r.Accuracy!.Value)) * 100)).ToArray();
            var line = plot.Add.Scatter(points.Select(p => p.Bits).ToArray(), points.Select(p => p.Accuracy).ToArray());
            line.LegendText = series.Key;
            line.MarkerSize = 7;
        }
        plot.Title($"{title} (mean over runs)");
        plot.XLabel(xLabel);
        plot.YLabel("test accuracy (%), each run's best");
        plot.ShowLegend(ScottPlot.Alignment.LowerRight);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericFixedInterval(1); // bit widths are integers
        return new Plot($"{title}, per method", plot.GetImageBytes(900, 500, ScottPlot.ImageFormat.Png));
    }
}
