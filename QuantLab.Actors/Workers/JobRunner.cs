using System.Collections.Concurrent;
using System.Diagnostics;
using Akka.Actor;
using QuantLab.Actors.Messages;
using QuantLab.Actors.Storage;

namespace QuantLab.Actors.Workers;

/// <summary>
/// A worker's own thread: it takes jobs from a queue, runs them through the executor and tells the
/// worker actor the outcome once the job's artifacts are durable (<see cref="PendingArtifacts"/>); it goes
/// on with the next job meanwhile. Jobs never run on the dispatcher's threads, so heartbeats, cluster gossip
/// and the coordinator keep flowing while a training uses the CPU.
/// </summary>
public sealed class JobRunner : IDisposable
{
    /// <summary>Local message to the worker: the executor returned (or threw).</summary>
    public sealed record Ran(string Key, int Attempt, JobOutcome Outcome, long DurationMs);

    private readonly BlockingCollection<JobAssignment> _queue = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;

    public JobRunner(string name, IJobExecutor executor, IArtifactStore artifacts, IActorRef worker)
    {
        _thread = new Thread(() => Loop(executor, artifacts, worker)) { IsBackground = true, Name = name };
        _thread.Start();
    }

    public void Run(JobAssignment assignment) => _queue.Add(assignment);

    private void Loop(IJobExecutor executor, IArtifactStore artifacts, IActorRef worker)
    {
        try
        {
            foreach (var (job, attempt, upstream) in _queue.GetConsumingEnumerable(_stop.Token))
            {
                var watch = Stopwatch.StartNew();
                var pending = new PendingArtifacts(artifacts);
                JobOutcome outcome;
                try
                {
                    outcome = executor.Execute(job, upstream, pending, _stop.Token);
                }
                catch (OperationCanceledException) when (_stop.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception e)
                {
                    outcome = JobOutcome.InfrastructureFailure($"{e.GetType().Name}: {e.Message}");
                }
                var (key, ms) = (job.Key, watch.ElapsedMilliseconds);
                artifacts.PutAllAsync(pending.Blobs).ContinueWith(stored => worker.Tell(new Ran(key, attempt,
                    stored.IsCompletedSuccessfully ? outcome
                        : JobOutcome.InfrastructureFailure($"storing the artifacts: {stored.Exception?.GetBaseException().Message}"), ms)), TaskScheduler.Default);
            }
        }
        catch (OperationCanceledException)
        {
            // stopping
        }
    }

    /// <summary>Asks a running job to stop (through its token) and lets the thread end; does not wait for it.</summary>
    public void Dispose()
    {
        _stop.Cancel();
        _queue.CompleteAdding();
    }
}
