using QuantLab.Engine;

namespace QuantLab.Actors.Coordinator;

/// <summary>The coordinator's rules: which engine it accepts, how often a job may fail, how long a lease lasts.</summary>
/// <param name="MaxAttempts">Attempts per job (exceptions, lease expiries and lost nodes all count) before it is recorded as failed.</param>
/// <param name="Lease">How long a running job may go without a heartbeat before it is queued again.</param>
public sealed record CoordinatorPolicy(string EngineVersion, int MaxAttempts, TimeSpan Lease)
{
    public static readonly CoordinatorPolicy Default = new(EngineInfo.Version, 3, TimeSpan.FromMinutes(2));
}
