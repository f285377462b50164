using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Hosting;
using QuantLab.Actors.Coordinator;
using QuantLab.Actors.Storage;
using QuantLab.Actors.Workers;

namespace QuantLab.Actors.Hosting;

/// <summary>Registry key of the coordinator (the actor itself, or the cluster singleton's proxy).</summary>
public sealed class CoordinatorKey;

/// <summary>
/// Composes a QuantLab node from small Akka.Hosting steps:
/// <code>
/// LabDatabase.Initialize(dbPath);
/// services.AddAkka("quantlab", b => b
///     .WithQuantLabSqlite(dbPath)
///     .WithQuantLabCoordinator()                 // single process; or .WithQuantLabCoordinatorSingleton() in a cluster
///     .WithQuantLabWorkers(4, dbPath, () => new EngineJobExecutor(...)));
/// </code>
/// then <c>ActorRegistry.Get&lt;CoordinatorKey&gt;()</c> takes <c>SubmitCampaign</c>, <c>WatchCampaign</c>, …
/// </summary>
public static class QuantLabHostingExtensions
{
    /// <summary>
    /// Serialization and SQL persistence in the SQLite file at <paramref name="databasePath"/>. The file must have been
    /// initialized (<see cref="LabDatabase.Initialize"/>, once per process start) before the host starts: a file that
    /// cannot be used is then refused with a clear error before any actor runs.
    /// </summary>
    /// <remarks>
    /// Persistence stays HOCON (<see cref="QuantLabConfig.SqlitePersistence"/>): Akka.Persistence.Sql.Hosting, which
    /// would offer typed journal options, is only in the feed at 1.5.70, which fails with the linq2db 6.5.1 that
    /// Akka.Persistence.Sql 1.5.73 needs (DESIGN.md §8).
    /// </remarks>
    public static AkkaConfigurationBuilder WithQuantLabSqlite(this AkkaConfigurationBuilder builder, string databasePath) =>
        builder.AddHocon(QuantLabConfig.Serialization().WithFallback(QuantLabConfig.SqlitePersistence(databasePath)), HoconAddMode.Prepend);

    /// <summary>The coordinator as a plain actor: a single-process lab. With <paramref name="databasePath"/>, it keeps
    /// the campaigns' statuses there for <c>status</c> (<see cref="StatusTable"/>).</summary>
    public static AkkaConfigurationBuilder WithQuantLabCoordinator(this AkkaConfigurationBuilder builder, CoordinatorPolicy? policy = null, string? databasePath = null) =>
        builder.WithActors((system, registry) =>
            registry.Register<CoordinatorKey>(system.ActorOf(CoordinatorProps(policy, databasePath), "coordinator")));

    /// <summary>The coordinator as a cluster singleton on nodes with role <c>coordinator</c>; every node gets a proxy.</summary>
    public static AkkaConfigurationBuilder WithQuantLabCoordinatorSingleton(this AkkaConfigurationBuilder builder, CoordinatorPolicy? policy = null, bool hostsCoordinator = true,
        string? databasePath = null) =>
        hostsCoordinator
            ? builder.WithSingleton<CoordinatorKey>("coordinator", CoordinatorProps(policy, databasePath),
                new ClusterSingletonOptions { Role = "coordinator" })
            : builder.WithSingletonProxy<CoordinatorKey>("coordinator", new ClusterSingletonOptions { Role = "coordinator" });

    private static Props CoordinatorProps(CoordinatorPolicy? policy, string? databasePath) =>
        CoordinatorActor.Props(policy ?? CoordinatorPolicy.Default, statusTable: databasePath is null ? null : new StatusTable(databasePath));

    /// <summary>
    /// <paramref name="count"/> workers on this node, each with its own executor (from <paramref name="executor"/>) and
    /// thread. Register after the coordinator (or its proxy). Artifacts are cached under <paramref name="cacheDirectory"/>.
    /// </summary>
    public static AkkaConfigurationBuilder WithQuantLabWorkers(
        this AkkaConfigurationBuilder builder, int count, string databasePath, Func<IJobExecutor> executor,
        WorkerSettings? settings = null, string? cacheDirectory = null) =>
        builder.WithActors((system, registry) =>
        {
            var coordinator = registry.Get<CoordinatorKey>();
            var node = ((ExtendedActorSystem)system).Provider.DefaultAddress;
            var store = new SqliteArtifactStore(databasePath, cacheDirectory);
            for (var i = 0; i < count; i++)
                system.ActorOf(WorkerActor.Props(coordinator, executor(), store, settings ?? WorkerSettings.Default, $"{node}/worker-{i}"), $"worker-{i}");
        });
}
