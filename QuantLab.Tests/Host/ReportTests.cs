using QuantLab.Engine.Jobs;
using System.Text.Json;
using QuantLab.Actors.Messages;
using QuantLab.Actors.Planning;
using QuantLab.Host.Reports;

namespace QuantLab.Tests.Host;

/// <summary>Reports built from a recorded result set: golden tables, pivots, deltas, twins, seed rows.</summary>
public class ReportTests
{
    [Fact]
    public void The_pivot_averages_accuracy_over_bit_width_and_range_method()
    {
        var report = CampaignReport.Build(ReportTestsData.Recorded());
        var pivot = report.Pivot!;
        Assert.Equal("weightBits", pivot.RowAxis);
        Assert.Equal("weightRange", pivot.ColumnAxis);
        Assert.Equal(new[] { "4", "8" }, pivot.Rows);
        Assert.Equal(new[] { "minmax", "mse" }, pivot.Columns);
        Assert.Equal((0.9000 + 0.9700) / 2, pivot.Cells[0][0]!.MeanAccuracy, 9);
        Assert.Equal(0.9700, pivot.Cells[0][0]!.BestAccuracy, 9);
        Assert.Equal(2, pivot.Cells[0][0]!.Count);
        Assert.Equal(0.9846, pivot.Cells[1][1]!.MeanAccuracy, 9);
    }

    [Fact]
    public void Other_pivot_axes_can_be_chosen()
    {
        var pivot = CampaignReport.Build(ReportTestsData.Recorded(), "method", "weightBits").Pivot!;
        Assert.Equal(new[] { "ptq", "qat" }, pivot.Rows);
        Assert.Null(pivot.Cells[1][1]); // no QAT at 8 bits
    }

    [Fact]
    public void Signed_evaluations_are_named_beside_unsigned_ones_so_the_signedness_axis_varies()
    {
        var unsigned = ReportTestsData.Eval("ptq", 4, "minmax").Replace("}", ",\"actSignedness\":\"unsigned-after-relu\"}");
        var results = new CampaignResults("u",
        [
            ReportTestsData.Result("t1", JobKind.Train, "fp32", ReportTestsData.Train, 0.9850),
            ReportTestsData.Result("e1", JobKind.Evaluate, "signed", ReportTestsData.Eval("ptq", 4, "minmax"), 0.9000, "t1"),
            ReportTestsData.Result("e2", JobKind.Evaluate, "unsigned", unsigned, 0.9500, "t1"),
        ], []);
        var pivot = CampaignReport.Build(results).Pivot!;
        Assert.Equal(new[] { "signed", "unsigned-after-relu" }, pivot.Rows);
        // A campaign without unsigned evaluations has no such axis (its reports are unchanged).
        Assert.All(ReportRow.From(ReportTestsData.Recorded()), r => Assert.Null(r.Param("actSignedness")));
    }

    [Fact]
    public void Each_evaluation_is_plotted_by_its_method_and_the_diagonal_gets_its_own_plot_where_activation_widths_vary()
    {
        const string Lsq = """{"bias":false,"epochs":2,"batchSize":4,"lr":0.001,"momentum":0.9,"seed":1,"model":"t1","qat":{"method":"lsq","scope":"all","weightBits":2,"actBits":2,"weightRange":"minmax","actRange":"minmax","granularity":"tensor","rounding":"half-even","requant":"float","bias":"none","actSignedness":"unsigned-after-relu"}}""";
        var lsqEval = ReportTestsData.Eval("qat", 2, "minmax").Replace("\"floor\"", "\"half-even\"").Replace("}", ",\"actSignedness\":\"unsigned-after-relu\"}");
        var recorded = ReportTestsData.Recorded();
        var results = recorded with
        {
            Results = [.. recorded.Results,
                ReportTestsData.Result("t3", JobKind.Train, "lsq", Lsq, 0.9720),
                ReportTestsData.Result("e6", JobKind.Evaluate, "lsq w2", lsqEval, 0.9720, "t3")],
        };
        var methods = ReportRow.From(results).Where(r => r.IsEvaluation).ToDictionary(r => r.Key, r => r.Method);
        Assert.Equal("PTQ minmax", methods["e1"]);
        Assert.Equal("PTQ mse", methods["e2"]);
        Assert.Equal("QAT observe", methods["e5"]);
        Assert.Equal("QAT lsq from FP32 unsigned", methods["e6"]);

        // Every evaluation here has equal widths: one plot against the bit width.
        string[] Titles(CampaignResults r) => ReportPlots.Render(CampaignReport.Build(r)).Select(p => p.Title).Where(t => t.StartsWith("Accuracy", StringComparison.Ordinal)).ToArray();
        Assert.Equal(["Accuracy vs weight bit width, per method"], Titles(results));
        // With 8-bit weights over 4-bit activations too, the weights = activations points get a plot of their own.
        var mixed = results with { Results = [.. results.Results, ReportTestsData.Result("e7", JobKind.Evaluate, "fp32 w8a4", ReportTestsData.Eval("ptq", 8, "minmax").Replace("\"actBits\":8", "\"actBits\":4"), 0.9600, "t1")] };
        Assert.Equal(["Accuracy vs weight bit width, per method", "Accuracy vs bit width, weights = activations, per method"], Titles(mixed));
    }

