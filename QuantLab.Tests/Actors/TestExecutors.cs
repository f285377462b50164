using QuantLab.Engine.Jobs;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using QuantLab.Actors.Messages;
using QuantLab.Actors.Planning;
using QuantLab.Actors.Storage;
using QuantLab.Actors.Workers;

namespace QuantLab.Tests.Actors;

/// <summary>
/// A small real executor: its "accuracy" is a function of the job key and it stores one artifact derived
/// from the key and its upstream artifacts (read back and verified). Counts calls per key.
/// </summary>
public class ComputeExecutor : IJobExecutor
{
    public ConcurrentDictionary<string, int> Calls { get; } = new();

    public virtual JobOutcome Execute(JobDescriptor job, IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> upstream, IArtifactStore artifacts, CancellationToken ct)
    {
        Calls.AddOrUpdate(job.Key, 1, (_, n) => n + 1);
        var input = new StringBuilder(job.Key);
        foreach (var u in job.Upstream)
            input.Append(Encoding.UTF8.GetString(artifacts.Get(upstream[u]["output"])));
        var hash = artifacts.Put(Encoding.UTF8.GetBytes(input.ToString()));
        return JobOutcome.Success(Metrics(job.Key), new Dictionary<string, string> { ["output"] = hash });
    }

    public static JobMetrics Metrics(string key) => new(
        new Dictionary<string, double> { ["accuracy"] = SHA256.HashData(Encoding.UTF8.GetBytes(key))[0] / 255.0 },
        new Dictionary<string, string> { ["kind"] = "test" });
}

/// <summary>Throws the first <paramref name="failures"/> times it sees each key (of the given kind, if any).</summary>
public sealed class FlakyExecutor(int failures, JobKind? only = null) : ComputeExecutor
{
    private readonly ConcurrentDictionary<string, int> _seen = new();

    public override JobOutcome Execute(JobDescriptor job, IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> upstream, IArtifactStore artifacts, CancellationToken ct)
    {
        if ((only is null || job.Kind == only) && _seen.AddOrUpdate(job.Key, 1, (_, n) => n + 1) <= failures)
            throw new IOException($"simulated infrastructure failure of {job.Kind}");
        return base.Execute(job, upstream, artifacts, ct);
    }
}

/// <summary>Every training diverges: a configuration failure.</summary>
public sealed class DivergingExecutor : ComputeExecutor
{
    public override JobOutcome Execute(JobDescriptor job, IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> upstream, IArtifactStore artifacts, CancellationToken ct)
    {
        Calls.AddOrUpdate(job.Key, 1, (_, n) => n + 1);
        return job.Kind == JobKind.Train ? JobOutcome.ConfigurationFailure("loss became NaN in epoch 1") : base.Execute(job, upstream, artifacts, ct);
    }
}

/// <summary>The <paramref name="blockAt"/>-th call blocks until <see cref="Release"/> (or cancellation); other calls run at once.</summary>
public sealed class BlockFirstExecutor(int blockAt = 1) : ComputeExecutor
{
    private readonly ManualResetEventSlim _release = new(false);
    private int _calls;
    public ManualResetEventSlim Blocked { get; } = new(false);

    public void Release() => _release.Set();

    public override JobOutcome Execute(JobDescriptor job, IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> upstream, IArtifactStore artifacts, CancellationToken ct)
    {
        if (Interlocked.Increment(ref _calls) == blockAt)
        {
            Blocked.Set();
            _release.Wait(ct);
        }
        return base.Execute(job, upstream, artifacts, ct);
    }
}
