using System.Security.Cryptography;
using System.Text;
using QuantLab.Actors.Messages;
using QuantLab.Actors.Planning;
using QuantLab.Engine.Jobs;
using QuantLab.Actors.Storage;

namespace QuantLab.Actors.Workers;

/// <summary>
/// A stand-in for the engine, for measuring orchestration alone (<c>quantlab bench --orchestration</c>) and
/// for fault drills: each job takes <paramref name="jobTime"/>, reads its upstream artifacts, stores one small
/// artifact and reports metrics that are a pure function of its key, so runs are comparable bit for bit.
/// Chosen with <c>QuantLab:Orchestration:Executor = synthetic[:MS]</c>.
/// </summary>
public sealed class SyntheticJobExecutor(TimeSpan jobTime) : IJobExecutor
{
    public JobOutcome Execute(JobDescriptor job, IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> upstream, IArtifactStore artifacts, CancellationToken ct)
    {
        if (jobTime > TimeSpan.Zero) ct.WaitHandle.WaitOne(jobTime);
        ct.ThrowIfCancellationRequested();
        var input = new StringBuilder(job.Key);
        foreach (var u in job.Upstream)
            input.Append(Encoding.UTF8.GetString(artifacts.Get(upstream[u]["output"])));
        var output = artifacts.Put(Encoding.UTF8.GetBytes(CanonicalJson.Sha256Hex(input.ToString())));
        var digest = SHA256.HashData(Encoding.UTF8.GetBytes(job.Key));
        return JobOutcome.Success(
            new JobMetrics(new Dictionary<string, double> { ["accuracy"] = digest[0] / 255.0 }, new Dictionary<string, string> { ["executor"] = "synthetic" }),
            new Dictionary<string, string> { ["output"] = output });
    }

    /// <summary>Parses <c>synthetic</c> or <c>synthetic:MS</c>; null for anything else.</summary>
    public static SyntheticJobExecutor? FromSetting(string setting)
    {
        if (setting == "synthetic") return new SyntheticJobExecutor(TimeSpan.Zero);
        if (setting.StartsWith("synthetic:", StringComparison.Ordinal)
            && int.TryParse(setting["synthetic:".Length..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var ms))
            return new SyntheticJobExecutor(TimeSpan.FromMilliseconds(ms));
        return null;
    }
}