    [Fact]
    public void Deltas_are_against_fp32_and_the_ptq_qat_twin()
    {
        var deltas = CampaignReport.Build(ReportTestsData.Recorded()).Deltas.ToDictionary(d => d.Key);
        Assert.Equal(0.9000 - 0.9850, deltas["e3"].DeltaFp32!.Value, 9);
        Assert.Equal(0.9700, deltas["e3"].TwinAccuracy!.Value, 9);      // PTQ 4-bit minmax ↔ QAT 4-bit minmax, same training
        Assert.Equal(0.9700 - 0.9000, deltas["e5"].DeltaTwin!.Value, 9);
        Assert.Null(deltas["e4"].TwinAccuracy);                           // no QAT with mse
    }

    [Fact]
    public void The_best_configurations_are_listed_per_bit_width()
    {
        var best = CampaignReport.Build(ReportTestsData.Recorded()).Best;
        Assert.Equal(new[] { ("W4/A4", 1, "qat4 w4 minmax"), ("W4/A4", 2, "fp32 w4 mse"), ("W4/A4", 3, "fp32 w4 minmax"), ("W8/A8", 1, "fp32 w8 mse"), ("W8/A8", 2, "fp32 w8 minmax") },
            best.Select(b => (b.BitWidth, b.Rank, b.Label)));
    }

    [Fact]
    public void The_markdown_report_has_the_golden_tables()
    {
        var md = ReportWriter.Markdown(CampaignReport.Build(ReportTestsData.Recorded()));
        Assert.Contains("| weightBits \\ weightRange | minmax | mse |", md);
        Assert.Contains("| 4 | 93.50 (97.00, 2) | 95.00 (95.00, 1) |", md);
        Assert.Contains("| 8 | 98.40 (98.40, 1) | 98.46 (98.46, 1) |", md);
        Assert.Contains("| fp32 w4 minmax | ptq | 90.00 | 98.50 | -8.50 | 97.00 | -7.00 |", md);
        Assert.Contains("| fp32 w2 entropy | evaluate | 3 | worker lost |", md);
    }

    [Fact]
    public void Csv_has_one_line_per_job_with_every_parameter_and_metric()
    {
        var lines = ReportWriter.Csv(CampaignReport.Build(ReportTestsData.Recorded())).TrimEnd().Split('\n');
        Assert.Equal(1 + 7, lines.Length);
        var header = lines[0].Split(',');
        Assert.Contains("weightBits", header);
        Assert.Contains("train.lr", header);
        Assert.Contains("accuracy", header);
    }

    [Fact]
    public void Json_and_html_carry_the_same_results()
    {
        var report = CampaignReport.Build(ReportTestsData.Recorded());
        var json = JsonDocument.Parse(ReportWriter.Json(report)).RootElement;
        Assert.Equal(7, json.GetProperty("results").GetArrayLength());
        Assert.Equal(1, json.GetProperty("failed").GetArrayLength());
        var html = ReportWriter.Html(report);
        Assert.StartsWith("<!DOCTYPE html>", html);
        Assert.Contains("data:image/png;base64,", html);
        Assert.Contains("<td class=\"num\">93.50 (97.00, 2)</td>", html);
    }

