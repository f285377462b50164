using System.Security.Cryptography;
using QuantLab.Engine.Model;
using QuantLab.Engine.Qat;
using QuantLab.Engine.Quantization;
using QuantLab.Engine.Training;
using QuantLab.Tests.Engine;
using TorchSharp;

namespace QuantLab.Tests.Training;

/// <summary>A training's weights depend on its seed alone: every initialization draws from a generator of its
/// own, so concurrent trainings give the same bits whatever the interleaving.</summary>
public sealed class SeededInitTests
{
    /// <summary>SHA-256 of the parameters' names and float bits, in registration order.</summary>
    private static string Fingerprint(LeNet5 module)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (name, p) in module.named_parameters())
        {
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(name));
            using var cpu = p.detach().contiguous();
            hash.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(cpu.data<float>().ToArray().AsSpan()));
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static string Fingerprint(Fp32Model model)
    {
        using var module = model.ToModule();
        return Fingerprint(module);
    }

    /// <summary>What torch.manual_seed(seed) followed by construction drew before (measured with torch's own
    /// initializers): the same distributions and draws, so trained weights and the README's figures stay.</summary>
    [Theory]
    [InlineData(false, 1, "c16fd5688f53f06fa88d21006c8e7d91562379d0c24c1ecfbb4d714fe52bff4a")]
    [InlineData(true, 1, "07f5d9c459cc85c975a0337eecf6a6b3d5b942f7f4adec9fb0bc533d4c2c6cf9")]
    [InlineData(false, 3, "2bc80896092175ff56e3fc71add939f11d176ae1f298d0e9392a4f1c0a4f8bad")]
    public void A_seed_draws_the_initial_weights_torch_s_defaults_draw(bool bias, int seed, string expected)
    {
        using var module = LeNet5.Seeded(bias, seed);
        Assert.Equal(expected, Fingerprint(module));
    }

    [Fact]
    public void Concurrent_trainings_give_bit_identical_weights_in_every_interleaving()
    {
        var options = new TrainOptions { Epochs = 1, TrainLimit = 240, Threads = 1 };
        var qat = new QatOptions { Config = QuantizationConfig.Default };
        var jobs = new (string Name, Func<string> Run)[]
        {
            ("fp32 seed 1", () => Fingerprint(Trainer.Train(options with { Seed = 1 }, SharedMnist.Train, SharedMnist.TestSubset(50)).Model)),
            ("fp32 seed 2", () => Fingerprint(Trainer.Train(options with { Seed = 2 }, SharedMnist.Train, SharedMnist.TestSubset(50)).Model)),
            ("qat seed 1", () => Fingerprint(QatTrainer.Train(qat, options with { Seed = 1 }, SharedMnist.Train, SharedMnist.TestSubset(50)).Model.Weights)),
            // Draws from torch's process-wide generator meanwhile, as another worker's evaluation would.
            ("global draws", () => { torch.manual_seed(99); using var m = new LeNet5(true); return ""; }),
        };
        lock (TorchThreads.Gate)   // one intra-op thread count for all (a process-wide setting other tests change)
        {
            var reference = jobs.Select(j => j.Run()).ToArray();
            Assert.Equal(reference[0], Fingerprint(Trainer.Train(options with { Seed = 1 }, SharedMnist.Train, SharedMnist.TestSubset(50)).Model));
            Assert.NotEqual(reference[0], reference[1]);
            var random = new Random(5);
            for (int round = 0; round < 4; round++)
            {
                // Each job twice, in a shuffled order, each started after a small random delay, all at once.
                var order = Enumerable.Range(0, jobs.Length * 2).Select(i => i % jobs.Length).OrderBy(_ => random.Next()).ToArray();
                // Released together, then staggered by a random spin (not by sleeping), so the jobs' starts interleave differently each round.
                var spins = order.Select(_ => random.Next(0, 2_000_000)).ToArray();
                var results = new string[order.Length];
                using var start = new Barrier(order.Length);
                var threads = order.Select((j, i) => new Thread(() => { start.SignalAndWait(); Thread.SpinWait(spins[i]); results[i] = jobs[j].Run(); })).ToList();
                threads.ForEach(t => t.Start());
                threads.ForEach(t => t.Join());
                for (int i = 0; i < order.Length; i++)
                    Assert.True(reference[order[i]] == results[i], $"round {round}: {jobs[order[i]].Name} gave other weights when run concurrently");
            }
        }
    }
}
