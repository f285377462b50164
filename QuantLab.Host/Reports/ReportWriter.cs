using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using QuantLab.Engine;
using QuantLab.Host.Output;

namespace QuantLab.Host.Reports;

/// <summary>Renders a <see cref="CampaignReport"/> as markdown, CSV, JSON or a self-contained HTML page.</summary>
public static partial class ReportWriter
{
    [System.Text.RegularExpressions.GeneratedRegex(@"^[+-]?\d+(\.\d+)?( \(.*\))?$")]
    private static partial System.Text.RegularExpressions.Regex NumericCell();

    public static readonly string[] Formats = ["md", "csv", "json", "html"];

    public static string FileName(string campaign, string format) => $"{campaign}.{(format == "md" ? "md" : format)}";

    public static string Render(CampaignReport report, string format, System.Text.Json.Nodes.JsonObject? header = null,
        IReadOnlyList<ModelHistograms.Section>? histograms = null) => format switch
    {
        "md" => Markdown(report),
        "csv" => Csv(report),
        "json" => Json(report, header),
        "html" => Html(report, histograms),
        _ => throw new BadInputException($"--format '{format}' is not one of: {string.Join(", ", Formats)}"),
    };

    private static string P(double? fraction) => fraction is { } f ? (f * 100).ToString("F2", CultureInfo.InvariantCulture) : "-";
    private static string Pts(double? delta) => delta is { } d ? (d * 100).ToString("+0.00;-0.00;0.00", CultureInfo.InvariantCulture) : "-";
    private static string F(double? v) => v is { } x ? x.ToString("F2", CultureInfo.InvariantCulture) : "-";

