using QuantLab.Engine.Jobs;
using System.Collections.Immutable;
using QuantLab.Actors.Messages;
using QuantLab.Actors.Planning;

namespace QuantLab.Actors.Coordinator;

public enum JobStatus { Queued, Running, Succeeded, ConfigurationFailed, Failed }

/// <param name="Seq">Position in submission order: the queue's order, so dispatch is deterministic.</param>
/// <param name="Attempts">Attempts started so far.</param>
public sealed record JobEntry(
    JobDescriptor Job, long Seq, JobStatus Status, int Attempts,
    string? Worker, string? Node, JobResult? Result, string? Error)
{
    public bool Terminal => Status is JobStatus.Succeeded or JobStatus.ConfigurationFailed or JobStatus.Failed;
}

/// <param name="Keys">The campaign's jobs in plan order (a resubmission with more jobs extends it).</param>
/// <param name="Reused">Jobs of the campaign that existed before it was submitted.</param>
public sealed record CampaignEntry(
    string Name, string EngineVersion, ImmutableList<string> Keys,
    ImmutableList<DroppedCombination> Dropped, int Reused, DateTimeOffset SubmittedAt);

/// <summary>
/// The coordinator's state as an immutable value (the distributed-workers sample's WorkState): events
/// change it only through <see cref="Apply"/>; decision methods read it and return the events to persist,
/// never changing it. Leases are the one transient part: they are not events, and are renewed after recovery.
/// </summary>
public sealed class CoordinatorState
{
    public CoordinatorPolicy Policy { get; }
    public ImmutableDictionary<string, JobEntry> Jobs { get; }
    public ImmutableDictionary<string, CampaignEntry> Campaigns { get; }
    /// <summary>Keys waiting to run, by <see cref="JobEntry.Seq"/>.</summary>
    public ImmutableSortedDictionary<long, string> Queue { get; }
    /// <summary>Lease deadline per running job (transient).</summary>
    public ImmutableDictionary<string, DateTimeOffset> Leases { get; }

    private CoordinatorState(
        CoordinatorPolicy policy, ImmutableDictionary<string, JobEntry> jobs, ImmutableDictionary<string, CampaignEntry> campaigns,
        ImmutableSortedDictionary<long, string> queue, ImmutableDictionary<string, DateTimeOffset> leases)
    {
        Policy = policy; Jobs = jobs; Campaigns = campaigns; Queue = queue; Leases = leases;
    }

    public static CoordinatorState Empty(CoordinatorPolicy? policy = null) =>
        new(policy ?? CoordinatorPolicy.Default, ImmutableDictionary<string, JobEntry>.Empty.WithComparers(StringComparer.Ordinal),
            ImmutableDictionary<string, CampaignEntry>.Empty.WithComparers(StringComparer.Ordinal),
            ImmutableSortedDictionary<long, string>.Empty, ImmutableDictionary<string, DateTimeOffset>.Empty.WithComparers(StringComparer.Ordinal));

    private CoordinatorState With(
        ImmutableDictionary<string, JobEntry>? jobs = null, ImmutableDictionary<string, CampaignEntry>? campaigns = null,
        ImmutableSortedDictionary<long, string>? queue = null, ImmutableDictionary<string, DateTimeOffset>? leases = null) =>
        new(Policy, jobs ?? Jobs, campaigns ?? Campaigns, queue ?? Queue, leases ?? Leases);

    // ---- events -----------------------------------------------------------------------------------

    public CoordinatorState Apply(ICoordinatorEvent e) => e switch
    {
        CampaignSubmitted s => ApplySubmitted(s),
        JobStarted s => Update(s.Key, j => j with { Status = JobStatus.Running, Attempts = s.Attempt, Worker = s.Worker, Node = s.Node },
            queue: q => q.Remove(Jobs[s.Key].Seq), leases: l => l.SetItem(s.Key, s.At + Policy.Lease)),
        JobAttemptFailed f => Update(f.Key, j => j with { Status = JobStatus.Queued, Worker = null, Node = null, Error = f.Error },
            queue: q => q.SetItem(Jobs[f.Key].Seq, f.Key), leases: l => l.Remove(f.Key)),
        JobCompleted c => Update(c.Result.Key,
            j => j with
            {
                Status = c.Result.Status == OutcomeStatus.Succeeded ? JobStatus.Succeeded : JobStatus.ConfigurationFailed,
                Result = c.Result, Error = c.Result.Error, Worker = c.Result.Worker, Node = c.Result.Node,
            },
            queue: q => q.Remove(Jobs[c.Result.Key].Seq), leases: l => l.Remove(c.Result.Key)),
        JobFailed f => Update(f.Key, j => j with { Status = JobStatus.Failed, Error = f.Error, Worker = null, Node = null },
            queue: q => q.Remove(Jobs[f.Key].Seq), leases: l => l.Remove(f.Key)),
        JobsRetried r => r.Keys.Aggregate(this, (state, key) => state.Update(key,
            j => j with { Status = JobStatus.Queued, Attempts = 0, Worker = null, Node = null, Result = null, Error = null },
            queue: q => q.SetItem(state.Jobs[key].Seq, key), leases: l => l.Remove(key))),
        _ => throw new ArgumentException($"unknown coordinator event {e.GetType().Name}"),
    };

