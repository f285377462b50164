using QuantLab.Engine.Calibration;
using System.Globalization;
using System.Text;
using QuantLab.Engine.Model;
using QuantLab.Engine.Ptq;
using QuantLab.Engine.Training;

namespace QuantLab.Engine.Reports;

/// <summary>One row of the seed's §2.1.2 / §2.3.2 comparison: the 3-sigma range against the real range.</summary>
public sealed record RangeRow(string Kind, string Name, double SigmaMin, double SigmaMax, double RealMin, double RealMax, long Count)
{
    public double SigmaWidth => SigmaMax - SigmaMin;
    public double RealWidth => RealMax - RealMin;
    public string Larger => SigmaWidth > RealWidth ? "3-sigma" : SigmaWidth < RealWidth ? "real" : "equal";
}

/// <summary>
/// The seed's §2.1 and §2.3 outputs: per-layer histograms of the weights and of the activations
/// (PNG, drawn with ScottPlot), and the table of 3-sigma (mean ± 3σ) against real (min/max) ranges,
/// as markdown and CSV. Written by <c>quantlab quantize --report DIR</c>.
/// </summary>
public static class RangeReport
{
    public static IReadOnlyList<RangeRow> Write(string directory, Fp32Model model, LabeledImages calibration)
    {
        var rows = new List<RangeRow>();
        AtomicFile.WriteDirectory(directory, tmp =>
        {
            foreach (var layer in ActivationPoints.WeightLayers)
            {
                var values = model.Layer(layer).Weight.Data;
                rows.Add(Row("weights", layer, values));
                Histogram(Path.Combine(tmp, $"weights-{layer}.png"), $"{layer} weights", values);
            }
            var activations = ActivationPoints.All.ToDictionary(p => p, _ => new List<float>());
            ModelStatistics.Of(model).ForEachActivation(calibration, (point, values) => activations[point].AddRange(values));
            foreach (var point in ActivationPoints.All)
            {
                var values = activations[point].ToArray();
                rows.Add(Row("activations", point, values));
                Histogram(Path.Combine(tmp, $"activations-{point}.png"), $"{point} activations ({calibration.Count} images)", values);
            }
            File.WriteAllText(Path.Combine(tmp, "ranges.md"), Markdown(rows, calibration.Count));
            File.WriteAllText(Path.Combine(tmp, "ranges.csv"), Csv(rows));
        });
        return rows;
    }

    /// <summary>The seed's two ranges of <paramref name="values"/>, from the sigma:3 and minmax observers.</summary>
    public static RangeRow Row(string kind, string name, ReadOnlySpan<float> values)
    {
        var sigma = new SigmaObserver(3);
        var real = new MinMaxObserver();
        sigma.Observe(values);
        real.Observe(values);
        var (s, r) = (sigma.Compute(), real.Compute());
        return new RangeRow(kind, name, s.Min, s.Max, r.Min, r.Max, values.Length);
    }

    private static void Histogram(string path, string title, float[] values) => File.WriteAllBytes(path, HistogramPng(title, values));

    /// <summary>A 100-bin histogram of <paramref name="values"/> with the 3-sigma bounds dashed, as PNG bytes.</summary>
    public static byte[] HistogramPng(string title, float[] values, int width = 640, int height = 400)
    {
        double min = values.Min(), max = values.Max();
        if (max <= min) max = min + 1e-6;
        var histogram = ScottPlot.Statistics.Histogram.WithBinCount(100, min, max);
        histogram.AddRange(values.Select(v => (double)v));
        var plot = new ScottPlot.Plot();
        plot.Add.Histogram(histogram);
        plot.Title(title);
        plot.XLabel("value");
        plot.YLabel("count");
        var row = Row("", "", values);
        foreach (var x in new[] { row.SigmaMin, row.SigmaMax })
        {
            var line = plot.Add.VerticalLine(x);
            line.LinePattern = ScottPlot.LinePattern.Dashed;
            line.Color = ScottPlot.Colors.OrangeRed;
        }
        return plot.GetImageBytes(width, height, ScottPlot.ImageFormat.Png);
    }

    /// <summary>Every layer's weight histogram and every activation point's, on <paramref name="calibration"/>, as PNG bytes in that order.</summary>
    public static IReadOnlyList<(string Title, byte[] Png)> Histograms(Fp32Model model, LabeledImages calibration)
    {
        var plots = new List<(string, byte[])>();
        foreach (var layer in ActivationPoints.WeightLayers)
            plots.Add(($"{layer} weights", HistogramPng($"{layer} weights", model.Layer(layer).Weight.Data)));
        var activations = ActivationPoints.All.ToDictionary(p => p, _ => new List<float>());
        ModelStatistics.Of(model).ForEachActivation(calibration, (point, values) => activations[point].AddRange(values));
        foreach (var point in ActivationPoints.All)
            plots.Add(($"{point} activations", HistogramPng($"{point} activations ({calibration.Count} images)", activations[point].ToArray())));
        return plots;
    }

    private static string F(double v) => v.ToString("G9", CultureInfo.InvariantCulture);

    public static string Markdown(IReadOnlyList<RangeRow> rows, int images)
    {
        var sb = new StringBuilder();
        sb.AppendLine("# Ranges: 3-sigma (mean ± 3σ) against real (min/max)");
        sb.AppendLine();
        sb.AppendLine($"Weights of every layer (seed §2.1.2); activations after each layer's ReLU on {images} calibration images (seed §2.3.2).");
        foreach (var kind in new[] { "weights", "activations" })
        {
            sb.AppendLine();
            sb.AppendLine($"## {char.ToUpperInvariant(kind[0])}{kind[1..]}");
            sb.AppendLine();
            sb.AppendLine("| name | 3-sigma range | 3-sigma width | real range | real width | larger |");
            sb.AppendLine("|---|---|---:|---|---:|---|");
            foreach (var r in rows.Where(r => r.Kind == kind))
                sb.AppendLine($"| {r.Name} | [{F(r.SigmaMin)}, {F(r.SigmaMax)}] | {F(r.SigmaWidth)} | [{F(r.RealMin)}, {F(r.RealMax)}] | {F(r.RealWidth)} | {r.Larger} |");
        }
        return sb.ToString();
    }

    public static string Csv(IReadOnlyList<RangeRow> rows)
    {
        var sb = new StringBuilder("kind,name,sigma_min,sigma_max,sigma_width,real_min,real_max,real_width,larger,count\n");
        foreach (var r in rows)
            sb.AppendLine(string.Join(',', r.Kind, r.Name, F(r.SigmaMin), F(r.SigmaMax), F(r.SigmaWidth), F(r.RealMin), F(r.RealMax), F(r.RealWidth), r.Larger, r.Count));
        return sb.ToString();
    }
}
