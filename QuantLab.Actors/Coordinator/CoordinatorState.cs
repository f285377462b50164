using QuantLab.Engine.Jobs;
using System.Collections.Immutable;
using System.Text.Json.Serialization;
using QuantLab.Actors.Messages;
using QuantLab.Actors.Planning;

namespace QuantLab.Actors.Coordinator;

public enum JobStatus { Queued, Running, Succeeded, ConfigurationFailed, Failed }

/// <param name="Seq">Position in submission order: the queue's order, so dispatch is deterministic.</param>
/// <param name="Attempts">Attempts started so far.</param>
/// <param name="Waiting">Upstream jobs that have not succeeded yet: the job is ready when it is queued and this is 0.</param>
/// <param name="Campaigns">The campaigns that hold the job (one, unless a later campaign reused it): their counters follow its status.</param>
public sealed record JobEntry(
    JobDescriptor Job, long Seq, JobStatus Status, int Attempts,
    string? Worker, string? Node, JobResult? Result, string? Error, int Waiting, ImmutableList<string> Campaigns)
{
    [JsonIgnore] public bool Terminal => Status is JobStatus.Succeeded or JobStatus.ConfigurationFailed or JobStatus.Failed;
    [JsonIgnore] public bool Ready => Status == JobStatus.Queued && Waiting == 0;
}

/// <param name="Keys">The campaign's jobs in plan order (a resubmission with more jobs extends it).</param>
/// <param name="Reused">Jobs of the campaign that existed before it was submitted.</param>
/// <param name="Counts">Its jobs per (kind, <see cref="CoordinatorState.Bucket"/>), kept as jobs change, so a status costs no scan.</param>
public sealed record CampaignEntry(
    string Name, string EngineVersion, ImmutableList<string> Keys,
    ImmutableList<DroppedCombination> Dropped, int Reused, DateTimeOffset SubmittedAt, ImmutableArray<int> Counts)
{
    /// <summary>
    /// Its succeeded results per producing identity (<see cref="JobResult.Identity"/>; "" for a node without TLS),
    /// kept as jobs change like <see cref="Counts"/>. Not in snapshots: derived again from the jobs on recovery.
    /// </summary>
    [JsonIgnore] public ImmutableDictionary<string, int> Producers { get; init; } = ImmutableDictionary<string, int>.Empty.WithComparers(StringComparer.Ordinal);
}

/// <summary>
/// The coordinator's state as an immutable value (the distributed-workers sample's WorkState): events
/// change it only through <see cref="Apply"/>; decision methods read it and return the events to persist,
/// never changing it. Leases are the one transient part: they are not events, and are renewed after recovery.
/// Every event costs O(log jobs): the ready jobs are kept in their own queue (a job enters it when its last
/// upstream job succeeds) and each campaign keeps its counts, so nothing scans all jobs after an event.
/// </summary>
public sealed class CoordinatorState
{
    public CoordinatorPolicy Policy { get; }
    public ImmutableDictionary<string, JobEntry> Jobs { get; }
    public ImmutableDictionary<string, CampaignEntry> Campaigns { get; }
    /// <summary>Queued jobs whose upstream jobs all succeeded, by <see cref="JobEntry.Seq"/>: dispatch order.</summary>
    public ImmutableSortedDictionary<long, string> Ready { get; }
    /// <summary>Per job key, the jobs that read it (whose <see cref="JobEntry.Waiting"/> drops when it succeeds).</summary>
    public ImmutableDictionary<string, ImmutableList<string>> Dependents { get; }
    /// <summary>Lease deadline per running job (transient).</summary>
    public ImmutableDictionary<string, DateTimeOffset> Leases { get; }
    /// <summary>The <see cref="JobEntry.Seq"/> of the next new job.</summary>
    public long NextSeq { get; }

