using QuantLab.Actors.Workers;
using QuantLab.Engine.Calibration;
using QuantLab.Engine.Model;
using QuantLab.Engine.Ptq;
using QuantLab.Engine.Quantization;
using QuantLab.Tests.Engine;
using QuantizationError = QuantLab.Engine.Ptq.QuantizationError;

namespace QuantLab.Tests.Calibration;

/// <summary>
/// A sweep's calibrations share what they can compute from the model alone: one FP32 forward pass per
/// (model, calibration set), one computation per distinct range, with results equal to computing afresh.
/// </summary>
public class ModelStatisticsTests
{
    private static readonly string[] Methods = ["minmax", "sigma:3", "percentile:99.99", "entropy", "mse", "aciq"];

    /// <summary>A new model object with the same weights: nothing of the shared model's statistics carries over to it.</summary>
    private static Fp32Model Copy(Fp32Model model) => new()
    {
        Manifest = model.Manifest,
        Parameters = model.Parameters.ToDictionary(p => p.Key, p => p.Value),
    };

    private static IEnumerable<QuantizationConfig> Sweep() =>
        from method in Methods
        from bits in new[] { 3, 8 }
        from rounding in new[] { RoundingMode.Floor, RoundingMode.HalfEven }
        from granularity in new[] { Granularity.Tensor, Granularity.Channel }
        select QuantizationConfig.Default with
        {
            WeightRange = RangeMethod.Parse(method), ActRange = RangeMethod.Parse(method),
            WeightBits = bits, ActBits = bits, Rounding = rounding, Granularity = granularity,
        };

    [Fact]
    public void A_sweep_of_calibrations_runs_the_model_once_and_each_distinct_range_once_with_the_results_of_a_fresh_computation()
    {
        var model = Copy(SharedModels.Quick);
        var statistics = ModelStatistics.Of(model);
        var calibration = Calibrator.Sample(SharedMnist.Train, 300);
        var configs = Sweep().ToList();

        var shared = configs.Select(c => Calibrator.Calibrate(model, Calibrator.Sample(SharedMnist.Train, 300), RangePlan.For(c, 300))).ToList();

        Assert.Equal(1, statistics.ForwardPasses);
        var distinctRequests = configs.Select(c => RangePlan.For(c, 300)).ToList();
        int weightRanges = distinctRequests.Select(p => (p.Weights, p.Granularity)).Distinct().Count() * ActivationPoints.WeightLayers.Count();
        int activationRanges = distinctRequests.Select(p => p.Activations).Distinct().Count();
        Assert.Equal(weightRanges + activationRanges, statistics.RangeComputations);
        Assert.True(statistics.RangeComputations < configs.Count * (ActivationPoints.WeightLayers.Count() + 1), "some ranges were shared between configurations");

        // Equal, bit for bit, to each configuration calibrated on its own model object (a fresh forward pass, fresh observers).
        for (int i = 0; i < configs.Count; i++)
        {
            var fresh = Calibrator.Calibrate(Copy(model), calibration, RangePlan.For(configs[i], 300));
            foreach (var layer in ActivationPoints.WeightLayers)
                Assert.Equal(fresh.Weights[layer], shared[i].Weights[layer]);
            Assert.Equal(fresh.Activations.OrderBy(a => a.Key), shared[i].Activations.OrderBy(a => a.Key));
        }
    }

