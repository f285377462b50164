using QuantLab.Engine;

namespace QuantLab.Actors.Workers;

/// <param name="HeartbeatInterval">How often a running job's lease is renewed (well under the coordinator's lease).</param>
/// <param name="RegisterInterval">How often a worker registers again, so a new or restarted coordinator finds it.</param>
/// <param name="ResendInterval">How often an unacknowledged result is sent again.</param>
public sealed record WorkerSettings(string EngineVersion, TimeSpan HeartbeatInterval, TimeSpan RegisterInterval, TimeSpan ResendInterval)
{
    public static readonly WorkerSettings Default = new(EngineInfo.Version, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(3));
}
