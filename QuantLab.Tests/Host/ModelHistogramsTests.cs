using QuantLab.Engine.Jobs;
using QuantLab.Actors.Messages;
using QuantLab.Actors.Planning;
using QuantLab.Actors.Storage;
using QuantLab.Actors.Workers;
using QuantLab.Engine;
using QuantLab.Engine.Model;
using QuantLab.Engine.Training;
using QuantLab.Host.Reports;
using QuantLab.Tests.Engine;

namespace QuantLab.Tests.Host;

/// <summary>The HTML report's histograms come from the models a campaign stored, one per training configuration.</summary>
public sealed class ModelHistogramsTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void One_model_per_training_configuration_is_drawn_whatever_its_seeds()
    {
        var db = _dir.File("lab.db");
        new SqliteLabStore(db).PrepareForWriting();
        var store = new DbArtifactStore(new SqliteLabStore(db));
        JobResult Stored(string key, string label, bool bias, int seed)
        {
            Fp32Model model;
            lock (TorchThreads.Gate)
            {
                TorchSharp.torch.manual_seed(seed);
                using var module = new LeNet5(bias);
                model = Fp32Model.FromModule(module, new ModelManifest());
            }
            var parameters = $$"""{"bias":{{(bias ? "true" : "false")}},"epochs":2,"batchSize":4,"lr":0.001,"momentum":0.9,"seed":{{seed}}}""";
            return new JobResult(key, ReportTestsData.Record(JobKind.Train, parameters, null), label, OutcomeStatus.Succeeded,
                new JobMetrics(new Dictionary<string, double> { ["accuracy"] = 0.1 }, new Dictionary<string, string>()),
                EngineArtifacts.PutModel(model, store), null, "w1", "node", "1.0.0", 1, 1000);
        }
        var results = new CampaignResults("seeds",
        [
            Stored("t1", "fp32[seed=1]", bias: false, seed: 1),
            Stored("t2", "fp32[seed=2]", bias: false, seed: 2),
            Stored("t3", "fp32-bias[seed=1]", bias: true, seed: 1),
        ], []);
        var random = new Random(7);
        var images = new LabeledImages(Enumerable.Range(0, 20 * 32 * 32).Select(_ => random.NextSingle() * 2 - 1).ToArray(), new byte[20]);

        var sections = ModelHistograms.For(results, store, _ => images, models: 2);

        Assert.Equal(new[] { "Weight and activation histograms: fp32[seed=1]", "Weight and activation histograms: fp32-bias[seed=1]" },
            sections.Select(s => s.Title));
        Assert.All(sections, s => Assert.NotEmpty(s.Plots));
        Assert.All(sections.SelectMany(s => s.Plots), p => Assert.Equal(0x89, p.Png[0])); // PNG signature
    }
}