    private CoordinatorState Update(
        string key, Func<JobEntry, JobEntry> change,
        Func<ImmutableSortedDictionary<long, string>, ImmutableSortedDictionary<long, string>> queue,
        Func<ImmutableDictionary<string, DateTimeOffset>, ImmutableDictionary<string, DateTimeOffset>> leases) =>
        Jobs.TryGetValue(key, out var entry)
            ? With(jobs: Jobs.SetItem(key, change(entry)), queue: queue(Queue), leases: leases(Leases))
            : throw new InvalidOperationException($"event for unknown job {key}");

    /// <summary>
    /// A submission adds its new jobs and gives another chance to its jobs that failed for the environment
    /// (<see cref="JobStatus.Failed"/>: data, disk, database, lost nodes; a rerun after the fix must retry
    /// them): they are queued again with fresh attempts. A new job whose model or ranges come from a job whose
    /// configuration failed can never run: it is recorded at once as a configuration failure of that cause,
    /// so no campaign waits for it.
    /// </summary>
    private CoordinatorState ApplySubmitted(CampaignSubmitted s)
    {
        var jobs = Jobs.ToBuilder();
        var queue = Queue.ToBuilder();
        var seq = Jobs.Count == 0 ? 0 : Jobs.Values.Max(j => j.Seq) + 1;
        var reused = 0;
        foreach (var job in s.Jobs)
        {
            if (jobs.TryGetValue(job.Key, out var known))
            {
                reused++;
                if (known.Status == JobStatus.Failed)
                {
                    jobs[job.Key] = known with { Status = JobStatus.Queued, Attempts = 0, Worker = null, Node = null };
                    queue[known.Seq] = job.Key;
                }
                continue;
            }
            var failedUpstream = job.Upstream.Select(u => jobs.TryGetValue(u, out var up) ? up : null)
                .FirstOrDefault(up => up?.Status == JobStatus.ConfigurationFailed);
            if (failedUpstream is not null)
            {
                var error = UpstreamFailed(failedUpstream, failedUpstream.Error);
                jobs[job.Key] = new JobEntry(job, seq++, JobStatus.ConfigurationFailed, 0, null, null, UpstreamResult(job, error), error);
                continue;
            }
            jobs[job.Key] = new JobEntry(job, seq, JobStatus.Queued, 0, null, null, null, null);
            queue[seq++] = job.Key;
        }
        var keys = s.Jobs.Select(j => j.Key).ToList();
        var campaign = Campaigns.TryGetValue(s.Campaign, out var old)
            ? old with
            {
                Keys = old.Keys.AddRange(keys.Where(k => !old.Keys.Contains(k))),
                Dropped = old.Dropped.AddRange(s.Dropped.Where(d => !old.Dropped.Contains(d))),
            }
            : new CampaignEntry(s.Campaign, s.EngineVersion, [.. keys], [.. s.Dropped], reused, s.At);
        return With(jobs: jobs.ToImmutable(), campaigns: Campaigns.SetItem(s.Campaign, campaign), queue: queue.ToImmutable());
    }

    private static string UpstreamFailed(JobEntry upstream, string? error) =>
        $"upstream {upstream.Job.Kind.ToString().ToLowerInvariant()} {upstream.Job.Key} failed: {error}";

    /// <summary>The configuration-failure result of a job that cannot run because its upstream's configuration failed.</summary>
    private static JobResult UpstreamResult(JobDescriptor job, string error) =>
        new(job.Key, job.Job, job.Label, OutcomeStatus.ConfigurationFailed, JobMetrics.Empty, new Dictionary<string, string>(), error, "", "", job.EngineVersion, 0, 0);

    // ---- decisions ----------------------------------------------------------------------------------

