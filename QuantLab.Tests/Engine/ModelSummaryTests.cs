using QuantLab.Engine.Model;

namespace QuantLab.Tests.Engine;

public class ModelSummaryTests
{
    [Fact]
    public void The_default_model_has_the_seeds_parameters_and_mult_adds()
    {
        var s = ModelSummary.For(bias: false, batch: 4);
        var weighted = s.Layers.Where(l => l.Params > 0).Select(l => (l.Name, l.Params)).ToArray();
        Assert.Equal(new[] { ("conv1", 150L), ("conv3", 2_400L), ("conv5", 48_000L), ("fc6", 10_080L), ("output", 840L) }, weighted);
        Assert.Equal(61_470, s.TotalParams);
        Assert.Equal(1_666_080, s.MultAdds);
    }

    [Fact]
    public void The_model_with_bias_has_one_more_parameter_per_output()
    {
        Assert.Equal(61_470 + 6 + 16 + 120 + 84 + 10, ModelSummary.For(bias: true).TotalParams);
        Assert.Equal(61_706, ModelSummary.For(bias: true).TotalParams);
    }

    [Fact]
    public void Output_shapes_and_activation_sizes_follow_the_seeds_tables()
    {
        var s = ModelSummary.For(bias: false, batch: 4);
        Assert.Equal(new[] { 4, 6, 28, 28 }, s.Layers.Single(l => l.Name == "conv1").OutputShape);
        Assert.Equal(new[] { 4, 16, 5, 5 }, s.Layers.Single(l => l.Name == "pool4").OutputShape);
        Assert.Equal(new[] { 4, 120, 1, 1 }, s.Layers.Single(l => l.Name == "conv5").OutputShape);
        Assert.Equal(new[] { 4, 10 }, s.Layers[^1].OutputShape);
        var sizes = s.Activations.Select(a => (a.Layer, ActivationRow.Size(a.InputShape), ActivationRow.Size(a.OutputShape))).ToArray();
        Assert.Equal(new[]
        {
            ("conv1", 1024L, 4704L), ("pool2", 4704L, 1176L), ("conv3", 1176L, 1600L), ("pool4", 1600L, 400L),
            ("conv5", 400L, 120L), ("fc6", 120L, 84L), ("output", 84L, 10L),
        }, sizes);
    }

    [Fact]
    public void Mult_adds_scale_with_the_batch()
    {
        Assert.Equal(1_666_080 / 4, ModelSummary.For(false, batch: 1).MultAdds);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_torch_module_has_as_many_parameters_as_the_summary_says(bool bias)
    {
        using var model = new LeNet5(bias);
        long count = model.parameters().Sum(p => p.numel());
        Assert.Equal(ModelSummary.For(bias).TotalParams, count);
    }
}
