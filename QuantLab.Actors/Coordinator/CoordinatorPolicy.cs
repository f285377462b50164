using QuantLab.Actors.Configuration;
using QuantLab.Engine;

namespace QuantLab.Actors.Coordinator;

/// <summary>The coordinator's rules: which engine it accepts, how often a job may fail, how long a lease lasts.</summary>
/// <param name="MaxAttempts">Attempts per job (exceptions, lease expiries and lost nodes all count) before it is recorded as failed.</param>
/// <param name="Lease">How long a running job may go without a heartbeat before it is queued again.</param>
/// <param name="WorkersDieWithCoordinator">A single-process lab: after recovery no worker of a running job can
/// still be alive, so those jobs are queued again at once instead of waiting for their leases.</param>
/// <param name="SnapshotEvery">Events between two snapshots of the state (at least a quarter as many as the state holds
/// jobs, since a snapshot costs in proportion to them: so its cost per event stays constant).</param>
public sealed record CoordinatorPolicy(string EngineVersion, int MaxAttempts, TimeSpan Lease, bool WorkersDieWithCoordinator = false, int SnapshotEvery = 1000)
{
    /// <summary>The policy of the configured orchestration options (<c>QuantLab:Orchestration</c>).</summary>
    /// <param name="singleProcess">Workers and coordinator share one process (<c>quantlab run</c>).</param>
    public static CoordinatorPolicy From(OrchestrationOptions options, bool singleProcess = false) =>
        new(EngineInfo.Version, options.MaxAttempts, TimeSpan.FromSeconds(options.LeaseSeconds), WorkersDieWithCoordinator: singleProcess, options.SnapshotEvery);

    /// <summary>The policy of the options' defaults.</summary>
    public static readonly CoordinatorPolicy Default = From(new OrchestrationOptions());
}