    public static string Markdown(CampaignReport r)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"# Campaign `{r.Campaign}`");
        sb.AppendLine();
        static string Count(int n, string noun) => $"{n} {noun}{(n == 1 ? "" : "s")}";
        var kinds = string.Join(", ", new[] { ("train", "training"), ("calibrate", "calibration"), ("evaluate", "evaluation") }
            .Select(k => (Noun: k.Item2, N: r.Rows.Count(x => x.Kind == k.Item1))).Where(k => k.N > 0).Select(k => Count(k.N, k.Noun)));
        sb.AppendLine($"{Count(r.Rows.Count, "recorded job")} ({kinds}), {r.Failed.Count} failed. Accuracies in percent.");
        if (r.SeedComparison.Count > 0)
        {
            sb.AppendLine();
            sb.AppendLine("## The seed's figures beside ours");
            sb.AppendLine();
            sb.AppendLine("The seed's figure is one training run; ours is the mean over this campaign's training seeds (runs), with their lowest and highest.");
            sb.AppendLine();
            sb.AppendLine("| section | what | seed | ours | runs | lowest – highest | difference |");
            sb.AppendLine("|---|---|---:|---:|---:|---:|---:|");
            foreach (var s in r.SeedComparison)
                sb.AppendLine($"| §{s.Section} | {s.What} | {F(s.Seed)} | {F(s.Ours)} | {s.Runs} | {(s.Runs > 0 ? $"{F(s.OursMin)} – {F(s.OursMax)}" : "-")} | " +
                              $"{(s.Ours is { } o ? (o - s.Seed).ToString("+0.00;-0.00;0.00", CultureInfo.InvariantCulture) : "-")} |");
        }
        if (r.Pivot is { } pivot)
        {
            sb.AppendLine();
            sb.AppendLine($"## Accuracy by {pivot.RowAxis} × {pivot.ColumnAxis}");
            sb.AppendLine();
            sb.AppendLine("Mean over the other axes (best, number of configurations).");
            sb.AppendLine();
            sb.AppendLine($"| {pivot.RowAxis} \\ {pivot.ColumnAxis} | {string.Join(" | ", pivot.Columns)} |");
            sb.AppendLine($"|---|{string.Concat(pivot.Columns.Select(_ => "---:|"))}");
            for (int i = 0; i < pivot.Rows.Count; i++)
                sb.AppendLine($"| {pivot.Rows[i]} | {string.Join(" | ", pivot.Cells[i].Select(c => c is null ? "-" : $"{P(c.MeanAccuracy)} ({P(c.BestAccuracy)}, {c.Count})"))} |");
        }
        if (r.Best.Count > 0)
        {
            sb.AppendLine();
            sb.AppendLine("## Best configurations per bit width");
            sb.AppendLine();
            sb.AppendLine("| bits | rank | configuration | accuracy |");
            sb.AppendLine("|---|---:|---|---:|");
            foreach (var b in r.Best) sb.AppendLine($"| {b.BitWidth} | {b.Rank} | {b.Label} | {P(b.Accuracy)} |");
        }
        if (r.Deltas.Count > 0)
        {
            sb.AppendLine();
            sb.AppendLine("## Every evaluation against FP32 and against its PTQ↔QAT twin");
            sb.AppendLine();
            sb.AppendLine("| configuration | method | accuracy | FP32 | Δ FP32 (points) | twin | Δ twin (points) |");
            sb.AppendLine("|---|---|---:|---:|---:|---:|---:|");
            foreach (var d in r.Deltas.OrderBy(d => d.Label, StringComparer.Ordinal))
                sb.AppendLine($"| {d.Label} | {d.Method} | {P(d.Accuracy)} | {P(d.Fp32Accuracy)} | {Pts(d.DeltaFp32)} | {P(d.TwinAccuracy)} | {Pts(d.DeltaTwin)} |");
        }
        var trainRows = r.Rows.Where(x => x.Kind == "train").ToList();
        if (trainRows.Count > 0)
        {
            sb.AppendLine();
            sb.AppendLine("## Trainings");
            sb.AppendLine();
            sb.AppendLine("| training | accuracy | status |");
            sb.AppendLine("|---|---:|---|");
            foreach (var t in trainRows) sb.AppendLine($"| {t.Label} | {P(t.Accuracy)} | {t.Status}{(t.Error is null ? "" : ": " + t.Error)} |");
        }
        var configurationFailures = r.Rows.Where(x => x.Status != "succeeded").ToList();
        if (r.Failed.Count > 0 || configurationFailures.Count > 0)
        {
            sb.AppendLine();
            sb.AppendLine("## Failed jobs");
            sb.AppendLine();
            sb.AppendLine("| job | kind | attempts | error |");
            sb.AppendLine("|---|---|---:|---|");
            foreach (var f in r.Failed) sb.AppendLine($"| {f.Label} | {f.Kind.ToString().ToLowerInvariant()} | {f.Attempts} | {f.Error.ReplaceLineEndings(" ")} |");
            foreach (var f in configurationFailures) sb.AppendLine($"| {f.Label} | {f.Kind} | - | configuration: {f.Error?.ReplaceLineEndings(" ")} |");
        }
        return sb.ToString();
    }

    /// <summary>One line per recorded job: kind, label, every parameter and every metric seen in the campaign.</summary>
    public static string Csv(CampaignReport r)
    {
        var parameters = r.Rows.SelectMany(x => x.Params.Keys).Distinct().Order(StringComparer.Ordinal).ToList();
        var metrics = r.Rows.SelectMany(x => x.Metrics.Keys).Distinct().Order(StringComparer.Ordinal).ToList();
        var sb = new StringBuilder();
        sb.AppendLine(string.Join(',', new[] { "job", "kind", "label", "status" }.Concat(parameters).Concat(metrics).Select(Quote)));
        foreach (var x in r.Rows)
            sb.AppendLine(string.Join(',', new[] { x.Key, x.Kind, x.Label, x.Status }
                .Concat(parameters.Select(p => x.Param(p) ?? ""))
                .Concat(metrics.Select(m => x.Metric(m)?.ToString("R", CultureInfo.InvariantCulture) ?? ""))
                .Select(Quote)));
        return sb.ToString();
    }

    private static string Quote(string s) => s.IndexOfAny([',', '"', '\n']) >= 0 ? $"\"{s.Replace("\"", "\"\"")}\"" : s;

    /// <summary>
    /// One document: <paramref name="header"/>'s fields (the command adds status, engine version and the
    /// dropped combinations), then <c>results</c> (one entry per job: job, kind, label, params, upstream,
    /// status, metrics {numbers, text}, artifacts, error, node, worker, engineVersion, attempt, durationMs),
    /// <c>failed</c>, <c>pivot</c>, <c>deltas</c>, <c>best</c> and, where the campaign has the seed's jobs,
    /// <c>seedComparison</c> (section, what, seed, ours = the mean over training seeds, runs, oursMin, oursMax; accuracies in percent).
    /// </summary>
    public static string Json(CampaignReport r, System.Text.Json.Nodes.JsonObject? header = null)
    {
        // Written straight to UTF-8, part by part: a document object model of a 100,000-job campaign's results would
        // hold millions of nodes (the report of one such campaign peaked at 1.2 GB that way).
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = JsonOutput.Options.WriteIndented, Encoder = JsonOutput.Options.Encoder }))
        {
            w.WriteStartObject();
            w.WriteString("campaign", r.Campaign);
            if (header is not null)
                foreach (var (key, value) in header)
                {
                    w.WritePropertyName(key);
                    if (value is null) w.WriteNullValue();
                    else value.WriteTo(w, JsonOutput.Options);
                }
            Property("results", r.Source.Results.Select(x => new
            {
                job = x.Key,
                kind = x.Kind.ToString().ToLowerInvariant(),
                label = x.Label,
                @params = QuantLab.Engine.Jobs.JobCodec.Write(x.Job),
                upstream = x.Upstream,
                status = x.Status.ToString(),
                metrics = new { numbers = x.Metrics.Numbers, text = x.Metrics.Text },
                artifacts = x.Artifacts,
                error = x.Error,
                node = x.Node,
                worker = x.Worker,
                identity = x.Identity,
                engineVersion = x.EngineVersion,
                attempt = x.Attempt,
                durationMs = x.DurationMs,
            }));
            Property("failed", r.Failed.Select(f => new { job = f.Key, kind = f.Kind.ToString().ToLowerInvariant(), label = f.Label, error = f.Error, attempts = f.Attempts }));
            Property("pivot", r.Pivot);
            Property("deltas", r.Deltas);
            Property("best", r.Best);
            if (r.SeedComparison.Count > 0) Property("seedComparison", r.SeedComparison);
            w.WriteEndObject();

            void Property<T>(string name, T value)
            {
                w.WritePropertyName(name);
                JsonSerializer.Serialize(w, value, JsonOutput.Options);
            }
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    public static string Html(CampaignReport r, IReadOnlyList<ModelHistograms.Section>? histograms = null)
    {
        var markdownTables = Markdown(r);
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>QuantLab: ")
          .Append(WebUtility.HtmlEncode(r.Campaign)).Append("</title><style>")
          .Append("body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:72rem;color:#222;padding:0 1rem}")
          .Append("table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}td,th{border:1px solid #ccc;padding:.25rem .6rem}")
          .Append("th{background:#f0f3f7}td.num{text-align:right;font-variant-numeric:tabular-nums}img{max-width:100%;border:1px solid #eee}")
          .Append("h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem}.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(20rem,1fr));gap:.5rem}</style></head><body>");
        // The title and summary, then the plots, then the tables.
        int firstSection = markdownTables.IndexOf("\n## ", StringComparison.Ordinal);
        sb.Append(MarkdownToHtml(firstSection < 0 ? markdownTables : markdownTables[..firstSection]));
        foreach (var plot in ReportPlots.Render(r))
            sb.Append("<figure><img alt=\"").Append(WebUtility.HtmlEncode(plot.Title)).Append("\" src=\"data:image/png;base64,")
              .Append(Convert.ToBase64String(plot.Png)).Append("\"><figcaption>").Append(WebUtility.HtmlEncode(plot.Title)).Append("</figcaption></figure>");
        if (firstSection >= 0) sb.Append(MarkdownToHtml(markdownTables[firstSection..]));
        foreach (var section in histograms ?? [])
        {
            sb.Append("<h2>").Append(WebUtility.HtmlEncode(section.Title)).Append("</h2><div class=\"grid\">");
            foreach (var plot in section.Plots)
                sb.Append("<img alt=\"").Append(WebUtility.HtmlEncode(plot.Title)).Append("\" src=\"data:image/png;base64,").Append(Convert.ToBase64String(plot.Png)).Append("\">");
            sb.Append("</div>");
        }
        sb.Append("</body></html>");
        return sb.ToString();
    }

    /// <summary>The subset of markdown the report itself writes: headings, paragraphs, pipe tables.</summary>
    private static string MarkdownToHtml(string markdown)
    {
        var sb = new StringBuilder();
        var lines = markdown.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r');
            if (line.StartsWith("## ")) sb.Append("<h2>").Append(Inline(line[3..])).Append("</h2>");
            else if (line.StartsWith("# ")) sb.Append("<h1>").Append(Inline(line[2..])).Append("</h1>");
            else if (line.StartsWith('|'))
            {
                sb.Append("<table>");
                bool header = true;
                for (; i < lines.Length && lines[i].StartsWith('|'); i++)
                {
                    var cells = lines[i].TrimEnd('\r').Trim().Trim('|').Split('|').Select(c => c.Trim()).ToArray();
                    if (cells.All(c => c.Trim(':', '-').Length == 0)) { header = false; continue; }
                    sb.Append("<tr>");
                    foreach (var c in cells)
                    {
                        bool numeric = !header && NumericCell().IsMatch(c);
                        sb.Append(header ? "<th>" : numeric ? "<td class=\"num\">" : "<td>").Append(Inline(c)).Append(header ? "</th>" : "</td>");
                    }
                    sb.Append("</tr>");
                }
                i--;
                sb.Append("</table>");
            }
            else if (line.Length > 0) sb.Append("<p>").Append(Inline(line)).Append("</p>");
        }
        return sb.ToString();
    }

    private static string Inline(string text)
    {
        var encoded = WebUtility.HtmlEncode(text).Replace("\\\\", "\\");
        var parts = encoded.Split('`');
        return string.Concat(parts.Select((p, i) => i % 2 == 1 ? $"<code>{p}</code>" : p));
    }
}