    [Fact]
    public void The_seed_comparison_matches_the_seeds_sections()
    {
        const string trainBias = """{"bias":true,"epochs":2,"batchSize":4,"lr":0.001,"momentum":0.9,"seed":1}""";
        const string weightsOnly = """{"method":"ptq","scope":"weights","weightBits":8,"weightRange":"minmax","granularity":"tensor","rounding":"floor","bias":"none"}""";
        var seed = new CampaignResults("seed-hw1",
        [
            ReportTestsData.Result("t1", JobKind.Train, "fp32", ReportTestsData.Train, 0.9857),
            ReportTestsData.Result("t2", JobKind.Train, "fp32-bias", trainBias, 0.9884),
            ReportTestsData.Result("e1", JobKind.Evaluate, "w", weightsOnly, 0.9860, "t1"),
            ReportTestsData.Result("e2", JobKind.Evaluate, "all", ReportTestsData.Eval("ptq", 8, "minmax"), 0.9856, "t1"),
            ReportTestsData.Result("e3", JobKind.Evaluate, "bias int32", ReportTestsData.Eval("ptq", 8, "minmax").Replace("\"bias\":\"none\"", "\"bias\":\"int32\""), 0.9873, "t2"),
        ], []);
        var rows = CampaignReport.Build(seed).SeedComparison.ToDictionary(s => s.Section);
        Assert.Equal(98.57, rows["1.3"].Ours!.Value, 6);
        Assert.Equal(98.60, rows["2.2"].Ours!.Value, 6);
        Assert.Equal(98.56, rows["2.4"].Ours!.Value, 6);
        Assert.Equal(98.84, rows["2.5-fp32-bias"].Ours!.Value, 6);
        Assert.Equal(98.73, rows["2.5-weights-bias"].Ours!.Value, 6);
        Assert.Equal(1, rows["2.5-weights-bias"].Runs);
        Assert.Null(rows["2.5-weights"].Ours);
        Assert.Equal(0, rows["2.5-weights"].Runs);
        Assert.Equal(97.77, rows["2.5-weights-bias"].Seed);
        Assert.Equal(new[] { "1.3", "2.2", "2.4", "2.5-fp32-bias", "2.5-weights", "2.5-weights-bias", "3.1-fp32", "3.1-qat", "3.1-qat-fixed-point" },
            CampaignReport.Build(seed).SeedComparison.Select(s => s.Section));
    }

    [Fact]
    public void Ours_is_the_mean_over_training_seeds_of_the_seeds_settings_only()
    {
        string Train(int seed, string lr = "0.001") => $$"""{"bias":false,"epochs":2,"batchSize":4,"lr":{{lr}},"momentum":0.9,"seed":{{seed}}}""";
        var all8 = ReportTestsData.Eval("ptq", 8, "minmax");
        var results = new CampaignResults("seed-hw1",
        [
            ReportTestsData.Result("t1", JobKind.Train, "fp32[seed=1]", Train(1), 0.9857),
            ReportTestsData.Result("t2", JobKind.Train, "fp32[seed=2]", Train(2), 0.9834),
            ReportTestsData.Result("t3", JobKind.Train, "fp32[seed=3]", Train(3), 0.9767),
            ReportTestsData.Result("t4", JobKind.Train, "fast", Train(1, "0.02"), 0.9000),                         // not the seed's lr
            ReportTestsData.Result("e1", JobKind.Evaluate, "s1", all8, 0.9856, "t1"),
            ReportTestsData.Result("e2", JobKind.Evaluate, "s2", all8, 0.9830, "t2"),
            ReportTestsData.Result("e3", JobKind.Evaluate, "s2 half-even", all8.Replace("floor", "half-even"), 0.5000, "t2"),  // not the seed's rounding
            ReportTestsData.Result("e4", JobKind.Evaluate, "s2 mse", ReportTestsData.Eval("ptq", 8, "mse"), 0.5000, "t2"),   // not the seed's range
            ReportTestsData.Result("e5", JobKind.Evaluate, "fast", all8, 0.5000, "t4"),
        ], []);
        var rows = CampaignReport.Build(results).SeedComparison.ToDictionary(s => s.Section);

        var fp32 = rows["1.3"];
        Assert.Equal(3, fp32.Runs);
        Assert.Equal((98.57 + 98.34 + 97.67) / 3, fp32.Ours!.Value, 6);
        Assert.Equal(97.67, fp32.OursMin!.Value, 6);
        Assert.Equal(98.57, fp32.OursMax!.Value, 6);
        var int8 = rows["2.4"];
        Assert.Equal(2, int8.Runs);
        Assert.Equal((98.56 + 98.30) / 2, int8.Ours!.Value, 6);

        var md = ReportWriter.Markdown(CampaignReport.Build(results));
        Assert.Contains("| §1.3 | FP32 LeNet-5, 2 epochs, mini-batch 4 | 98.67 | 98.19 | 3 | 97.67 – 98.57 | -0.48 |", md);
        var json = JsonDocument.Parse(ReportWriter.Json(CampaignReport.Build(results))).RootElement.GetProperty("seedComparison")[0];
        Assert.Equal(3, json.GetProperty("runs").GetInt32());
        Assert.Equal("97.67", json.GetProperty("oursMin").GetRawText());   // not 97.66999999999999
        Assert.Contains("<img alt=\"The seed&#39;s figures beside ours\" src=\"data:image/png;base64,", ReportWriter.Html(CampaignReport.Build(results)));
    }
}

