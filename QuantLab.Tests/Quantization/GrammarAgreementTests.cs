using System.CommandLine;
using QuantLab.Actors.Campaigns;
using QuantLab.Actors.Planning;
using QuantLab.Engine;
using QuantLab.Engine.Jobs;
using QuantLab.Host.Cli;

namespace QuantLab.Tests.Quantization;

/// <summary>
/// One option grammar: the CLI's flags and a campaign's fields accept and refuse the same configurations, for the
/// same reason. Every scope × bias × requant × rounding × granularity × act signedness, on a model with and without bias.
/// </summary>
public class GrammarAgreementTests
{
    public static IEnumerable<object[]> Combinations() =>
        from scope in new[] { "weights", "all" }
        from bias in new[] { "none", "float", "int32" }
        from requant in new[] { "float", "fixed-point:16" }
        from rounding in new[] { "floor", "half-even", "half-away" }
        from granularity in new[] { "tensor", "channel" }
        from signedness in new[] { "signed", "unsigned-after-relu" }
        from modelHasBias in new[] { false, true }
        select new object[] { scope, bias, requant, rounding, granularity, signedness, modelHasBias };

    [Theory]
    [MemberData(nameof(Combinations))]
    public void The_CLI_and_the_planner_give_the_same_verdict(string scope, string bias, string requant, string rounding, string granularity, string signedness, bool modelHasBias)
    {
        // The CLI: the quantize verb's flags, read and checked as `quantlab quantize` does.
        var (flags, command) = Cli();
        var parse = command.Parse(["--scope", scope, "--bias", bias, "--requant", requant, "--rounding", rounding, "--granularity", granularity, "--act-signedness", signedness]);
        Assert.Empty(parse.Errors);
        string? cliVerdict = null;
        try { flags.Read(parse, modelHasBias); }
        catch (BadInputException e) { cliVerdict = e.Message; }

        // The planner: the same values as campaign fields, on a training with or without bias.
        var spec = CampaignSpecParser.Parse($$$"""
            {"name":"g","train":{"id":"m","bias":{{{(modelHasBias ? "true" : "false")}}}},
             "quantize":{"scope":"{{{scope}}}","bias":"{{{bias}}}","requant":"{{{requant}}}","rounding":"{{{rounding}}}","granularity":"{{{granularity}}}","actSignedness":"{{{signedness}}}"}}
            """);
        var plan = CampaignPlanner.Plan(spec, "d", "e");
        string? planVerdict = plan.Dropped.SingleOrDefault()?.Reason;
        Assert.Equal(planVerdict is null, plan.Count(JobKind.Evaluate) == 1);

        Assert.Equal(planVerdict is null, cliVerdict is null);
        if (planVerdict is not null) Assert.Contains(planVerdict, cliVerdict);   // the same rule, in the same words
    }

    [Fact]
    public void The_CLI_and_the_planner_refuse_an_unknown_act_signedness_naming_the_allowed_values()
    {
        var (flags, command) = Cli();
        var cli = Assert.Throws<BadInputException>(() => flags.Read(command.Parse(["--act-signedness", "unsigned"]), modelHasBias: false));
        Assert.Contains("signed, unsigned-after-relu", cli.Message);
        var spec = Assert.Throws<BadInputException>(() => CampaignSpecParser.Parse("""{"name":"g","train":{"id":"m"},"quantize":{"actSignedness":"unsigned"}}"""));
        Assert.Contains("$.quantize.actSignedness", spec.Message);
        Assert.Contains("signed, unsigned-after-relu", spec.Message);
    }

    [Theory]
    [InlineData("--weight-bits", "1", "$.quantize.weightBits")]
    [InlineData("--act-bits", "1", "$.quantize.actBits")]
    [InlineData("--weight-bits", "17", "$.quantize.weightBits")]
    public void Bit_widths_outside_2_to_16_are_refused_by_the_CLI_and_the_spec_naming_the_allowed_range(string flag, string bits, string path)
    {
        var (flags, command) = Cli();
        var cli = Assert.Throws<BadInputException>(() => flags.Read(command.Parse([flag, bits]), modelHasBias: false));
        Assert.Contains("2 to 16", cli.Message);
        var field = path[(path.LastIndexOf('.') + 1)..];
        var spec = Assert.Throws<BadInputException>(() => CampaignSpecParser.Parse($$$"""{"name":"g","train":{"id":"m"},"quantize":{"{{{field}}}":{{{bits}}}}}"""));
        Assert.Contains(path, spec.Message);
        Assert.Contains("2 to 16", spec.Message);
    }

    /// <summary>The quantize verb's flags on a command, read as `quantlab quantize` reads them.</summary>
    private static (QuantizationFlags Flags, RootCommand Command) Cli()
    {
        var flags = new QuantizationFlags();
        var command = new RootCommand();
        foreach (var option in flags.All) command.Add(option);
        return (flags, command);
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
