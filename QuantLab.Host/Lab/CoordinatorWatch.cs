using Akka.Actor;
using Akka.Event;
using QuantLab.Actors.Storage;
using QuantLab.Engine;

namespace QuantLab.Host.Lab;

/// <summary>
/// The single-process coordinator stops itself when it cannot persist an event (a full disk, a database gone
/// read-only): Akka logs the cause and stops the actor. Nothing would answer the verb any more, so <c>run</c>
/// races its waits against this watch and ends at once with the cause (exit 3) instead of waiting forever.
/// </summary>
public sealed class CoordinatorWatch : IDisposable
{
    private readonly ActorSystem _system;
    private readonly IActorRef _watcher;
    private readonly TaskCompletionSource<Exception?> _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly LabStore _store;

    public CoordinatorWatch(ActorSystem system, IActorRef coordinator, LabStore store)
    {
        _system = system;
        _store = store;
        _watcher = system.ActorOf(Props.Create(() => new Watcher(coordinator, _stopped)));
    }

    /// <summary><paramref name="work"/>'s result, or the coordinator's fault if it stopped first (the work is
    /// then cancelled).</summary>
    public async Task<T> Guard<T>(Func<CancellationToken, Task<T>> work, CancellationToken cancel)
    {
        using var abandon = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        var task = work(abandon.Token);
        if (await Task.WhenAny(task, _stopped.Task) == task) return await task;
        await abandon.CancelAsync();
        var cause = await _stopped.Task;
        throw cause is null
            ? new InfrastructureException($"the coordinator stopped ({_store.Name}); run again to resume")
            : _store.Fault(cause);
    }

    public void Dispose() => _system.Stop(_watcher);

    private sealed class Watcher : ReceiveActor
    {
        private Exception? _lastError;

        public Watcher(IActorRef coordinator, TaskCompletionSource<Exception?> stopped)
        {
            Context.Watch(coordinator);
            Context.System.EventStream.Subscribe(Self, typeof(Error));
            // The error Akka logs as the coordinator fails to persist, just before it stops.
            Receive<Error>(e => { if (e.Cause is not null && e.LogSource.Contains(coordinator.Path.Name, StringComparison.Ordinal)) _lastError = e.Cause; });
            Receive<Terminated>(_ => stopped.TrySetResult(_lastError));
        }

        protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);
    }
}
