using QuantLab.Engine.Export;
using QuantLab.Engine.Int;
using QuantLab.Engine.Model;
using QuantLab.Engine.Ptq;
using QuantLab.Engine.Quantization;

namespace QuantLab.Fuzz;

/// <summary>
/// A valid export to fuzz: LeNet-5 with seeded random weights and fixed thresholds (no training, no data set),
/// written once per process with four test images, so the export reader gets as far as a real export takes it.
/// </summary>
internal static class ExportFixture
{
    private static readonly Lazy<(string Directory, byte[] Manifest)> Written = new(Write);

    public static string Directory => Written.Value.Directory;

    /// <summary>The valid model.json.</summary>
    public static byte[] Manifest => Written.Value.Manifest;

    private static (string, byte[]) Write()
    {
        var random = new Random(1);
        var parameters = new Dictionary<string, NpyArray<float>>();
        var weightThresholds = new Dictionary<string, double[]>();
        foreach (var layer in LeNet5Architecture.WeightLayers)
        {
            int[] shape = layer switch
            {
                ConvSpec c => [c.OutChannels, c.InChannels, c.Kernel, c.Kernel],
                LinearSpec l => [l.OutFeatures, l.InFeatures],
                _ => throw new InvalidOperationException(layer.Name),
            };
            parameters[layer.Name + ".weight"] = new NpyArray<float>(shape, Enumerable.Range(0, shape.Aggregate(1, (a, b) => a * b)).Select(_ => (float)(random.NextDouble() - 0.5) / 4).ToArray());
            weightThresholds[layer.Name] = [0.125];
        }
        var model = new Fp32Model { Manifest = new ModelManifest(), Parameters = parameters };
        var activationThresholds = ActivationPoints.All.ToDictionary(p => p, _ => 2.0);
        activationThresholds["input"] = 1.0;
        var intModel = PtqBuilder.BuildInteger(model, weightThresholds, activationThresholds, QuantizationConfig.Default);

        const int images = 4;
        var inputs = Enumerable.Range(0, images * 1024).Select(_ => (short)random.Next(-127, 128)).ToArray();
        var testSet = new ExportedTestSet(inputs, [1, 2, 3, 4], IntegerEngine.Run(intModel, inputs), LeNet5Architecture.Classes);
        var directory = Path.Combine(FuzzTargets.Scratch, "export");
        IntExport.Write(directory, intModel, testSet);
        return (directory, File.ReadAllBytes(Path.Combine(directory, "model.json")));
    }
}
