using QuantLab.Engine;
using QuantLab.Engine.Model;
using TorchSharp;

namespace QuantLab.Tests.Engine;

public sealed class Fp32ModelTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ql-model-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_saved_model_reloads_bit_for_bit(bool bias)
    {
        torch.manual_seed(7);
        using var module = new LeNet5(bias);
        var model = Fp32Model.FromModule(module, new ModelManifest { TestAccuracy = 0.5 });
        var dir = Path.Combine(_dir, "m");
        model.Save(dir);

        var back = Fp32Model.Load(dir);
        Assert.Equal(bias, back.HasBias);
        Assert.Equal(model.Parameters.Keys.Order(), back.Parameters.Keys.Order());
        foreach (var (name, array) in model.Parameters)
        {
            Assert.Equal(array.Shape, back.Parameters[name].Shape);
            Assert.Equal(array.Data.Select(BitConverter.SingleToInt32Bits), back.Parameters[name].Data.Select(BitConverter.SingleToInt32Bits));
        }
        // And through a module again.
        using var reloaded = back.ToModule();
        var again = Fp32Model.FromModule(reloaded, back.Manifest);
        Assert.Equal(model.Parameters["conv1.weight"].Data, again.Parameters["conv1.weight"].Data);
        Assert.False(Directory.EnumerateFileSystemEntries(_dir).Any(p => Path.GetFileName(p).StartsWith('.')), "no temporary directory left behind");
    }

    [Fact]
    public void A_directory_of_another_shape_is_refused_naming_the_file()
    {
        using var module = new LeNet5(false);
        var dir = Path.Combine(_dir, "m");
        Fp32Model.FromModule(module, new ModelManifest()).Save(dir);
        QuantLab.Engine.Export.Npy.Write<float>(Path.Combine(dir, "fc6.weight.npy"), new float[84 * 100], 84, 100);
        var e = Assert.Throws<BadInputException>(() => Fp32Model.Load(dir));
        Assert.Contains("fc6.weight.npy", e.Message);
        Assert.Contains("[84,120]", e.Message);
    }

    [Fact]
    public void A_missing_directory_or_manifest_is_a_clear_error()
    {
        Assert.Contains("not found", Assert.Throws<BadInputException>(() => Fp32Model.Load(Path.Combine(_dir, "nope"))).Message);
        Directory.CreateDirectory(Path.Combine(_dir, "empty"));
        Assert.Contains("model.json", Assert.Throws<BadInputException>(() => Fp32Model.Load(Path.Combine(_dir, "empty"))).Message);
    }
}
