using QuantLab.Actors.Campaigns;
using QuantLab.Actors.Planning;

namespace QuantLab.Tests.Actors;

/// <summary>The shipped campaign specs parse and plan to the intended job graphs.</summary>
public class ExperimentSpecsTests
{
    private static string Spec(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var path = Path.Combine(dir.FullName, "experiments", name);
            if (File.Exists(path)) return path;
        }
        throw new FileNotFoundException($"experiments/{name} not found above {AppContext.BaseDirectory}");
    }

    private static CampaignPlan Plan(string name) =>
        CampaignPlanner.Plan(CampaignSpecParser.ParseFile(Spec(name)), QuantLab.Engine.Data.MnistFileSet.Standard.Fingerprint);

    [Fact]
    public void The_seed_study_plans_three_trainings_and_every_seed_evaluation()
    {
        var plan = Plan("seed-hw1.json");
        var jobs = plan.Jobs.GroupBy(j => j.Kind).ToDictionary(g => g.Key, g => g.Count());
        // fp32, fp32-bias, and QAT with float and with fixed-point M.
        Assert.Equal(4, jobs[JobKind.Train]);
        // fp32: weights/none, all/none; fp32-bias: weights/none, weights/float, all/none, all/float, all/int32; QAT: float, fixed-point.
        Assert.Equal(2 + 5 + 2, jobs[JobKind.Evaluate]);
        Assert.NotEmpty(plan.Dropped); // bias modes on the bias-free model
    }

    [Fact]
    public void The_bitwidth_sweep_covers_bits_methods_roundings_and_requant_modes()
    {
        var evaluations = Plan("bitwidth-sweep.json").Jobs.Count(j => j.Kind == JobKind.Evaluate);
        Assert.Equal(7 * 7 * 5 * 5 * 3 * 2, evaluations);
    }

    [Fact]
    public void The_hyperparameter_sweep_trains_fp32_and_qat_over_the_grid()
    {
        var plan = Plan("hyperparam-sweep.json");
        Assert.Equal(2 * 36, plan.Jobs.Count(j => j.Kind == JobKind.Train));
        Assert.Equal(36 + 36, plan.Jobs.Count(j => j.Kind == JobKind.Evaluate));
    }
}
