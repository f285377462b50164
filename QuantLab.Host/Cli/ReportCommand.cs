using System.CommandLine;
using QuantLab.Engine;
using QuantLab.Host.Lab;
using QuantLab.Host.Reports;

namespace QuantLab.Host.Cli;

/// <summary><c>quantlab report CAMPAIGN</c>: comparison tables and plots built from the database's events alone.</summary>
public static class ReportCommand
{
    public static Command Create(Func<CliContext> context)
    {
        var campaign = LabOptions.NamedArgument<string>("campaign", "The campaign's name");
        var db = LabOptions.Database();
        var format = new Option<string>("--format")
        {
            Description = "md (tables), csv (one line per job), json (results + pivot, deltas, best, seedComparison), html (tables and plots)",
            DefaultValueFactory = _ => "md",
        };
        var output = new Option<string?>("--out") { Description = "Write <campaign>.<format> into this directory (and print its path) instead of printing the report" };
        var rows = new Option<string?>("--rows") { Description = "Pivot rows: a parameter such as weightBits, weightRange, rounding, requant, train.lr (default: the first that varies)" };
        var cols = new Option<string?>("--cols") { Description = "Pivot columns: another parameter (default: the next that varies)" };
        var command = new Command("report", "Report a campaign from the database: pivot of accuracy over two axes, deltas against FP32 and the PTQ-QAT twin, best per bit width, failures, the seed's figures")
        {
            campaign, db, format, output, rows, cols,
        };
        command.SetAction(async (parse, cancel) =>
        {
            var ctx = context();
            var fmt = parse.GetValue(format)!;
            if (!ReportWriter.Formats.Contains(fmt))
                throw new BadInputException($"--format '{fmt}' is not one of: {string.Join(", ", ReportWriter.Formats)}");
            var outDir = parse.GetValue(output);
            if (outDir is not null) DataCommand.EnsureWritableParent(Path.Combine(outDir, "report"));
            var store = LabOptions.Store(ctx, parse.GetValue(db));
            var name = parse.GetValue(campaign)!;
            var state = await LabReader.LoadAsync(store);
            LabReader.RequireCampaign(state, name, store);
            var results = state.Results(name);
            var report = CampaignReport.Build(results, parse.GetValue(rows), parse.GetValue(cols));
            if (report.Pivot is { } pivot && report.Rows.Any(r => r.IsEvaluation))
                foreach (var axis in new[] { pivot.RowAxis, pivot.ColumnAxis })
                    if (!report.Rows.Any(r => r.Param(axis) is not null))
                        throw new BadInputException($"--rows/--cols: no job of '{name}' has a parameter '{axis}'; known: {string.Join(", ", report.Rows.SelectMany(r => r.Params.Keys).Distinct().Order())}");
            var histograms = fmt == "html" ? ModelHistograms.For(ctx.Options.Data, ctx.Err.WriteLine, store, results) : null;
            var text = ReportWriter.Render(report, fmt, ReportFiles.Header(state, name, LabReader.Orphaned(store)), histograms);
            if (outDir is null)
            {
                ctx.Out.Write(text);
                if (!text.EndsWith('\n')) ctx.Out.WriteLine();
                return 0;
            }
            Directory.CreateDirectory(outDir);
            var file = Path.Combine(outDir, ReportWriter.FileName(name, fmt));
            AtomicFile.WriteAllText(file, text);
            ctx.Out.WriteLine(Path.GetFullPath(file));
            return 0;
        });
        return command;
    }
}