/// <summary>A recorded result set: two trainings (FP32, 4-bit QAT), five evaluations, one failed job.</summary>
internal static class ReportTestsData
{
    internal static JobResult Result(string key, JobKind kind, string label, string parameters, double accuracy, string? upstream = null, double? fp32 = null)
    {
        var numbers = new Dictionary<string, double> { ["accuracy"] = accuracy };
        if (fp32 is { } f) numbers["fp32Accuracy"] = f;
        return new JobResult(key, Record(kind, parameters, upstream), label, OutcomeStatus.Succeeded,
            new JobMetrics(numbers, new Dictionary<string, string>()), new Dictionary<string, string>(), null, "w1", "node", "1.0.0", 1, 1000);
    }

    /// <summary>The typed record of a job written as its fields (the report's axes): the codec adds what the
    /// tests leave out (type, upstream keys, input transform, the QAT schedule).</summary>
    internal static JobRecord Record(JobKind kind, string fields, string? upstream)
    {
        var o = System.Text.Json.Nodes.JsonNode.Parse(fields)!.AsObject();
        o["inputTransform"] ??= "resize";
        if (kind == JobKind.Train)
        {
            o["type"] = o["qat"] is System.Text.Json.Nodes.JsonObject ? "qat-train" : "train";
            if (o["qat"] is System.Text.Json.Nodes.JsonObject q) { q["emaConstant"] ??= 0.01; q["freezeFraction"] ??= 0.25; }
        }
        else
        {
            o["type"] = "evaluate";
            o["model"] = upstream ?? "none";
            if ((string?)o["method"] == "ptq") o["ranges"] = "ranges-of-" + (upstream ?? "none");
        }
        return JobCodec.Read(o.ToJsonString());
    }

    internal const string Train = """{"bias":false,"epochs":2,"batchSize":4,"lr":0.001,"momentum":0.9,"seed":1}""";
    internal const string TrainQat4 = """{"bias":false,"epochs":2,"batchSize":4,"lr":0.001,"momentum":0.9,"seed":1,"qat":{"scope":"all","weightBits":4,"actBits":4,"weightRange":"minmax","actRange":"minmax","granularity":"tensor","rounding":"floor","requant":"float","bias":"none"}}""";

    internal static string Eval(string method, int bits, string range) =>
        $$"""{"method":"{{method}}","scope":"all","weightBits":{{bits}},"actBits":{{bits}},"weightRange":"{{range}}","actRange":"minmax","granularity":"tensor","rounding":"floor","requant":"float","bias":"none"}""";

    internal static CampaignResults Recorded() => new("sweep",
    [
        Result("t1", JobKind.Train, "fp32", Train, 0.9850),
        Result("t2", JobKind.Train, "qat4", TrainQat4, 0.9700),
        Result("e1", JobKind.Evaluate, "fp32 w8 minmax", Eval("ptq", 8, "minmax"), 0.9840, "t1", 0.9850),
        Result("e2", JobKind.Evaluate, "fp32 w8 mse", Eval("ptq", 8, "mse"), 0.9846, "t1", 0.9850),
        Result("e3", JobKind.Evaluate, "fp32 w4 minmax", Eval("ptq", 4, "minmax"), 0.9000, "t1", 0.9850),
        Result("e4", JobKind.Evaluate, "fp32 w4 mse", Eval("ptq", 4, "mse"), 0.9500, "t1", 0.9850),
        Result("e5", JobKind.Evaluate, "qat4 w4 minmax", Eval("qat", 4, "minmax"), 0.9700, "t2", 0.9710),
    ], [new FailedJob("e9", JobKind.Evaluate, "fp32 w2 entropy", "worker lost", 3)]);
}
