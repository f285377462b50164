using Akka.Actor;
using Akka.Pattern;
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
/// var store = new SqliteLabStore(dbPath);      // or new PostgresLabStore(connectionString)
/// store.PrepareForWriting();
/// services.AddAkka("quantlab", b => b
///     .WithQuantLabStore(store)
///     .WithQuantLabCoordinator(store: store)     // single process; or .WithQuantLabCoordinatorSingleton() in a cluster
///     .WithQuantLabWorkers(4, store, () => new EngineJobExecutor(...)));
/// </code>
/// then <c>ActorRegistry.Get&lt;CoordinatorKey&gt;()</c> takes <c>SubmitCampaign</c>, <c>WatchCampaign</c>, …
/// </summary>
public static class QuantLabHostingExtensions
{
    /// <summary>
    /// Serialization and SQL persistence in <paramref name="store"/>, which must be ready
    /// (<see cref="LabStore.PrepareForWriting"/>, once per process start) before the host starts: a database that
    /// cannot be used is then refused with a clear error before any actor runs.
    /// </summary>
    /// <remarks>
    /// Persistence stays HOCON (<see cref="LabStore.Persistence"/>): Akka.Persistence.Sql.Hosting, which would offer
    /// typed journal options, is only in the feed at 1.5.70, which fails with the linq2db 6.5.1 that
    /// Akka.Persistence.Sql 1.5.73 needs (DESIGN.md §8). Only SQLite's plugins create their tables as they start.
    /// </remarks>
    public static AkkaConfigurationBuilder WithQuantLabStore(this AkkaConfigurationBuilder builder, LabStore store) =>
        builder.AddHocon(QuantLabConfig.Serialization().WithFallback(store.Persistence(createTables: store is SqliteLabStore)), HoconAddMode.Prepend);

    /// <summary>The coordinator as a plain actor: a single-process lab. With <paramref name="store"/>, it keeps
    /// the campaigns' statuses there for <c>status</c> (<see cref="StatusTable"/>).</summary>
    public static AkkaConfigurationBuilder WithQuantLabCoordinator(this AkkaConfigurationBuilder builder, CoordinatorPolicy? policy = null, LabStore? store = null) =>
        builder.WithActors((system, registry) =>
            registry.Register<CoordinatorKey>(system.ActorOf(CoordinatorProps(policy, store), "coordinator")));

    /// <summary>The coordinator as a cluster singleton on nodes with role <c>coordinator</c>; every node gets a proxy.
    /// The singleton is a backoff supervisor that starts the coordinator again (from its journal) when it stops
    /// because a write failed (a database server restarting, say): a long-running cluster waits the outage out,
    /// where a single-process <c>run</c> ends with the cause instead.</summary>
    public static AkkaConfigurationBuilder WithQuantLabCoordinatorSingleton(this AkkaConfigurationBuilder builder, CoordinatorPolicy? policy = null, bool hostsCoordinator = true,
        LabStore? store = null) =>
        hostsCoordinator
            ? builder.WithSingleton<CoordinatorKey>("coordinator",
                BackoffSupervisor.Props(Backoff.OnStop(CoordinatorProps(policy, store), "coordinator", TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(10), 0.2, maxNrOfRetries: -1)),
                new ClusterSingletonOptions { Role = "coordinator" })
            : builder.WithSingletonProxy<CoordinatorKey>("coordinator", new ClusterSingletonOptions { Role = "coordinator" });

    private static Props CoordinatorProps(CoordinatorPolicy? policy, LabStore? store) =>
        CoordinatorActor.Props(policy ?? CoordinatorPolicy.Default, statusTable: store is null ? null : new StatusTable(store));

    /// <summary>
    /// <paramref name="count"/> workers on this node, each with its own executor (from <paramref name="executor"/>) and
    /// thread. Register after the coordinator (or its proxy). Artifacts are cached in the store's cache directory.
    /// </summary>
    public static AkkaConfigurationBuilder WithQuantLabWorkers(
        this AkkaConfigurationBuilder builder, int count, LabStore store, Func<IJobExecutor> executor, WorkerSettings? settings = null) =>
        builder.WithActors((system, registry) =>
        {
            var coordinator = registry.Get<CoordinatorKey>();
            var node = ((ExtendedActorSystem)system).Provider.DefaultAddress;
            var artifacts = new DbArtifactStore(store, store.DefaultCacheDirectory);
            for (var i = 0; i < count; i++)
                system.ActorOf(WorkerActor.Props(coordinator, executor(), artifacts, settings ?? WorkerSettings.Default, $"{node}/worker-{i}"), $"worker-{i}");
        });
}
