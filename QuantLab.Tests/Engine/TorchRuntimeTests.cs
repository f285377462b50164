using QuantLab.Engine;
using TorchSharp;
using static TorchSharp.torch;

namespace QuantLab.Tests.Engine;

public class TorchRuntimeTests
{
    [Fact]
    public void A_TorchSharp_convolution_runs_and_computes_the_right_numbers()
    {
        TorchRuntime.EnsureInitialized();
        using var input = ones(1, 1, 3, 3);
        using var conv = nn.Conv2d(1, 1, 2, bias: false);
        using (no_grad()) conv.weight!.copy_(tensor(new float[] { 1, 2, 3, 4 }).reshape(1, 1, 2, 2));
        using var output = conv.forward(input);
        Assert.Equal(new long[] { 1, 1, 2, 2 }, output.shape);
        Assert.All(output.data<float>().ToArray(), v => Assert.Equal(10f, v));
    }
}
