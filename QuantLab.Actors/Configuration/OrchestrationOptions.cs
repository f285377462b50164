namespace QuantLab.Actors.Configuration;

/// <summary>
/// Campaign execution: workers, retries, leases, and which executor runs the jobs. Bound from the
/// <c>QuantLab:Orchestration</c> section of appsettings.json by the host; these property initializers are the
/// one place the defaults are written (appsettings.json repeats them, and a test keeps the two equal).
/// It lives here, not in the host, because <see cref="Coordinator.CoordinatorPolicy"/> and
/// <see cref="Workers.WorkerSettings"/> are built from it.
/// </summary>
public sealed class OrchestrationOptions
{
    public const string Section = "QuantLab:Orchestration";

    /// <summary>Worker actors per node (each runs one job at a time on its own thread).</summary>
    public int Workers { get; set; } = 2;
    /// <summary><c>engine</c> (the real jobs) or <c>synthetic[:MS]</c> (jobs that only take MS milliseconds: benchmarks, fault drills).</summary>
    public string Executor { get; set; } = "engine";
    /// <summary>Attempts per job before it is recorded as failed.</summary>
    public int MaxAttempts { get; set; } = 3;
    /// <summary>A running job without a heartbeat for this long is queued again (the safety net behind member removal).</summary>
    public double LeaseSeconds { get; set; } = 120;
    /// <summary>How often a running job's lease is renewed (well under <see cref="LeaseSeconds"/>).</summary>
    public double HeartbeatSeconds { get; set; } = 10;
    /// <summary>How often a worker registers again, so a new or restarted coordinator finds it.</summary>
    public double RegisterSeconds { get; set; } = 5;
    /// <summary>How often a worker sends an unacknowledged result again (never less often than it heartbeats).</summary>
    public double ResendSeconds { get; set; } = 3;
    /// <summary>The most jobs a worker leases at once while its jobs are short (under 100 ms): the next one is then at hand when one ends.</summary>
    public int LeaseBatch { get; set; } = 16;
    /// <summary>The coordinator snapshots its state after this many events (or a quarter as many as it holds jobs, if more), so recovery and <c>status</c> replay only the events since.</summary>
    public int SnapshotEvery { get; set; } = 1000;
    /// <summary>TorchSharp threads while a job runs; small, so heartbeats keep flowing.</summary>
    public int TorchThreads { get; set; } = 1;
    /// <summary>The most jobs one spec may plan: a larger grid is refused, counted before it is built.</summary>
    public long MaxPlannedJobs { get; set; } = Planning.CampaignPlanner.DefaultMaxJobs;
    /// <summary>When stderr is not a terminal, <c>run</c> prints a progress line at most this often (and always the last).</summary>
    public double ProgressSeconds { get; set; } = 5;
}