    /// <summary>Accepts a plan (returning the event to persist, or null when it adds nothing) or refuses it.</summary>
    public SubmitDecision Submit(CampaignPlan plan, DateTimeOffset now)
    {
        if (plan.EngineVersion != Policy.EngineVersion)
            return SubmitDecision.Refuse(plan.Campaign, $"campaign {plan.Campaign} was planned for engine {plan.EngineVersion}; this coordinator runs engine {Policy.EngineVersion}");
        if (Campaigns.TryGetValue(plan.Campaign, out var existing) && existing.EngineVersion != plan.EngineVersion)
            return SubmitDecision.Refuse(plan.Campaign, $"campaign {plan.Campaign} exists with engine {existing.EngineVersion}");
        var reused = plan.Jobs.Count(j => Jobs.ContainsKey(j.Key));
        // Nothing new, and nothing that failed for the environment to try again: no event.
        var known = existing is not null && plan.Jobs.All(j => existing.Keys.Contains(j.Key) && Jobs[j.Key].Status != JobStatus.Failed);
        var e = known ? null : new CampaignSubmitted(plan.Campaign, plan.EngineVersion, plan.DatasetFingerprint, plan.Jobs, plan.Dropped, now);
        return new SubmitDecision(e, null, new CampaignAccepted(plan.Campaign, plan.Jobs.Count, reused, plan.Dropped.Count));
    }

    /// <summary>
    /// <c>quantlab retry</c>: the campaign's failed jobs — or the one whose key is or starts with
    /// <paramref name="key"/> — whatever failed them (a configuration failure is a result kept for its key, so it
    /// is re-run only when asked), with every job downstream that failed because of them. Refused when the
    /// campaign or the job is unknown, or nothing chosen has failed.
    /// </summary>
    public RetryDecision Retry(string campaign, string? key, DateTimeOffset now)
    {
        if (!Campaigns.TryGetValue(campaign, out var c))
            return RetryDecision.Refuse(campaign, $"no campaign '{campaign}'");
        static bool HasFailed(JobEntry j) => j.Status is JobStatus.Failed or JobStatus.ConfigurationFailed;
        List<string> chosen;
        if (key is null)
            chosen = c.Keys.Where(k => HasFailed(Jobs[k])).ToList();
        else
        {
            var matches = c.Keys.Where(k => k.StartsWith(key, StringComparison.Ordinal)).ToList();
            if (matches.Count != 1)
                return RetryDecision.Refuse(campaign, matches.Count == 0 ? $"campaign {campaign} has no job {key}" : $"{key} is the start of {matches.Count} job keys of {campaign}; give more of it");
            if (!HasFailed(Jobs[matches[0]]))
                return RetryDecision.Refuse(campaign, $"job {matches[0]} has not failed (it is {Jobs[matches[0]].Status.ToString().ToLowerInvariant()})");
            chosen = matches;
        }
        if (chosen.Count == 0) return RetryDecision.Refuse(campaign, $"campaign {campaign} has no failed jobs");
        var found = chosen.ToHashSet(StringComparer.Ordinal);
        foreach (var entry in Jobs.Values.OrderBy(j => j.Seq))   // upstream jobs precede their dependents in Seq order
            if (HasFailed(entry) && entry.Job.Upstream.Any(found.Contains)) found.Add(entry.Job.Key);
        var keys = found.OrderBy(k => Jobs[k].Seq).ToList();
        return new RetryDecision(new JobsRetried(campaign, keys, now), null, new RetryAccepted(campaign, keys.Count));
    }

    /// <summary>Whether a worker of this engine version may work here; null if so, else the reason.</summary>
    public string? RefuseWorker(string engineVersion) => engineVersion == Policy.EngineVersion ? null
        : $"worker engine {engineVersion} differs from the coordinator's engine {Policy.EngineVersion}";

    /// <summary>The first queued job whose upstream jobs all succeeded, or null.</summary>
    public JobEntry? NextReady()
    {
        foreach (var key in Queue.Values)
        {
            var entry = Jobs[key];
            if (entry.Job.Upstream.All(u => Jobs.TryGetValue(u, out var up) && up.Status == JobStatus.Succeeded))
                return entry;
        }
        return null;
    }

    public int ReadyCount() => Queue.Values.Count(k => Jobs[k].Job.Upstream.All(u => Jobs.TryGetValue(u, out var up) && up.Status == JobStatus.Succeeded));

    /// <summary>
    /// The event that gives the next ready job to a worker, or null if nothing is ready or the worker still runs
    /// a job (two requests of one worker can cross: a second assignment would be ignored by the busy worker and
    /// sit until its lease ran out).
    /// </summary>
    public JobStarted? Assign(string worker, string node, DateTimeOffset now) =>
        Leases.Keys.Any(k => Jobs[k].Status == JobStatus.Running && Jobs[k].Worker == worker) ? null
        : NextReady() is { } next ? new JobStarted(next.Job.Key, worker, node, next.Attempts + 1, now) : null;

