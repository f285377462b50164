using QuantLab.Engine.Calibration;
using QuantLab.Engine.Export;
using QuantLab.Engine.Int;
using QuantLab.Engine.Ptq;
using QuantLab.Engine.Quantization;
using QuantLab.Tests.Engine;

namespace QuantLab.Tests.Export;

/// <summary>Integer models for the export tests: the quick bias model, calibrated on 200 images, quantized with a
/// configuration given as option text; the test set quantized and run through the engine.</summary>
internal static class ExportFixtures
{
    public static QuantizationConfig Config(int weightBits, int actBits, string rounding, string requant, string bias, string granularity) =>
        QuantizationConfig.Default with
        {
            WeightBits = weightBits, ActBits = actBits, Rounding = RoundingMode.Parse(rounding), Requant = RequantSpec.Parse(requant),
            Bias = BiasMode.Parse(bias), Granularity = Granularity.Parse(granularity),
        };

    public static IntModel Model(QuantizationConfig config)
    {
        var model = SharedModels.QuickBias;
        return PtqBuilder.BuildInteger(model, Calibrator.Calibrate(model, Calibrator.Sample(SharedMnist.Train, 200), config), config);
    }

    /// <summary>The model and the engine's run of the first <paramref name="images"/> test images (0: all 10,000).</summary>
    public static (IntModel Model, ExportedTestSet TestSet) Quantized(QuantizationConfig config, int images = 0)
    {
        var intModel = Model(config);
        var test = images == 0 ? SharedMnist.Test : SharedMnist.TestSubset(images);
        var inputs = QuantizeJob.QuantizeInputs(intModel, test);
        return (intModel, new ExportedTestSet(inputs, test.Labels, IntegerEngine.Run(intModel, inputs), 10));
    }
}
