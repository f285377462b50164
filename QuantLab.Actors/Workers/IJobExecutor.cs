using QuantLab.Actors.Messages;
using QuantLab.Actors.Planning;
using QuantLab.Actors.Storage;

namespace QuantLab.Actors.Workers;

/// <summary>
/// Runs one job: the seam between orchestration and the engine. Called on a dedicated thread (never an
/// actor thread), one job at a time per worker. <paramref name="upstream"/> gives, per upstream job key, the
/// artifacts it produced (name → SHA-256): read them from <paramref name="artifacts"/>; put produced
/// artifacts there too and return their hashes in the outcome.
/// Return <see cref="JobOutcome.ConfigurationFailure"/> when the configuration itself fails (divergence,
/// NaN): that is recorded as the configuration's result and not retried. Throw (or return
/// <see cref="JobOutcome.InfrastructureFailure"/>) when the environment failed: the job is retried.
/// </summary>
public interface IJobExecutor
{
    JobOutcome Execute(JobDescriptor job, IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> upstream, IArtifactStore artifacts, CancellationToken ct);
}
