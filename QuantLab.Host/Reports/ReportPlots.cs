namespace QuantLab.Host.Reports;

/// <summary>The report's plots, drawn with ScottPlot.</summary>
public static class ReportPlots
{
    public sealed record Plot(string Title, byte[] Png);

    public static IReadOnlyList<Plot> Render(CampaignReport report)
    {
        var plots = new List<Plot>();
        var evaluations = report.Rows.Where(r => r.IsEvaluation && r.Accuracy is not null && r.Param("weightBits") is not null).ToList();
        if (evaluations.Select(r => r.Param("weightBits")).Distinct().Count() > 1)
            plots.Add(AccuracyByBits(evaluations));
        return plots;
    }

    /// <summary>Best accuracy at each weight bit width, one line per weight range method (PTQ and QAT apart).</summary>
    private static Plot AccuracyByBits(IReadOnlyList<ReportRow> evaluations)
    {
        var plot = new ScottPlot.Plot();
        foreach (var series in evaluations.GroupBy(r => $"{(r.IsQat ? "QAT" : "PTQ")} {r.Param("weightRange") ?? "minmax"}").OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var points = series.GroupBy(r => int.Parse(r.Param("weightBits")!)).OrderBy(g => g.Key)
                .Select(g => (Bits: (double)g.Key, Accuracy: g.Max(r => r.Accuracy!.Value) * 100)).ToArray();
            var line = plot.Add.Scatter(points.Select(p => p.Bits).ToArray(), points.Select(p => p.Accuracy).ToArray());
            line.LegendText = series.Key;
            line.MarkerSize = 7;
        }
        plot.Title("Accuracy vs weight bit width (best over the other axes)");
        plot.XLabel("weight bits");
        plot.YLabel("test accuracy (%)");
        plot.ShowLegend(ScottPlot.Alignment.LowerRight);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericFixedInterval(1); // bit widths are integers
        return new Plot("Accuracy vs weight bit width, per range method", plot.GetImageBytes(900, 500, ScottPlot.ImageFormat.Png));
    }
}
