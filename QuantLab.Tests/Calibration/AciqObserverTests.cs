using QuantLab.Actors.Campaigns;
using QuantLab.Actors.Planning;
using QuantLab.Engine;
using QuantLab.Engine.Calibration;
using QuantLab.Engine.Jobs;

namespace QuantLab.Tests.Calibration;

/// <summary><c>aciq</c>: Banner et al.'s analytical clipping for a Laplace fit, registered as one observer.</summary>
public class AciqObserverTests
{
    [Theory]
    [InlineData(2, 2.83)]
    [InlineData(3, 3.89)]
    [InlineData(4, 5.03)]
    [InlineData(5, 6.20)]
    [InlineData(6, 7.41)]
    [InlineData(7, 8.64)]
    [InlineData(8, 9.89)]
    public void The_paper_constants_solve_the_optimality_equation(int bits, double paper)
    {
        Assert.Equal(paper, AciqObserver.ClippingConstant(bits));
        // The paper's constants solve t·e^t = 3·4^n to within 0.01 (their own numerics round slightly low).
        Assert.Equal(paper, AciqObserver.SolveClipping(bits), 0.01);
    }

    [Fact]
    public void Other_widths_solve_the_equation_and_grow_with_the_bits()
    {
        for (int bits = 9; bits <= 16; bits++)
        {
            double t = AciqObserver.ClippingConstant(bits);
            Assert.Equal(Math.Log(3) + bits * Math.Log(4), Math.Log(t) + t, 9);
            Assert.True(t > AciqObserver.ClippingConstant(bits - 1));
        }
    }

    [Fact]
    public void On_Laplace_samples_the_threshold_is_about_c_times_b()
    {
        var random = new Random(3);
        const double b = 0.2;
        var values = Enumerable.Range(0, 200_000).Select(_ =>
        {
            double u = random.NextDouble() - 0.5;
            return (float)(-b * Math.Sign(u) * Math.Log(1 - 2 * Math.Abs(u)));
        }).ToArray();
        var observer = new AciqObserver(4);
        observer.Observe(values);
        Assert.Equal(5.03 * b, observer.Compute().Threshold, 0.02);
        var eight = new AciqObserver(8);
        eight.Observe(values);
        Assert.True(eight.Compute().Threshold > observer.Compute().Threshold);
    }

    [Fact]
    public void Aciq_is_an_option_of_the_CLI_and_of_campaigns_and_its_calibrate_key_holds_the_bits()
    {
        Assert.Equal("aciq", RangeMethod.Parse("ACIQ").ToOption());
        Assert.Contains("aciq", RangeMethod.Allowed);
        Assert.Throws<BadInputException>(() => RangeMethod.Parse("aciq:3"));
        var plan = CampaignPlanner.Plan(CampaignSpecParser.Parse("""{"name":"a","train":{"id":"m"},"quantize":{"weightRange":"aciq","actRange":"aciq","weightBits":[4,8]}}"""), "d", "e");
        var calibrations = plan.Jobs.Where(j => j.Kind == JobKind.Calibrate).Select(j => Assert.IsType<CalibrateJob>(j.Job)).ToList();
        Assert.Equal(2, calibrations.Count);   // one per weight bit width: the clipping depends on it
        Assert.Equal([4, 8], calibrations.Select(c => c.Ranges.Weights.Bits!.Value).Order());
    }

    [Fact]
    public void QAT_refuses_aciq_at_the_spec_path()
    {
        var e = Assert.Throws<BadInputException>(() => CampaignSpecParser.Parse("""{"name":"a","train":{"id":"q","qat":{"weightRange":"aciq"}}}""", "spec.json"));
        Assert.Contains("$.train.qat.weightRange", e.Message);
        Assert.Contains("minmax", e.Message);
    }
}