    private CoordinatorState(
        CoordinatorPolicy policy, ImmutableDictionary<string, JobEntry> jobs, ImmutableDictionary<string, CampaignEntry> campaigns,
        ImmutableSortedDictionary<long, string> ready, ImmutableDictionary<string, ImmutableList<string>> dependents,
        ImmutableDictionary<string, DateTimeOffset> leases, long nextSeq)
    {
        Policy = policy; Jobs = jobs; Campaigns = campaigns; Ready = ready; Dependents = dependents; Leases = leases; NextSeq = nextSeq;
    }

    public static CoordinatorState Empty(CoordinatorPolicy? policy = null) =>
        new(policy ?? CoordinatorPolicy.Default, ImmutableDictionary<string, JobEntry>.Empty.WithComparers(StringComparer.Ordinal),
            ImmutableDictionary<string, CampaignEntry>.Empty.WithComparers(StringComparer.Ordinal),
            ImmutableSortedDictionary<long, string>.Empty, ImmutableDictionary<string, ImmutableList<string>>.Empty.WithComparers(StringComparer.Ordinal),
            ImmutableDictionary<string, DateTimeOffset>.Empty.WithComparers(StringComparer.Ordinal), 0);

    private CoordinatorState With(ImmutableDictionary<string, DateTimeOffset> leases) =>
        new(Policy, Jobs, Campaigns, Ready, Dependents, leases, NextSeq);

    // ---- snapshots ----------------------------------------------------------------------------------

    public CoordinatorSnapshot ToSnapshot(DateTimeOffset now) => new([.. Campaigns.Values], [.. Jobs.Values], NextSeq, now);

    /// <summary>The state a snapshot holds, with the ready queue, dependents and leases (of its running jobs, from the snapshot's time) derived again.</summary>
    public static CoordinatorState FromSnapshot(CoordinatorPolicy policy, CoordinatorSnapshot snapshot)
    {
        var jobs = snapshot.Jobs.ToImmutableDictionary(j => j.Job.Key, StringComparer.Ordinal);
        var dependents = snapshot.Jobs
            .SelectMany(j => j.Job.Upstream.Distinct(StringComparer.Ordinal).Select(u => (Upstream: u, j.Job.Key, j.Seq)))
            .GroupBy(d => d.Upstream, StringComparer.Ordinal)
            .ToImmutableDictionary(g => g.Key, g => g.OrderBy(d => d.Seq).Select(d => d.Key).ToImmutableList(), StringComparer.Ordinal);
        var producers = snapshot.Jobs.Where(j => j.Status == JobStatus.Succeeded)
            .SelectMany(j => j.Campaigns.Select(c => (Campaign: c, Identity: Producer(j))))
            .GroupBy(p => p.Campaign, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.GroupBy(p => p.Identity, StringComparer.Ordinal).ToImmutableDictionary(x => x.Key, x => x.Count(), StringComparer.Ordinal), StringComparer.Ordinal);
        return new CoordinatorState(policy, jobs,
            snapshot.Campaigns.ToImmutableDictionary(c => c.Name, c => producers.TryGetValue(c.Name, out var p) ? c with { Producers = p } : c, StringComparer.Ordinal),
            snapshot.Jobs.Where(j => j.Ready).ToImmutableSortedDictionary(j => j.Seq, j => j.Job.Key),
            dependents,
            snapshot.Jobs.Where(j => j.Status == JobStatus.Running).ToImmutableDictionary(j => j.Job.Key, _ => snapshot.At + policy.Lease, StringComparer.Ordinal),
            snapshot.NextSeq);
    }

    // ---- counters -----------------------------------------------------------------------------------

    private static readonly int Kinds = Enum.GetValues<JobKind>().Length;
    private const int Buckets = 6;

    /// <summary>
    /// A job's counter within its kind: 0 queued and never started, 1 queued again after an attempt (the campaign
    /// has started), 2 running, 3 succeeded, 4 configuration failed, 5 failed for the environment.
    /// </summary>
    public static int Bucket(JobEntry j) => j.Status switch
    {
        JobStatus.Queued => j.Attempts > 0 ? 1 : 0,
        JobStatus.Running => 2,
        JobStatus.Succeeded => 3,
        JobStatus.ConfigurationFailed => 4,
        _ => 5,
    };