    /// <summary>
    /// The events a finished attempt leads to. A result is recorded at most once per key: a report for a
    /// job already recorded gives no events. Results of an attempt the coordinator already gave up on are
    /// still accepted while the job has no result (it is the same computation). Failures count only for the
    /// attempt that is running.
    /// </summary>
    public IReadOnlyList<ICoordinatorEvent> Finish(JobFinished report, DateTimeOffset now)
    {
        if (!Jobs.TryGetValue(report.Key, out var entry) || entry.Terminal) return [];
        var o = report.Outcome;
        if (o.Status == OutcomeStatus.InfrastructureFailed)
            return IsCurrent(entry, report.WorkerId, report.Attempt)
                ? AttemptFailed(entry, o.Error ?? "unknown error", now) : [];
        var result = new JobResult(entry.Job.Key, entry.Job.Job, entry.Job.Label,
            o.Status, o.Metrics, o.Artifacts, o.Error, report.WorkerId, report.Node, entry.Job.EngineVersion, report.Attempt, report.DurationMs);
        var events = new List<ICoordinatorEvent> { new JobCompleted(result, now) };
        if (o.Status == OutcomeStatus.ConfigurationFailed)
            foreach (var d in Dependents(entry.Job.Key))
                events.Add(new JobCompleted(UpstreamResult(d.Job, UpstreamFailed(entry, o.Error)), now));
        return events;
    }

    /// <summary>Running jobs whose lease ran out lose their attempt.</summary>
    public IReadOnlyList<ICoordinatorEvent> ExpireLeases(DateTimeOffset now)
    {
        var events = new List<ICoordinatorEvent>();
        var state = this;
        foreach (var (key, deadline) in Leases.OrderBy(l => Jobs[l.Key].Seq))
        {
            if (deadline > now || state.Jobs[key].Status != JobStatus.Running) continue;
            foreach (var e in state.AttemptFailed(state.Jobs[key], $"lease expired (no heartbeat from {state.Jobs[key].Worker})", now))
            {
                events.Add(e);
                state = state.Apply(e);
            }
        }
        return events;
    }

    /// <summary>
    /// Jobs running on a node that left the cluster (member removed, not merely unreachable) or on a worker
    /// that stopped lose their attempt and are queued again (or fail, once out of attempts).
    /// </summary>
    public IReadOnlyList<ICoordinatorEvent> Lost(Func<JobEntry, bool> ranThere, string why, DateTimeOffset now)
    {
        var events = new List<ICoordinatorEvent>();
        var state = this;
        foreach (var entry in Jobs.Values.Where(j => j.Status == JobStatus.Running && ranThere(j)).OrderBy(j => j.Seq))
            foreach (var e in state.AttemptFailed(state.Jobs[entry.Job.Key], why, now))
            {
                events.Add(e);
                state = state.Apply(e);
            }
        return events;
    }

    public IReadOnlyList<ICoordinatorEvent> WorkerLost(string worker, DateTimeOffset now) =>
        Lost(j => j.Worker == worker, $"worker {worker} stopped", now);

    public IReadOnlyList<ICoordinatorEvent> NodeRemoved(string node, DateTimeOffset now) =>
        Lost(j => j.Node == node, $"node {node} was removed from the cluster", now);

    /// <summary>Extends the lease of a running attempt (transient; no event).</summary>
    public CoordinatorState RenewLease(string key, string worker, int attempt, DateTimeOffset now) =>
        Jobs.TryGetValue(key, out var e) && IsCurrent(e, worker, attempt) ? With(leases: Leases.SetItem(key, now + Policy.Lease)) : this;

    /// <summary>After recovery every running job gets a full lease: its worker may still be alive and report.</summary>
    public CoordinatorState RenewAllLeases(DateTimeOffset now) =>
        With(leases: Leases.ToImmutableDictionary(l => l.Key, _ => now + Policy.Lease));

