using System.CommandLine;
using QuantLab.Actors.Campaigns;
using QuantLab.Actors.Planning;
using QuantLab.Engine;
using QuantLab.Engine.Jobs;
using QuantLab.Host.Cli;

namespace QuantLab.Tests.Quantization;

/// <summary>
/// One option grammar: the CLI's flags and a campaign's fields accept and refuse the same configurations, for the
/// same reason. Every scope × bias × requant × rounding × granularity, on a model with and without bias.
/// </summary>
public class GrammarAgreementTests
{
    public static IEnumerable<object[]> Combinations() =>
        from scope in new[] { "weights", "all" }
        from bias in new[] { "none", "float", "int32" }
        from requant in new[] { "float", "fixed-point:16" }
        from rounding in new[] { "floor", "half-even", "half-away" }
        from granularity in new[] { "tensor", "channel" }
        from modelHasBias in new[] { false, true }
        select new object[] { scope, bias, requant, rounding, granularity, modelHasBias };

    [Theory]
    [MemberData(nameof(Combinations))]
    public void The_CLI_and_the_planner_give_the_same_verdict(string scope, string bias, string requant, string rounding, string granularity, bool modelHasBias)
    {
        // The CLI: the quantize verb's flags, read and checked as `quantlab quantize` does.
        var flags = new QuantizationFlags();
        var command = new RootCommand();
        foreach (var option in flags.All) command.Add(option);
        var parse = command.Parse(["--scope", scope, "--bias", bias, "--requant", requant, "--rounding", rounding, "--granularity", granularity]);
        Assert.Empty(parse.Errors);
        string? cliVerdict = null;
        try { flags.Read(parse, modelHasBias); }
        catch (BadInputException e) { cliVerdict = e.Message; }

        // The planner: the same values as campaign fields, on a training with or without bias.
        var spec = CampaignSpecParser.Parse($$$"""
            {"name":"g","train":{"id":"m","bias":{{{(modelHasBias ? "true" : "false")}}}},
             "quantize":{"scope":"{{{scope}}}","bias":"{{{bias}}}","requant":"{{{requant}}}","rounding":"{{{rounding}}}","granularity":"{{{granularity}}}"}}
            """);
        var plan = CampaignPlanner.Plan(spec, "d", "e");
        string? planVerdict = plan.Dropped.SingleOrDefault()?.Reason;
        Assert.Equal(planVerdict is null, plan.Count(JobKind.Evaluate) == 1);

        Assert.Equal(planVerdict is null, cliVerdict is null);
        if (planVerdict is not null) Assert.Contains(planVerdict, cliVerdict);   // the same rule, in the same words
    }

    [Fact]
    public void Weights_only_with_an_int32_bias_runs_in_both_and_calibrates_the_activations_it_needs()
    {
        var spec = CampaignSpecParser.Parse("""{"name":"w","train":{"id":"m","bias":true},"quantize":{"scope":"weights","bias":"int32"}}""");
        var plan = CampaignPlanner.Plan(spec, "d", "e");
        Assert.Empty(plan.Dropped);
        var calibrate = Assert.IsType<CalibrateJob>(plan.Jobs.Single(j => j.Kind == JobKind.Calibrate).Job);
        Assert.NotNull(calibrate.Ranges.Activations);   // the input step s_x of every layer enters bq = R(b / (s_w·s_x))
        Assert.Equal(1000, calibrate.Ranges.CalibrationImages);
    }
}