    private static int Slot(JobEntry j) => (int)j.Job.Kind * Buckets + Bucket(j);

    private static ImmutableArray<int> NoCounts => ImmutableArray.Create(new int[Kinds * Buckets]);

    /// <summary>The identity a succeeded job counts for in <see cref="CampaignEntry.Producers"/>.</summary>
    private static string Producer(JobEntry j) => j.Result?.Identity ?? "";

    /// <summary>The campaign's producers after <paramref name="before"/> became <paramref name="after"/> (either may be null: a job new to the campaign).</summary>
    private static ImmutableDictionary<string, int> Produced(ImmutableDictionary<string, int> producers, JobEntry? before, JobEntry after)
    {
        string? was = before?.Status == JobStatus.Succeeded ? Producer(before) : null;
        string? @is = after.Status == JobStatus.Succeeded ? Producer(after) : null;
        if (was == @is) return producers;
        if (was is not null)
        {
            var n = producers.GetValueOrDefault(was) - 1;
            producers = n > 0 ? producers.SetItem(was, n) : producers.Remove(was);
        }
        return @is is null ? producers : producers.SetItem(@is, producers.GetValueOrDefault(@is) + 1);
    }

    // ---- events -----------------------------------------------------------------------------------

    public CoordinatorState Apply(ICoordinatorEvent e) => ApplyAll([e]);

    /// <summary>
    /// The state after <paramref name="events"/>, in order: the same as applying them one by one, at a fraction of
    /// the allocation for a long run of them (a recovery's replay). Each event costs O(log jobs).
    /// </summary>
    public CoordinatorState ApplyAll(IEnumerable<ICoordinatorEvent> events)
    {
        var change = new Change(this);
        foreach (var e in events) change.Apply(e);
        return change.ToState();
    }

    /// <summary>
    /// Events being applied to a state: its collections as builders, and the counters of the campaigns they touch as
    /// plain arrays. A builder copies a tree node the first time an event reaches it and changes it in place after,
    /// so a run of events shares the copies (one event at a time on immutable values, replaying 85,000 events
    /// after a 100,000-job snapshot spent 3 s, most of it in the collector).
    /// </summary>
    private sealed class Change(CoordinatorState state)
    {
        private readonly ImmutableDictionary<string, JobEntry>.Builder _jobs = state.Jobs.ToBuilder();
        private readonly ImmutableDictionary<string, CampaignEntry>.Builder _campaigns = state.Campaigns.ToBuilder();
        private readonly ImmutableSortedDictionary<long, string>.Builder _ready = state.Ready.ToBuilder();
        private readonly ImmutableDictionary<string, ImmutableList<string>>.Builder _dependents = state.Dependents.ToBuilder();
        private readonly ImmutableDictionary<string, DateTimeOffset>.Builder _leases = state.Leases.ToBuilder();
        private readonly Dictionary<string, Counters> _counters = new(StringComparer.Ordinal);
        private long _nextSeq = state.NextSeq;

        /// <summary>A touched campaign's <see cref="CampaignEntry.Counts"/> and <see cref="CampaignEntry.Producers"/>, written back by <see cref="ToState"/>.</summary>
        private sealed class Counters(CampaignEntry c)
        {
            public readonly int[] Counts = c.Counts.ToArray();
            public ImmutableDictionary<string, int> Producers = c.Producers;
        }

        public void Apply(ICoordinatorEvent e)
        {
            switch (e)
            {
                case CampaignSubmitted s: Submitted(s); break;
                case JobsLeased l:
                    foreach (var leased in l.Jobs) Started(leased.Key, leased.Attempt, l.Worker, l.Node, l.At);
                    break;
                case JobStarted s: Started(s.Key, s.Attempt, s.Worker, s.Node, s.At); break;
                case JobAttemptFailed f: Update(f.Key, j => j with { Status = JobStatus.Queued, Worker = null, Node = null, Error = f.Error }); break;
                case JobCompleted c:
                    Update(c.Result.Key, j => j with
                    {
                        Status = c.Result.Status == OutcomeStatus.Succeeded ? JobStatus.Succeeded : JobStatus.ConfigurationFailed,
                        Result = c.Result, Error = c.Result.Error, Worker = c.Result.Worker, Node = c.Result.Node,
                    });
                    break;
                case JobFailed f: Update(f.Key, j => j with { Status = JobStatus.Failed, Error = f.Error, Worker = null, Node = null }); break;
                case JobsRetried r:
                    foreach (var key in r.Keys)
                        Update(key, j => j with { Status = JobStatus.Queued, Attempts = 0, Worker = null, Node = null, Result = null, Error = null });
                    break;
                default: throw new ArgumentException($"unknown coordinator event {e.GetType().Name}");
            }
        }

