using QuantLab.Engine.Training;
using QuantLab.Engine.Jobs;
using QuantLab.Actors.Campaigns;
using QuantLab.Actors.Messages;
using QuantLab.Actors.Planning;
using QuantLab.Actors.Storage;
using QuantLab.Actors.Workers;
using QuantLab.Engine.Data;
using QuantLab.Engine.Ptq;
using QuantLab.Engine.Quantization;
using QuantLab.Tests.Engine;

namespace QuantLab.Tests.Actors;

public sealed class EngineJobExecutorTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    public static readonly MnistProvider Mnist = new(() => MnistAcquirer.FromOptions(new MnistDataOptions()).Acquire());

    public const string TinySpec = """
        {
          "name": "tiny",
          "data": { "testLimit": 1000 },
          "train": [{ "id": "fp32", "epochs": 1, "trainLimit": 2000, "lr": 0.01, "seed": 5 }],
          "quantize": { "scope": ["weights", "all"], "weightBits": [4, 8], "calibration": 200 }
        }
        """;

    [Fact]
    public void Train_calibrate_and_evaluate_run_through_the_engine_with_artifacts_by_key()
    {
        var db = _dir.File("lab.db");
        new SqliteLabStore(db).PrepareForWriting();
        var store = new DbArtifactStore(new SqliteLabStore(db));
        var plan = CampaignPlanner.Plan(CampaignSpecParser.Parse(TinySpec), MnistFileSet.Standard.Fingerprint);
        var executor = new EngineJobExecutor(Mnist);
        var produced = new Dictionary<string, IReadOnlyDictionary<string, string>>();
        var outcomes = new Dictionary<string, JobOutcome>();
        lock (TorchThreads.Gate)
        {
            foreach (var job in plan.Jobs)
            {
                var outcome = executor.Execute(job, job.Upstream.ToDictionary(u => u, u => produced[u]), store, CancellationToken.None);
                Assert.True(outcome.Status == OutcomeStatus.Succeeded, $"{job.Label}: {outcome.Error}");
                produced[job.Key] = outcome.Artifacts;
                outcomes[job.Key] = outcome;
            }
        }
        var train = plan.Jobs.Single(j => j.Kind == JobKind.Train);
        Assert.Contains("model/model.json", outcomes[train.Key].Artifacts.Keys);
        Assert.InRange(outcomes[train.Key].Metrics.Numbers["accuracy"], 0.5, 1.0);

        // Every evaluate equals what `quantlab quantize` computes for the same model and configuration.
        var model = EngineArtifacts.GetModel(produced[train.Key], store);
        var (trainSet, test) = Mnist.Get("resize");
        foreach (var evaluate in plan.Jobs.Where(j => j.Kind == JobKind.Evaluate))
        {
            var config = Assert.IsType<EvaluateJob>(evaluate.Job).Quantization;
            var direct = QuantizeJob.Run(model, config, trainSet, test.Take(1000), calibrationImages: 200, threads: 1);
            var metrics = outcomes[evaluate.Key].Metrics;
            Assert.Equal(direct.Accuracy, metrics.Numbers["accuracy"]);
            Assert.Equal(direct.Agreement, metrics.Numbers["agreement"]);
            Assert.Equal(direct.PredictionsSha256, metrics.Text["predictionsSha256"]);
            Assert.Equal(10, metrics.Numbers.Keys.Count(k => k.StartsWith("perClassAccuracy.", StringComparison.Ordinal)));
            Assert.True(metrics.Numbers["weightSqnrDb.conv1"] > (config.WeightBits == 8 ? 30 : 10));
            Assert.Equal(direct.WeightSqnrDb["fc6"], metrics.Numbers["weightSqnrDb.fc6"]);
            // Activation SQNR per quantization point, computed by the engine (scope all quantizes activations).
            var activationSqnr = metrics.Numbers.Where(k => k.Key.StartsWith("activationSqnrDb.", StringComparison.Ordinal)).ToDictionary(k => k.Key, k => k.Value);
            if (config.Scope == QuantScope.All)
            {
                Assert.Equal(["activationSqnrDb.conv1", "activationSqnrDb.conv3", "activationSqnrDb.conv5", "activationSqnrDb.fc6", "activationSqnrDb.input", "activationSqnrDb.output"],
                    activationSqnr.Keys.Order(StringComparer.Ordinal));
                Assert.All(activationSqnr.Values, db => Assert.InRange(db, 10, 80));   // 8-bit grids keep most of each tensor
            }
            else Assert.Empty(activationSqnr);
        }
    }

    [Fact]
    public void A_diverging_training_is_a_configuration_failure()
    {
        var db = _dir.File("lab.db");
        new SqliteLabStore(db).PrepareForWriting();
        // lr 1e6 is outside what a spec allows; the executor must still report the divergence as the configuration's.
        var record = new Fp32TrainJob(new TrainOptions { Epochs = 1, Lr = 1_000_000, Seed = 1, TrainLimit = 400 }, new DataSelection("resize", 100));
        var job = JobDescriptor.For(record, "d", "e", "nan");
        JobOutcome outcome;
        lock (TorchThreads.Gate) outcome = new EngineJobExecutor(Mnist).Execute(job, new Dictionary<string, IReadOnlyDictionary<string, string>>(), new DbArtifactStore(new SqliteLabStore(db)), CancellationToken.None);
        Assert.Equal(OutcomeStatus.ConfigurationFailed, outcome.Status);
        Assert.Contains("diverged", outcome.Error);
    }

    public const string TinyQatSpec = """
        {
          "name": "tiny-qat",
          "data": { "testLimit": 1000 },
          "train": [{ "id": "qat8", "epochs": 1, "trainLimit": 2000, "lr": 0.01, "seed": 5,
                      "qat": { "weightBits": 8, "actBits": 8, "requant": "fixed-point:16" } }]
        }
        """;

    [Fact]
    public void A_qat_training_and_its_evaluation_run_through_the_qat_engine()
    {
        var db = _dir.File("lab.db");
        new SqliteLabStore(db).PrepareForWriting();
        var store = new DbArtifactStore(new SqliteLabStore(db));
        var plan = CampaignPlanner.Plan(CampaignSpecParser.Parse(TinyQatSpec), MnistFileSet.Standard.Fingerprint);
        Assert.Equal(new[] { JobKind.Train, JobKind.Evaluate }, plan.Jobs.Select(j => j.Kind));
        var (produced, outcomes) = RunInOrder(plan, store);
        var (train, evaluate) = (outcomes[0], outcomes[1]);
        // The QAT training reports the integer engine's accuracy of its converted model; the evaluate job
        // converts the stored model with the same requantization, so both are the same number.
        Assert.InRange(train.Metrics.Numbers["accuracy"], 0.5, 1.0);
        Assert.Equal(train.Metrics.Numbers["accuracy"], evaluate.Metrics.Numbers["accuracy"]);
        var model = EngineArtifacts.GetQatModel(produced[plan.Jobs[0].Key], store);
        var direct = QuantLab.Engine.Qat.QatConversion.Run(model, Mnist.Get("resize").Test.Take(1000), RequantSpec.FixedPoint(16), threads: 1);
        Assert.Equal(direct.PredictionsSha256, evaluate.Metrics.Text["predictionsSha256"]);
    }

    [Fact]
    public void A_qat_training_with_from_fine_tunes_the_fp32_model_its_upstream_job_stored()
    {
        var db = _dir.File("lab.db");
        new SqliteLabStore(db).PrepareForWriting();
        var store = new DbArtifactStore(new SqliteLabStore(db));
        var plan = CampaignPlanner.Plan(CampaignSpecParser.Parse("""
            { "name": "from", "data": { "testLimit": 1000 },
              "train": [{ "id": "fp32", "epochs": 1, "trainLimit": 2000, "lr": 0.01, "seed": 5 },
                        { "id": "lsq", "from": "fp32", "epochs": 1, "trainLimit": 1000, "lr": 0.001, "seed": 5,
                          "qat": { "method": "lsq", "weightBits": 4, "actBits": 4, "actSignedness": "unsigned-after-relu", "rounding": "half-even" } }] }
            """), MnistFileSet.Standard.Fingerprint);
        Assert.Equal(new[] { JobKind.Train, JobKind.Train, JobKind.Evaluate }, plan.Jobs.Select(j => j.Kind));
        var (produced, outcomes) = RunInOrder(plan, store);
        var (fp32, qat, evaluate) = (outcomes[0], outcomes[1], outcomes[2]);
        // It started from the stored FP32 model: before its first step, that model's accuracy on the same images.
        Assert.Equal(fp32.Metrics.Numbers["accuracy"], qat.Metrics.Numbers["fromAccuracy"]);
        Assert.Equal(qat.Metrics.Numbers["accuracy"], evaluate.Metrics.Numbers["accuracy"]);
        var model = EngineArtifacts.GetQatModel(produced[plan.Jobs[1].Key], store);
        Assert.Equal($"job {plan.Jobs[0].Key}", model.Manifest.From);
    }

    /// <summary>Runs a plan's jobs in order, each with its upstream jobs' artifacts; every one must succeed.</summary>
    private static (Dictionary<string, IReadOnlyDictionary<string, string>> Produced, List<JobOutcome> Outcomes) RunInOrder(CampaignPlan plan, IArtifactStore store)
    {
        var executor = new EngineJobExecutor(Mnist);
        var produced = new Dictionary<string, IReadOnlyDictionary<string, string>>();
        var outcomes = new List<JobOutcome>();
        lock (TorchThreads.Gate)
        {
            foreach (var job in plan.Jobs)
            {
                var outcome = executor.Execute(job, job.Upstream.ToDictionary(u => u, u => produced[u]), store, CancellationToken.None);
                Assert.True(outcome.Status == OutcomeStatus.Succeeded, $"{job.Label}: {outcome.Error}");
                produced[job.Key] = outcome.Artifacts;
                outcomes.Add(outcome);
            }
        }
        return (produced, outcomes);
    }
}
