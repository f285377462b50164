using QuantLab.Engine.Jobs;
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
    public void The_seed_study_plans_its_trainings_over_three_seeds_and_every_seed_evaluation()
    {
        var plan = Plan("seed-hw1.json");
        var jobs = plan.Jobs.GroupBy(j => j.Kind).ToDictionary(g => g.Key, g => g.Count());
        // Per training seed (1, 2, 3): fp32, fp32-bias, and QAT with float and with fixed-point M.
        Assert.Equal(3 * 4, jobs[JobKind.Train]);
        // fp32: weights/none, all/none; fp32-bias: weights/none, weights/float, weights/int32, all/none, all/float, all/int32;
        // QAT: float, fixed-point.
        Assert.Equal(3 * (2 + 6 + 2), jobs[JobKind.Evaluate]);
        Assert.NotEmpty(plan.Dropped); // bias modes on the bias-free model
    }

    [Fact]
    public void Dropped_combinations_are_summarised_by_reason()
    {
        var plan = Plan("seed-hw1.json");
        var byReason = plan.DroppedByReason().ToDictionary(d => d.Reason);
        Assert.Equal(plan.Dropped.Count, byReason.Values.Sum(d => d.Count));
        // fp32, per seed: scope weights and all, each with bias float and int32.
        const string noFloat = "bias float needs a model with bias; this one has none (use bias none, or a model trained with bias)";
        const string noInt32 = "bias int32 needs a model with bias; this one has none (use bias none, or a model trained with bias)";
        Assert.Equal(3 * 2, byReason[noFloat].Count);
        Assert.Equal(3 * 2, byReason[noInt32].Count);
        Assert.StartsWith("fp32[seed=1]", byReason[noFloat].Example, StringComparison.Ordinal);
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