    [Fact]
    public void Evaluations_that_measure_the_same_activation_grid_share_one_SQNR_computation_equal_to_a_fresh_one()
    {
        var model = Copy(SharedModels.Quick);
        var statistics = ModelStatistics.Of(model);
        var images = SharedMnist.Test.Take(64);
        var config = QuantizationConfig.Default;
        var ranges = Calibrator.Calibrate(model, Calibrator.Sample(SharedMnist.Train, 300), RangePlan.For(config, 300));
        IReadOnlyDictionary<string, double> Sqnr(CalibrationResult r, int bits = 8, RoundingMode rounding = RoundingMode.HalfEven) =>
            QuantizationError.ActivationSqnrDb(model, r, bits, rounding, ActSignedness.Signed, images);

        var first = Sqnr(ranges);
        // Other weight ranges (another weight method or bit width), the same activation grid: shared.
        Assert.Same(first, Sqnr(ranges with { Weights = ranges.Weights.ToDictionary(w => w.Key, w => w.Value.Select(r => new ObservedRange(r.Min / 2, r.Max / 2)).ToArray()) }));
        Assert.Equal(1, statistics.SqnrComputations);

        // Another grid each: another bit width, rounding, or one point's threshold.
        var coarser = Sqnr(ranges, bits: 3);
        var floor = Sqnr(ranges, rounding: RoundingMode.Floor);
        var wider = Sqnr(ranges with { Activations = ranges.Activations.ToDictionary(a => a.Key, a => a.Key == "conv1" ? new ObservedRange(a.Value.Min * 2, a.Value.Max * 2) : a.Value) });
        Assert.Equal(4, statistics.SqnrComputations);
        Assert.True(coarser["conv1"] < first["conv1"], $"3 bits {coarser["conv1"]} dB, 8 bits {first["conv1"]} dB");
        Assert.NotEqual(first["conv1"], floor["conv1"]);
        Assert.NotEqual(first["conv1"], wider["conv1"]);
        Assert.Equal(first["conv3"], wider["conv3"]);

        // Each equal, bit for bit, to the computation on a model object of its own.
        var fresh = Copy(model);
        Assert.Equal(first.OrderBy(p => p.Key), QuantizationError.ActivationSqnrDb(fresh, ranges, 8, RoundingMode.HalfEven, ActSignedness.Signed, images).OrderBy(p => p.Key));
        Assert.Equal(coarser.OrderBy(p => p.Key), QuantizationError.ActivationSqnrDb(fresh, ranges, 3, RoundingMode.HalfEven, ActSignedness.Signed, images).OrderBy(p => p.Key));
    }

    [Fact]
    public void A_calibration_sample_is_one_object_per_train_set_count_and_seed()
    {
        Assert.Same(Calibrator.Sample(SharedMnist.Train, 123), Calibrator.Sample(SharedMnist.Train, 123));
        Assert.NotSame(Calibrator.Sample(SharedMnist.Train, 123), Calibrator.Sample(SharedMnist.Train, 124));
        Assert.NotSame(Calibrator.Sample(SharedMnist.Train, 123), Calibrator.Sample(SharedMnist.Train, 123, seed: 5));
        Assert.Equal(Calibrator.Sample(SharedMnist.Train, 123).Pixels, Calibrator.Sample(SharedMnist.Train.Take(60000), 123).Pixels);
    }

    [Fact]
    public void A_returned_weight_range_array_is_the_callers_own()
    {
        var model = Copy(SharedModels.Quick);
        var request = RangeRequest.For(RangeMethod.MinMax, 8, RoundingMode.Floor);
        var first = ModelStatistics.Of(model).WeightRanges("conv1", request, Granularity.Channel);
        first[0] = new ObservedRange(-99, 99);
        Assert.NotEqual(first[0], ModelStatistics.Of(model).WeightRanges("conv1", request, Granularity.Channel)[0]);
    }

    [Fact]
    public void Jobs_that_name_the_same_model_files_share_one_model_object()
    {
        int loads = 0;
        Fp32Model Load() { loads++; return Copy(SharedModels.Quick); }
        var files = new Dictionary<string, string> { ["model/conv1.weight.npy"] = Guid.NewGuid().ToString("N"), ["model/model.json"] = "b" };
        var first = RecentModels.GetOrLoad(files, Load);
        var again = RecentModels.GetOrLoad(new Dictionary<string, string>(files.Reverse()), Load);
        Assert.Same(first, again);
        Assert.Equal(1, loads);
        var other = RecentModels.GetOrLoad(new Dictionary<string, string>(files) { ["model/model.json"] = "c" }, Load);
        Assert.NotSame(first, other);
        Assert.Equal(2, loads);
    }
}