        public CoordinatorState ToState()
        {
            foreach (var (name, c) in _counters)
                _campaigns[name] = _campaigns[name] with { Counts = ImmutableArray.Create(c.Counts), Producers = c.Producers };
            return new CoordinatorState(state.Policy, _jobs.ToImmutable(), _campaigns.ToImmutable(), _ready.ToImmutable(),
                _dependents.ToImmutable(), _leases.ToImmutable(), _nextSeq);
        }

        private void Started(string key, int attempt, string worker, string node, DateTimeOffset at) =>
            Update(key, j => j with { Status = JobStatus.Running, Attempts = attempt, Worker = worker, Node = node }, at + state.Policy.Lease);

        /// <summary>Changes one job and keeps everything derived from it in step: the ready queue, its lease, its campaigns' counts, and its dependents' waiting counts once it succeeds.</summary>
        private void Update(string key, Func<JobEntry, JobEntry> change, DateTimeOffset? leaseUntil = null)
        {
            if (!_jobs.TryGetValue(key, out var old)) throw new InvalidOperationException($"event for unknown job {key}");
            var entry = change(old);
            _jobs[key] = entry;
            if (old.Ready) _ready.Remove(old.Seq);
            if (entry.Ready) _ready[entry.Seq] = key;
            if (entry.Status == JobStatus.Running) _leases[key] = leaseUntil ?? _leases[key];
            else _leases.Remove(key);
            if (Slot(old) != Slot(entry)) Recount(old, entry);
            if (entry.Status == JobStatus.Succeeded && old.Status != JobStatus.Succeeded && _dependents.TryGetValue(key, out var dependents))
                foreach (var d in dependents)
                    if (_jobs.TryGetValue(d, out var down))
                    {
                        var released = down with { Waiting = down.Waiting - 1 };
                        _jobs[d] = released;
                        if (released.Ready) _ready[released.Seq] = d;
                    }
        }

        /// <summary>
        /// <paramref name="before"/> (null for a new job) became <paramref name="after"/>: the counters of every campaign
        /// holding it follow (a campaign that did not hold it before only gains it).
        /// </summary>
        private void Recount(JobEntry? before, JobEntry after)
        {
            foreach (var name in after.Campaigns)
            {
                if (!_counters.TryGetValue(name, out var c)) _counters[name] = c = new Counters(_campaigns[name]);
                var held = before is not null && before.Campaigns.Contains(name);
                if (held) c.Counts[Slot(before!)]--;
                c.Counts[Slot(after)]++;
                c.Producers = Produced(c.Producers, held ? before : null, after);
            }
        }

