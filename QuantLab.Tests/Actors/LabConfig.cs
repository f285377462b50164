using Akka.Configuration;
using QuantLab.Actors.Coordinator;
using QuantLab.Actors.Hosting;
using QuantLab.Actors.Storage;
using QuantLab.Actors.Workers;

namespace QuantLab.Tests.Actors;

/// <summary>Akka configuration and short timings for in-process lab tests.</summary>
public static class LabConfig
{
    public static readonly CoordinatorPolicy Policy = new(TestPlans.Engine, MaxAttempts: 3, Lease: TimeSpan.FromSeconds(2));
    public static readonly WorkerSettings Worker = new(TestPlans.Engine,
        HeartbeatInterval: TimeSpan.FromMilliseconds(200), RegisterInterval: TimeSpan.FromMilliseconds(500), ResendInterval: TimeSpan.FromMilliseconds(300));
    public static readonly TimeSpan LeaseCheck = TimeSpan.FromMilliseconds(100);

    /// <summary>Initializes the SQLite file and returns a local ActorSystem config persisting into it.</summary>
    public static Config Sqlite(string databasePath)
    {
        new SqliteLabStore(databasePath).PrepareForWriting();
        return ConfigurationFactory.ParseString("""
                akka.loglevel = WARNING
                akka.stdout-loglevel = WARNING
                # The first write creates the journal tables; on a loaded CI machine that can take seconds.
                akka.test.single-expect-default = 15s
                """)
            .WithFallback(QuantLabConfig.Serialization())
            .WithFallback(new SqliteLabStore(databasePath).Persistence(createTables: true, queryRefresh: TimeSpan.FromMilliseconds(100)));
    }
}
