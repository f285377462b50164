using QuantLab.Engine;
using QuantLab.Engine.Model;
using QuantLab.Engine.Training;

namespace QuantLab.Tests.Engine;

public class TrainingTests
{
    private static Trainer.Result Train(TrainOptions options, List<string>? log = null)
    {
        lock (TorchThreads.Gate) return Trainer.Train(options, SharedMnist.Train, SharedMnist.Test, log is null ? null : log.Add);
    }

    [Fact]
    public void A_short_training_on_a_subset_learns_far_above_chance()
    {
        var log = new List<string>();
        var result = Train(new TrainOptions { Epochs = 1, TrainLimit = 6000, LogEvery = 250 }, log);
        using var _ = result.Model;
        Assert.True(result.TestAccuracy > 0.7, $"accuracy {result.TestAccuracy} (chance is 0.1)");
        // The seed's progress format: "[1, 250] loss: 1.234", then the test accuracy in percent.
        Assert.Matches(@"^\[1, 250\] loss: \d+\.\d{3}$", log[0]);
        Assert.Equal(6000 / 4 / 250, log.Count(l => l.StartsWith("[1,")));
        Assert.Matches(@"^\d+\.\d{2}$", log[^1]);
        Assert.True(result.Epochs[0].MeanLoss < 2.0);
    }

    [Fact]
    public void The_same_seed_and_thread_count_give_the_same_weights_bit_for_bit()
    {
        var options = new TrainOptions { Epochs = 1, TrainLimit = 1200, Seed = 11 };
        var a = Train(options);
        var b = Train(options);
        var c = Train(options with { Seed = 12 });
        using (a.Model) using (b.Model) using (c.Model)
        {
            var wa = Fp32Model.FromModule(a.Model, new ModelManifest());
            var wb = Fp32Model.FromModule(b.Model, new ModelManifest());
            var wc = Fp32Model.FromModule(c.Model, new ModelManifest());
            foreach (var name in wa.Parameters.Keys)
                Assert.Equal(wa.Parameters[name].Data.Select(BitConverter.SingleToInt32Bits), wb.Parameters[name].Data.Select(BitConverter.SingleToInt32Bits));
            Assert.NotEqual(wa.Parameters["conv1.weight"].Data, wc.Parameters["conv1.weight"].Data);
            Assert.Equal(a.TestAccuracy, b.TestAccuracy);
        }
    }

    [Fact]
    public void Divergence_is_reported_as_such()
    {
        var e = Assert.Throws<TrainingDivergedException>(() => Train(new TrainOptions { Epochs = 1, TrainLimit = 400, Lr = 1e6, Momentum = 0.9 }));
        Assert.Contains("diverged", e.Message);
    }

    [Theory]
    [InlineData(0, 4, 0.001, 0.9, "--epochs")]
    [InlineData(1, 0, 0.001, 0.9, "--batch-size")]
    [InlineData(1, 4, -1.0, 0.9, "--lr")]
    [InlineData(1, 4, 0.001, 1.5, "--momentum")]
    public void Bad_options_are_refused_before_training(int epochs, int batch, double lr, double momentum, string named)
    {
        var e = Assert.Throws<BadInputException>(() => new TrainOptions { Epochs = epochs, BatchSize = batch, Lr = lr, Momentum = momentum }.Validate());
        Assert.Contains(named, e.Message);
    }

    [Fact]
    public void The_shuffle_is_a_seeded_permutation()
    {
        var a = new DeterministicShuffle(5).Permutation(1000);
        Assert.Equal(Enumerable.Range(0, 1000), a.Order());
        Assert.Equal(a, new DeterministicShuffle(5).Permutation(1000));
        Assert.NotEqual(a, new DeterministicShuffle(6).Permutation(1000));
        Assert.NotEqual(Enumerable.Range(0, 1000), a);
    }
}
