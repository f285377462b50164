using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using QuantLab.Actors.Hosting;
using QuantLab.Engine;

namespace QuantLab.Actors.Storage;

/// <summary>
/// <c>quantlab db init</c>: creates or upgrades the lab's schema, once, under the schema lock: QuantLab's tables
/// (with the version table), then Akka.Persistence.Sql's, created by the plugins themselves (auto-initialize, in
/// this process alone) so their columns are exactly what the plugins read. Idempotent.
/// </summary>
public static class DbInit
{
    /// <param name="Before">The schema version found (null: a new database).</param>
    public sealed record Outcome(int? Before, int After);

    public static async Task<Outcome> RunAsync(LabStore store, TimeSpan timeout)
    {
        using var held = store.LockSchema();
        var before = store.CreateSchema();
        var config = ConfigurationFactory.ParseString("""
                akka.loglevel = OFF
                akka.stdout-loglevel = OFF
                akka.log-dead-letters = off
                """).WithFallback(store.Persistence(createTables: true));
        var system = ActorSystem.Create("quantlab-db-init", config);
        try
        {
            // Starting each plugin creates its tables. A persistent actor's recovery starts both (snapshot, then
            // journal) and completes once each has answered, so its end means the tables exist.
            var recovered = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously);
            system.ActorOf(Props.Create(() => new Recoverer(recovered)), "db-init");
            var finished = await Task.WhenAny(recovered.Task, Task.Delay(timeout));
            if (finished != recovered.Task) throw new InfrastructureException($"{store.Name}: the persistence plugins did not start within {timeout.TotalSeconds:F0} s");
            if (await recovered.Task is { } failure) throw store.Fault(failure);
        }
        catch (Exception e) when (e is not QuantLabException)
        {
            throw store.Fault(e);
        }
        finally
        {
            await system.Terminate();
        }
        store.PrepareForWriting();   // what a node checks as it starts now holds
        return new Outcome(before, LabStore.SchemaVersion);
    }

    /// <summary>Recovers a persistence id no one writes, and reports how that ended.</summary>
    private sealed class Recoverer : UntypedPersistentActor
    {
        private readonly TaskCompletionSource<Exception?> _recovered;

        public Recoverer(TaskCompletionSource<Exception?> recovered) => _recovered = recovered;

        public override string PersistenceId => "quantlab-db-init";

        protected override void OnRecover(object message)
        {
            if (message is RecoveryCompleted) _recovered.TrySetResult(null);
        }

        protected override void OnCommand(object message) { }

        protected override void OnRecoveryFailure(Exception reason, object? message = null) => _recovered.TrySetResult(reason);
    }
}
