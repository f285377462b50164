using QuantLab.Actors.Configuration;
using QuantLab.Engine;

namespace QuantLab.Actors.Workers;

/// <param name="HeartbeatInterval">How often a running job's lease is renewed (well under the coordinator's lease).</param>
/// <param name="RegisterInterval">How often a worker registers again, so a new or restarted coordinator finds it.</param>
/// <param name="ResendInterval">How often an unacknowledged result is sent again.</param>
/// <param name="LeaseBatch">The most jobs a worker holds at once while its jobs are short (see <see cref="WorkerActor"/>).</param>
/// <param name="Identity">This node's TLS identity (its certificate's subject), recorded with every result; null without TLS.</param>
public sealed record WorkerSettings(string EngineVersion, TimeSpan HeartbeatInterval, TimeSpan RegisterInterval, TimeSpan ResendInterval, int LeaseBatch = 16,
    string? Identity = null)
{
    /// <summary>The settings of the configured orchestration options; a result is sent again at least as often as the heartbeat.</summary>
    public static WorkerSettings From(OrchestrationOptions options) => new(EngineInfo.Version,
        TimeSpan.FromSeconds(options.HeartbeatSeconds), TimeSpan.FromSeconds(options.RegisterSeconds),
        TimeSpan.FromSeconds(Math.Min(options.ResendSeconds, options.HeartbeatSeconds)), options.LeaseBatch);

    /// <summary>The settings of the options' defaults.</summary>
    public static readonly WorkerSettings Default = From(new OrchestrationOptions());
}