        /// <summary>
        /// A submission adds its new jobs and gives another chance to its jobs that failed for the environment
        /// (<see cref="JobStatus.Failed"/>: data, disk, database, lost nodes; a rerun after the fix must retry
        /// them): they are queued again with fresh attempts. A new job whose model or ranges come from a job whose
        /// configuration failed can never run: it is recorded at once as a configuration failure of that cause,
        /// so no campaign waits for it.
        /// </summary>
        private void Submitted(CampaignSubmitted s)
        {
            var isNew = !_campaigns.TryGetValue(s.Campaign, out var campaign);
            campaign ??= new CampaignEntry(s.Campaign, s.EngineVersion, [], [], 0, s.At, NoCounts);
            _campaigns[s.Campaign] = campaign;
            var keys = campaign.Keys.ToBuilder();
            var reused = 0;
            foreach (var job in s.Jobs)
            {
                if (_jobs.TryGetValue(job.Key, out var known))
                {
                    if (isNew) reused++;
                    var entry = known.Campaigns.Contains(s.Campaign) ? known : known with { Campaigns = known.Campaigns.Add(s.Campaign) };
                    if (!known.Campaigns.Contains(s.Campaign)) keys.Add(job.Key);
                    if (known.Status == JobStatus.Failed)
                    {
                        entry = entry with { Status = JobStatus.Queued, Attempts = 0, Worker = null, Node = null };
                        if (entry.Ready) _ready[entry.Seq] = job.Key;
                    }
                    if (entry != known) { Recount(known, entry); _jobs[job.Key] = entry; }
                    continue;
                }
                var upstream = job.Upstream.Distinct(StringComparer.Ordinal).ToList();
                foreach (var u in upstream)
                    _dependents[u] = _dependents.TryGetValue(u, out var list) ? list.Add(job.Key) : [job.Key];
                var waiting = upstream.Count(u => !(_jobs.TryGetValue(u, out var up) && up.Status == JobStatus.Succeeded));
                var failedUpstream = upstream.Select(u => _jobs.TryGetValue(u, out var up) ? up : null)
                    .FirstOrDefault(up => up?.Status == JobStatus.ConfigurationFailed);
                JobEntry added;
                if (failedUpstream is not null)
                {
                    var error = UpstreamFailed(failedUpstream, failedUpstream.Error);
                    added = new JobEntry(job, _nextSeq++, JobStatus.ConfigurationFailed, 0, null, null, UpstreamResult(job, error), error, waiting, [s.Campaign]);
                }
                else
                {
                    added = new JobEntry(job, _nextSeq++, JobStatus.Queued, 0, null, null, null, null, waiting, [s.Campaign]);
                    if (added.Ready) _ready[added.Seq] = job.Key;
                }
                _jobs[job.Key] = added;
                keys.Add(job.Key);
                Recount(null, added);
            }
            // Its counters are written back by ToState.
            _campaigns[s.Campaign] = campaign with
            {
                Keys = keys.ToImmutable(),
                Dropped = campaign.Dropped.AddRange(s.Dropped.Where(d => !campaign.Dropped.Contains(d))),
                Reused = isNew ? reused : campaign.Reused,
            };
        }
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
        var known = existing is not null && plan.Jobs.All(j => Jobs.TryGetValue(j.Key, out var e) && e.Campaigns.Contains(plan.Campaign) && e.Status != JobStatus.Failed);
        var e = known ? null : new CampaignSubmitted(plan.Campaign, plan.EngineVersion, plan.DatasetFingerprint, plan.Jobs, plan.Dropped, now);
        return new SubmitDecision(e, null, new CampaignAccepted(plan.Campaign, plan.Jobs.Count, reused, plan.Dropped.Count, Estimate(plan)));
    }

