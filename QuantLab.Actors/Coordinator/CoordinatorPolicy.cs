using QuantLab.Engine;

namespace QuantLab.Actors.Coordinator;

/// <summary>The coordinator's rules: which engine it accepts, how often a job may fail, how long a lease lasts.</summary>
/// <param name="MaxAttempts">Attempts per job (exceptions, lease expiries and lost nodes all count) before it is recorded as failed.</param>
/// <param name="Lease">How long a running job may go without a heartbeat before it is queued again.</param>
/// <param name="WorkersDieWithCoordinator">A single-process lab: after recovery no worker of a running job can
/// still be alive, so those jobs are queued again at once instead of waiting for their leases.</param>
public sealed record CoordinatorPolicy(string EngineVersion, int MaxAttempts, TimeSpan Lease, bool WorkersDieWithCoordinator = false)
{
    public static readonly CoordinatorPolicy Default = new(EngineInfo.Version, 3, TimeSpan.FromMinutes(2));
}