    /// <summary>
    /// The campaign's counts: <c>done</c> = succeeded; <c>failed</c> = every job without a usable result, its
    /// configuration failed (a result, kept) or the environment failed it (retried by the next submission), the
    /// latter also counted in <c>EnvironmentFailed</c>.
    /// </summary>
    public CampaignStatus Status(string campaign)
    {
        if (!Campaigns.TryGetValue(campaign, out var c)) return new CampaignStatus(campaign, "unknown", 0, 0, 0, 0, 0);
        int done = 0, failed = 0, environment = 0, running = 0, queued = 0;
        var started = false;
        var stages = new SortedDictionary<JobKind, int[]>(); // total, done, failed, running, queued
        foreach (var key in c.Keys)
        {
            var j = Jobs[key];
            if (!stages.TryGetValue(j.Job.Kind, out var counts)) stages[j.Job.Kind] = counts = new int[5];
            counts[0]++;
            switch (j.Status)
            {
                case JobStatus.Succeeded: done++; counts[1]++; break;
                case JobStatus.ConfigurationFailed: failed++; counts[2]++; break;
                case JobStatus.Failed: failed++; environment++; counts[2]++; break;
                case JobStatus.Running: running++; counts[3]++; break;
                default: queued++; counts[4]++; if (j.Attempts > 0) started = true; break;
            }
        }
        var total = c.Keys.Count;
        var state = done + failed == total ? (failed > 0 ? "failed" : "completed")
            : running > 0 || started || done + failed > 0 ? "running" : "queued";
        return new CampaignStatus(campaign, state, total, done, failed, running, queued,
            stages.Select(kv => new StageCounts(kv.Key.ToString().ToLowerInvariant(), kv.Value[0], kv.Value[1], kv.Value[2], kv.Value[3], kv.Value[4])).ToList(),
            environment);
    }

    public CampaignResults Results(string campaign)
    {
        if (!Campaigns.TryGetValue(campaign, out var c)) return new CampaignResults(campaign, [], []);
        var entries = c.Keys.Select(k => Jobs[k]).ToList();
        return new CampaignResults(campaign,
            entries.Where(e => e.Result is not null).Select(e => e.Result!).ToList(),
            entries.Where(e => e.Status == JobStatus.Failed).Select(e => new FailedJob(e.Job.Key, e.Job.Kind, e.Job.Label, e.Error ?? "", e.Attempts)).ToList());
    }

    /// <summary>Campaigns that contain any of the given keys (whose watchers want to hear about a change).</summary>
    public IEnumerable<string> CampaignsOf(IEnumerable<string> keys)
    {
        var set = keys.ToHashSet(StringComparer.Ordinal);
        return Campaigns.Values.Where(c => c.Keys.Any(set.Contains)).Select(c => c.Name);
    }

    private static bool IsCurrent(JobEntry e, string worker, int attempt) =>
        e.Status == JobStatus.Running && e.Worker == worker && e.Attempts == attempt;

    private IReadOnlyList<ICoordinatorEvent> AttemptFailed(JobEntry entry, string error, DateTimeOffset now)
    {
        var events = new List<ICoordinatorEvent> { new JobAttemptFailed(entry.Job.Key, entry.Worker ?? "", entry.Attempts, error, now) };
        if (entry.Attempts < Policy.MaxAttempts) return events;
        events.Add(new JobFailed(entry.Job.Key, $"failed {entry.Attempts} times; last error: {error}", entry.Attempts, now));
        foreach (var d in Dependents(entry.Job.Key))
            events.Add(new JobFailed(d.Job.Key, $"upstream {entry.Job.Kind.ToString().ToLowerInvariant()} {entry.Job.Key} failed", 0, now));
        return events;
    }

    /// <summary>Every not-yet-recorded job downstream of <paramref name="key"/>, transitively, in submission order.</summary>
    private List<JobEntry> Dependents(string key)
    {
        var found = new HashSet<string>(StringComparer.Ordinal) { key };
        var result = new List<JobEntry>();
        foreach (var entry in Jobs.Values.OrderBy(j => j.Seq))   // upstream jobs precede their dependents in Seq order
            if (!entry.Terminal && entry.Job.Upstream.Any(found.Contains) && found.Add(entry.Job.Key))
                result.Add(entry);
        return result;
    }
}

/// <summary>The outcome of a retry: the event to persist and the reply, or a refusal.</summary>
public sealed record RetryDecision(JobsRetried? Event, CampaignRefused? Refused, RetryAccepted? Accepted)
{
    public static RetryDecision Refuse(string campaign, string reason) => new(null, new CampaignRefused(campaign, reason), null);
}

/// <summary>The outcome of a submission: the event to persist (null when nothing is new) and the reply.</summary>
public sealed record SubmitDecision(CampaignSubmitted? Event, CampaignRefused? Refused, CampaignAccepted? Accepted)
{
    public static SubmitDecision Refuse(string campaign, string reason) => new(null, new CampaignRefused(campaign, reason), null);
}