    /// <summary>
    /// Per stage, the plan's jobs that are not finished here yet and the median duration of the stage's jobs that
    /// succeeded in this lab (any campaign): the measured rate, before anything of the plan runs.
    /// </summary>
    public IReadOnlyList<StageEstimate> Estimate(CampaignPlan plan)
    {
        var toRun = plan.Jobs.Where(j => !(Jobs.TryGetValue(j.Key, out var e) && e.Terminal && e.Status != JobStatus.Failed))
            .GroupBy(j => j.Kind).ToDictionary(g => g.Key, g => g.Count());
        if (toRun.Count == 0) return [];
        var durations = Jobs.Values.Where(j => j.Status == JobStatus.Succeeded && toRun.ContainsKey(j.Job.Kind))
            .GroupBy(j => j.Job.Kind).ToDictionary(g => g.Key, g => g.Select(j => j.Result!.DurationMs / 1000.0).Order().ToList());
        return Enum.GetValues<JobKind>().Where(toRun.ContainsKey)
            .Select(k => new StageEstimate(k.ToString().ToLowerInvariant(), toRun[k], durations.TryGetValue(k, out var d) ? d[d.Count / 2] : null))
            .ToList();
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

    /// <summary>
    /// Whether the coordinator should snapshot after <paramref name="sinceSnapshot"/> events: every
    /// <see cref="CoordinatorPolicy.SnapshotEvery"/> events, or every quarter as many as it holds jobs if that is more (a
    /// snapshot costs in proportion to the jobs, so its cost per event stays constant, while a recovery replays at most
    /// a quarter as many events as there are jobs: 50,000 events took 2.5-3 s to replay, and a 100,000-job campaign ran
    /// as fast with a quarter as with half); and whenever the lab falls idle (nothing ready, nothing running)
    /// with events since the last one, so a finished campaign's final state is one snapshot and <c>status</c>,
    /// <c>report</c> and recovery replay no events (replaying the 100,000 events of a 100,000-job campaign took 10 s).
    /// </summary>
    public bool SnapshotDue(long sinceSnapshot) =>
        sinceSnapshot >= Math.Max(Policy.SnapshotEvery, Jobs.Count / 4) || (sinceSnapshot > 0 && Ready.IsEmpty && Leases.IsEmpty);

    /// <summary>Jobs the worker holds: leased to it and not yet recorded (running, or waiting in its local queue).</summary>
    public int Held(string worker) => Leases.Keys.Count(k => Jobs[k].Worker == worker);

    /// <summary>
    /// The event that leases the next ready jobs to a worker that can hold <paramref name="capacity"/> jobs: as many
    /// as it has room for beside the jobs it already holds (two requests of one worker can cross: the second must not
    /// give it more than it can hold, or they would sit in its queue until their leases ran out). Null if nothing is
    /// ready or the worker is full.
    /// </summary>
    public JobsLeased? Assign(string worker, string node, int capacity, DateTimeOffset now)
    {
        var room = capacity - Held(worker);
        if (room <= 0 || Ready.IsEmpty) return null;
        return new JobsLeased(worker, node, [.. Ready.Take(room).Select(r => new LeasedJob(r.Value, Jobs[r.Value].Attempts + 1))], now);
    }

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
            o.Status, o.Metrics, o.Artifacts, o.Error, report.WorkerId, report.Node, entry.Job.EngineVersion, report.Attempt, report.DurationMs, report.Identity);
        var events = new List<ICoordinatorEvent> { new JobCompleted(result, now) };
        if (o.Status == OutcomeStatus.ConfigurationFailed)
            foreach (var d in Downstream(entry.Job.Key))
                events.Add(new JobCompleted(UpstreamResult(d.Job, UpstreamFailed(entry, o.Error)), now));
        return events;
    }

    /// <summary>Running jobs whose lease ran out lose their attempt.</summary>
    public IReadOnlyList<ICoordinatorEvent> ExpireLeases(DateTimeOffset now) =>
        Lost(key => Leases[key] <= now, key => $"lease expired (no heartbeat from {Jobs[key].Worker})", now);

    /// <summary>
    /// Jobs running on a node that left the cluster (member removed, not merely unreachable) or on a worker
    /// that stopped lose their attempt and are queued again (or fail, once out of attempts).
    /// </summary>
    public IReadOnlyList<ICoordinatorEvent> Lost(Func<JobEntry, bool> ranThere, string why, DateTimeOffset now) =>
        Lost(key => ranThere(Jobs[key]), _ => why, now);

    /// <summary>The running jobs (those with a lease) that <paramref name="lost"/> picks lose their attempt, in submission order.</summary>
    private List<ICoordinatorEvent> Lost(Func<string, bool> lost, Func<string, string> why, DateTimeOffset now)
    {
        var events = new List<ICoordinatorEvent>();
        var state = this;
        foreach (var key in Leases.Keys.Where(lost).OrderBy(k => Jobs[k].Seq).ToList())
        {
            if (state.Jobs[key].Status != JobStatus.Running) continue;   // failed with an upstream job lost just before
            foreach (var e in state.AttemptFailed(state.Jobs[key], why(key), now))
            {
                events.Add(e);
                state = state.Apply(e);
            }
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
        With(leases: Leases.ToImmutableDictionary(l => l.Key, _ => now + Policy.Lease, StringComparer.Ordinal));

    /// <summary>
    /// The campaign's counts: <c>done</c> = succeeded; <c>failed</c> = every job without a usable result, its
    /// configuration failed (a result, kept) or the environment failed it (retried by the next submission), the
    /// latter also counted in <c>EnvironmentFailed</c>. Read from the campaign's counters: no job is visited.
    /// </summary>
    public CampaignStatus Status(string campaign)
    {
        if (!Campaigns.TryGetValue(campaign, out var c)) return new CampaignStatus(campaign, "unknown", 0, 0, 0, 0, 0);
        var stages = new List<StageCounts>();
        int done = 0, failed = 0, environment = 0, running = 0, queued = 0, requeued = 0;
        foreach (var kind in Enum.GetValues<JobKind>())
        {
            var n = c.Counts.AsSpan((int)kind * Buckets, Buckets);
            var total = n[0] + n[1] + n[2] + n[3] + n[4] + n[5];
            if (total == 0) continue;
            stages.Add(new StageCounts(kind.ToString().ToLowerInvariant(), total, n[3], n[4] + n[5], n[2], n[0] + n[1]));
            done += n[3]; failed += n[4] + n[5]; environment += n[5]; running += n[2]; queued += n[0] + n[1]; requeued += n[1];
        }
        var all = c.Keys.Count;
        var state = done + failed == all ? (failed > 0 ? "failed" : "completed")
            : running > 0 || requeued > 0 || done + failed > 0 ? "running" : "queued";
        var producers = c.Producers.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => new ProducerCount(p.Key == "" ? null : p.Key, p.Value)).ToList();
        return new CampaignStatus(campaign, state, all, done, failed, running, queued, stages, environment, producers);
    }

    public CampaignResults Results(string campaign)
    {
        if (!Campaigns.TryGetValue(campaign, out var c)) return new CampaignResults(campaign, [], []);
        var entries = c.Keys.Select(k => Jobs[k]).ToList();
        return new CampaignResults(campaign,
            entries.Where(e => e.Result is not null).Select(e => e.Result!).ToList(),
            entries.Where(e => e.Status == JobStatus.Failed).Select(e => new FailedJob(e.Job.Key, e.Job.Kind, e.Job.Label, e.Error ?? "", e.Attempts)).ToList());
    }

    private static bool IsCurrent(JobEntry e, string worker, int attempt) =>
        e.Status == JobStatus.Running && e.Worker == worker && e.Attempts == attempt;

    private IReadOnlyList<ICoordinatorEvent> AttemptFailed(JobEntry entry, string error, DateTimeOffset now)
    {
        var events = new List<ICoordinatorEvent> { new JobAttemptFailed(entry.Job.Key, entry.Worker ?? "", entry.Attempts, error, now) };
        if (entry.Attempts < Policy.MaxAttempts) return events;
        events.Add(new JobFailed(entry.Job.Key, $"failed {entry.Attempts} times; last error: {error}", entry.Attempts, now));
        foreach (var d in Downstream(entry.Job.Key))
            events.Add(new JobFailed(d.Job.Key, $"upstream {entry.Job.Kind.ToString().ToLowerInvariant()} {entry.Job.Key} failed", 0, now));
        return events;
    }

    /// <summary>Every not-yet-recorded job downstream of <paramref name="key"/>, transitively, in submission order.</summary>
    private List<JobEntry> Downstream(string key)
    {
        var found = new HashSet<string>(StringComparer.Ordinal) { key };
        var result = new List<JobEntry>();
        var next = new Stack<string>([key]);
        while (next.TryPop(out var k))
            if (Dependents.TryGetValue(k, out var ds))
                foreach (var d in ds)
                    if (Jobs.TryGetValue(d, out var entry) && !entry.Terminal && found.Add(d))
                    {
                        result.Add(entry);
                        next.Push(d);
                    }
        return [.. result.OrderBy(e => e.Seq)];
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
