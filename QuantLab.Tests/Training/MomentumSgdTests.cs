using QuantLab.Engine;
using QuantLab.Engine.Model;
using QuantLab.Engine.Training;
using QuantLab.Tests.Engine;
using TorchSharp;
using static TorchSharp.torch;

namespace QuantLab.Tests.Training;

public sealed class MomentumSgdTests
{
    /// <summary>The weights after <paramref name="steps"/> mini-batches of 32, updated by <paramref name="step"/>.</summary>
    private static float[][] TrainWith(Func<LeNet5, (Action ZeroGrad, Action Step, IDisposable Optimizer)> optimizer, int steps)
    {
        lock (TorchThreads.Gate)
        {
            using var model = LeNet5.Seeded(bias: true, seed: 5);
            var (zeroGrad, step, owner) = optimizer(model);
            using var _ = owner;
            using var criterion = nn.CrossEntropyLoss();
            using var images = SharedMnist.Train.Take(32 * steps).ImagesTensor();
            using var labels = SharedMnist.Train.Take(32 * steps).LabelsTensor();
            for (int b = 0; b < steps; b++)
            {
                using var scope = NewDisposeScope();
                zeroGrad();
                criterion.forward(model.forward(images.narrow(0, 32 * b, 32)), labels.narrow(0, 32 * b, 32)).backward();
                step();
            }
            return model.parameters().Select(p => p.detach().contiguous().data<float>().ToArray()).ToArray();
        }
    }

    [Theory]
    [InlineData(0.9)]
    [InlineData(0.0)]
    public void Updates_the_weights_bit_for_bit_as_TorchSharp_s_SGD(double momentum)
    {
        TorchRuntime.EnsureInitialized();
        var ours = TrainWith(m => { var o = new MomentumSgd(m.parameters(), 0.01, momentum); return (o.ZeroGrad, o.Step, o); }, 12);
        var torchs = TrainWith(m => { var o = optim.SGD(m.parameters(), 0.01, momentum); return (o.zero_grad, () => o.step(), o); }, 12);
        var initial = TrainWith(m => { var o = new MomentumSgd(m.parameters(), 0.01, momentum); return (o.ZeroGrad, () => { }, o); }, 1);

        Assert.Equal(torchs.Length, ours.Length);
        for (int i = 0; i < ours.Length; i++) Assert.Equal(torchs[i].Select(BitConverter.SingleToInt32Bits), ours[i].Select(BitConverter.SingleToInt32Bits));
        // The steps did move the weights.
        Assert.NotEqual(initial[0], ours[0]);
    }
}
