using QuantLab.Actors.Messages;
using QuantLab.Actors.Planning;
using QuantLab.Actors.Storage;
using QuantLab.Engine;
using QuantLab.Engine.Jobs;
using QuantLab.Engine.Model;
using QuantLab.Engine.Training;

namespace QuantLab.Actors.Workers;

/// <param name="TorchThreads">TorchSharp's intra-op threads while a job runs (process-wide). Kept small so
/// the actor threads (heartbeats, gossip) always get a core; 1 also makes trainings reproducible.</param>
/// <param name="IntegerThreads">Threads of the integer engine per evaluation (0: all cores).</param>
public sealed record EngineExecutorOptions(int TorchThreads = 1, int IntegerThreads = 1);

/// <summary>
/// Runs campaign jobs through the engine's entry points (<see cref="JobExecution"/>), the ones the CLI verbs
/// call with the same records: this class only fetches the upstream artifacts (models, ranges, the FP32
/// predictions), hands the record to the engine, and stores what it returns (<see cref="EngineArtifacts"/>).
/// A diverged training or a configuration the engine rejects is the configuration's result (not retried);
/// anything else thrown is an infrastructure failure (retried).
/// </summary>
public sealed class EngineJobExecutor(MnistProvider data, EngineExecutorOptions? options = null) : IJobExecutor
{
    private readonly EngineExecutorOptions _options = options ?? new EngineExecutorOptions();

    public JobOutcome Execute(JobDescriptor job, IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> upstream, IArtifactStore artifacts, CancellationToken ct)
    {
        TorchRuntime.SetThreads(_options.TorchThreads);
        var (train, test) = data.Get(job.Job.Data.InputTransform);
        IReadOnlyDictionary<string, string> Upstream(string role) =>
            upstream.TryGetValue(job.Job.UpstreamKey(role), out var a) ? a : throw new InfrastructureException($"no artifacts of upstream job {job.Job.UpstreamKey(role)} ({role})");
        try
        {
            switch (job.Job)
            {
                case Fp32TrainJob fp32:
                {
                    var output = JobExecution.Train(fp32, train, test, _options.TorchThreads, cancel: ct);
                    return Success(output.Measurements, EngineArtifacts.PutModel(output.Model, artifacts, output.TestPredictions));
                }
                case QatTrainJob qat:
                {
                    // Fine-tuning: the FP32 model of the training it starts from, named by that job's key.
                    var from = qat.From is { } key ? (EngineArtifacts.GetModel(Upstream(Roles.Model), artifacts), $"job {key}") : ((Fp32Model, string)?)null;
                    var output = JobExecution.Train(qat, train, test, _options.TorchThreads, from, cancel: ct);
                    return Success(output.Measurements, EngineArtifacts.PutQatModel(output.Model, artifacts));
                }
                case CalibrateJob calibrate:
                {
                    var output = JobExecution.Calibrate(calibrate, EngineArtifacts.GetModel(Upstream(Roles.Model), artifacts), train);
                    return Success(output.Measurements, new Dictionary<string, string> { [EngineArtifacts.Ranges] = EngineArtifacts.PutRanges(output.Ranges, artifacts) });
                }
                case EvaluateJob evaluate:
                    return Success(Evaluate(evaluate, Upstream, artifacts).Measurements);
                default:
                    throw new ArgumentOutOfRangeException(nameof(job), job.Job.GetType().Name, "unknown job record");
            }
        }
        catch (TrainingDivergedException e)
        {
            return JobOutcome.ConfigurationFailure(e.Message);
        }
        catch (BadInputException e)   // the engine rejects the configuration (e.g. ranges of a diverged model)
        {
            return JobOutcome.ConfigurationFailure(e.Message);
        }
    }

    /// <summary>
    /// An evaluate job from its upstream artifacts (<paramref name="upstream"/> by role): the FP32 model, its ranges and
    /// predictions (PTQ), or the QAT model. Also what <c>quantlab export</c> runs to rebuild a campaign job's quantized model.
    /// </summary>
    public EvaluateOutput Evaluate(EvaluateJob job, Func<string, IReadOnlyDictionary<string, string>> upstream, IArtifactStore artifacts)
    {
        var (_, test) = data.Get(job.Data.InputTransform);
        if (job.Method == EvaluationMethod.Qat)
            return JobExecution.Evaluate(job, EngineArtifacts.GetQatModel(upstream(Roles.Model), artifacts), test, _options.IntegerThreads);
        var model = upstream(Roles.Model);
        return JobExecution.Evaluate(job, EngineArtifacts.GetModel(model, artifacts), EngineArtifacts.GetRanges(upstream(Roles.Ranges), artifacts),
            test, _options.IntegerThreads, EngineArtifacts.GetPredictions(model, artifacts));
    }

    private static JobOutcome Success(JobMeasurements m, IReadOnlyDictionary<string, string>? artifacts = null) =>
        JobOutcome.Success(new JobMetrics(m.Numbers, m.Text), artifacts);
}
