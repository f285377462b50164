using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Hosting;
using Akka.Cluster.Hosting.SBR;
using Akka.Hosting;
using Akka.Remote.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using QuantLab.Actors.Coordinator;
using QuantLab.Actors.Hosting;
using QuantLab.Actors.Storage;
using QuantLab.Actors.Workers;
using QuantLab.Engine;
using QuantLab.Engine.Data;
using QuantLab.Host.Configuration;
using QuantLab.Host.Data;
using AkkaClusterOptions = Akka.Cluster.Hosting.ClusterOptions;
using ClusterOptions = QuantLab.Host.Configuration.ClusterOptions;

namespace QuantLab.Host.Lab;

/// <summary>What a lab process hosts: the coordinator (plain or as the cluster singleton), workers, or neither (a client).</summary>
/// <param name="Cluster">Null: one process, no remoting. Otherwise this node's port, seed nodes and roles.</param>
/// <param name="Store">The lab's database; null: a client (submit), which reaches it only through the coordinator.</param>
public sealed record LabProcess(LabStore? Store, bool Coordinator, int Workers, ClusterNode? Cluster);

/// <param name="Port">0 picks a free port (clients).</param>
/// <param name="Insecure">Allow a non-loopback bind without TLS (<c>--insecure</c>).</param>
public sealed record ClusterNode(int Port, IReadOnlyList<string> SeedNodes, IReadOnlyList<string> Roles, bool Insecure = false);

/// <summary>
/// Composes a lab process with Microsoft.Extensions.Hosting + Akka.Hosting from the small extension methods
/// of QuantLab.Actors: SQL persistence (SQLite or PostgreSQL), the coordinator (or its singleton and proxy), the workers and
/// their executor. Akka logs go to stderr through Microsoft.Extensions.Logging; stdout stays the CLI's.
/// </summary>
public static class LabHost
{
    public const string SystemName = "quantlab";

    /// <summary>One executor factory per process, sharing one MNIST load.</summary>
    /// <param name="log">MNIST acquisition messages (stderr).</param>
    public static Func<IJobExecutor> Executors(QuantLabOptions options, Action<string> log)
    {
        var setting = options.Orchestration.Executor;
        if (SyntheticJobExecutor.FromSetting(setting) is { } synthetic) return () => synthetic;
        if (setting != "engine")
            throw new BadInputException($"QuantLab:Orchestration:Executor is '{setting}'; allowed: engine, synthetic, synthetic:MS");
        var data = MnistData.Options(options.Data, null);
        var mnist = new MnistProvider(() => MnistAcquirer.FromOptions(data).Acquire(log));
        var executorOptions = new EngineExecutorOptions(TorchThreads: options.Orchestration.TorchThreads, IntegerThreads: 1);
        return () => new EngineJobExecutor(mnist, executorOptions);
    }

    /// <summary>
    /// Builds (does not start) the host of <paramref name="lab"/>. Its database is initialized here, once per process
    /// start, so a file that cannot be used is refused before Akka starts; the options are validated again when the
    /// host starts (<c>ValidateOnStart</c>), for callers that did not bind them through <see cref="AppConfiguration.Bind"/>.
    /// </summary>
    /// <param name="log">Where an engine executor reports MNIST acquisition (stderr); default: nowhere.</param>
    /// <param name="verbose">Log exceptions with their stack traces (<c>--verbose</c>).</param>
    public static IHost Build(QuantLabOptions options, LabProcess lab, Func<IJobExecutor>? executors = null, Action<string>? log = null, bool verbose = false)
    {
        var tls = lab.Cluster is { } cluster ? Security(options.Cluster, cluster) : null;
        if (lab.Cluster is { Port: > 0 } node) EnsurePortFree(options.Cluster.Hostname, node.Port);
        lab.Store?.PrepareForWriting();
        var make = lab.Workers > 0 ? executors ?? Executors(options, log ?? (_ => { })) : null;
        return new HostBuilder()
            .ConfigureLogging(logging =>
            {
                logging.ClearProviders();
                logging.AddConsole(c =>
                {
                    c.LogToStandardErrorThreshold = LogLevel.Trace;
                    c.FormatterName = LogLine.Name;
                });
                logging.AddConsoleFormatter<LogLine, LogLineOptions>(o => o.Verbose = verbose);
                logging.SetMinimumLevel(LogLevel.Warning);
            })
            // Signals belong to the CLI (QuantLabCli), which cancels the verb; the default ConsoleLifetime would
            // also take SIGINT/SIGTERM and stop the host under a verb still using it.
            .ConfigureServices(services => services.AddSingleton<IHostLifetime, VerbLifetime>())
            // The node's TLS identity, loaded and checked once (Security), for the verbs that report it.
            .ConfigureServices(services => { if (tls is not null) services.AddSingleton(tls); })
            .ConfigureServices(services =>
            {
                services.AddSingleton<IValidateOptions<QuantLabOptions>, QuantLabOptionsValidator>();
                services.AddOptions<QuantLabOptions>().Configure(o =>
                {
                    o.Data = options.Data;
                    o.Training = options.Training;
                    o.Storage = options.Storage;
                    o.Orchestration = options.Orchestration;
                    o.Cluster = options.Cluster;
                }).ValidateOnStart();
            })
            .ConfigureServices(services => services.AddAkka(SystemName, (b, provider) =>
            {
                var o = provider.GetRequiredService<IOptions<QuantLabOptions>>().Value;
                b.ConfigureLoggers(l =>
                {
                    l.LogLevel = Akka.Event.LogLevel.WarningLevel;
                    l.DeadLetterOptions = new DeadLetterOptions { ShouldLog = TriStateValue.None, LogDuringShutdown = false };
                    l.ClearLoggers();
                    l.AddLoggerFactory();
                });
                // No typed options for these two. Akka would also take SIGTERM (its CLR shutdown hook) and terminate the
                // system under the verb; the verb stops the host itself, which runs the same coordinated shutdown (leaving the cluster).
                b.AddHocon("akka.stdout-loglevel = OFF\nakka.coordinated-shutdown.run-by-clr-shutdown-hook = off", HoconAddMode.Prepend);
                if (lab.Cluster is { } c) WithCluster(b, o.Cluster, c, tls);
                if (lab.Store is not null) b.WithQuantLabStore(lab.Store);
                else b.AddHocon(QuantLabConfig.Serialization(), HoconAddMode.Prepend);   // a client: messages only
                if (lab.Cluster is null)
                    b.WithQuantLabCoordinator(CoordinatorPolicy.From(o.Orchestration, singleProcess: true), lab.Store);
                else
                    b.WithQuantLabCoordinatorSingleton(CoordinatorPolicy.From(o.Orchestration), hostsCoordinator: lab.Coordinator, store: lab.Store);
                if (make is not null && lab.Store is not null)
                    b.WithQuantLabWorkers(lab.Workers, lab.Store, make, WorkerSettings.From(o.Orchestration) with { Identity = tls?.Subject });
            }))
            .Build();
    }

    /// <summary>Starts the host; a failure to start (port, database) is an infrastructure error.</summary>
    public static async Task StartAsync(IHost host, CancellationToken cancel)
    {
        try
        {
            await host.StartAsync(cancel);
        }
        catch (OptionsValidationException e)
        {
            throw new BadInputException(string.Join("; ", e.Failures), e);
        }
        catch (Exception e) when (e is not QuantLabException and not OperationCanceledException)
        {
            throw new InfrastructureException($"could not start the lab: {e.GetBaseException().Message}", e);
        }
    }

    /// <summary>Waits until this node is Up in the cluster; a seed node that does not answer is an infrastructure error.</summary>
    public static async Task AwaitJoinedAsync(ActorSystem system, ClusterNode node, TimeSpan timeout, CancellationToken cancel)
    {
        var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Cluster.Get(system).RegisterOnMemberUp(() => up.TrySetResult());
        var finished = await Task.WhenAny(up.Task, Task.Delay(timeout, cancel));
        cancel.ThrowIfCancellationRequested();
        if (finished != up.Task)
            throw new InfrastructureException($"no seed node answered within {timeout.TotalSeconds:F0} s: {string.Join(", ", node.SeedNodes)}");
    }

    /// <summary>
    /// The cluster's security, checked before anything starts (exit 2 on a bad setting): with
    /// <c>QuantLab:Cluster:Tls</c>, the node's certificate and the lab's CA, loaded and verified, and seed nodes that
    /// speak TLS (<c>akka.ssl.tcp://</c>); without it, plain seed nodes (<c>akka.tcp://</c>) and a loopback bind, unless
    /// <see cref="ClusterNode.Insecure"/>.
    /// </summary>
    public static LabTls.Credentials? Security(ClusterOptions o, ClusterNode node)
    {
        var tls = o.Tls.Configured() ? LabTls.Load(o.Tls.Certificate!, o.Tls.Key!, o.Tls.CaCertificate!, DateTimeOffset.UtcNow) : null;
        var protocol = tls is null ? PlainProtocol : TlsProtocol;
        foreach (var seed in node.SeedNodes)
            if (Address.Parse(seed).Protocol != protocol)
                throw new BadInputException(tls is null
                    ? $"--seed-nodes: '{seed}' is a TLS address, but QuantLab:Cluster:Tls is not set (this node speaks {PlainProtocol}://)"
                    : $"--seed-nodes: '{seed}' does not speak TLS: with QuantLab:Cluster:Tls every node is {TlsProtocol}://quantlab@HOST:PORT");
        if (tls is null && !node.Insecure && !(IPAddress.TryParse(o.Hostname, out var ip) && IPAddress.IsLoopback(ip)))
            throw new BadInputException($"QuantLab:Cluster:Hostname {o.Hostname} is not a loopback address and QuantLab:Cluster:Tls is not set: " +
                                        "any process that reaches the port could join the lab. Set QuantLab:Cluster:Tls (quantlab tls init / issue), or give --insecure");
        return tls;
    }

    public const string PlainProtocol = "akka.tcp", TlsProtocol = "akka.ssl.tcp";

    /// <summary>
    /// Remoting and clustering through Akka.Hosting's typed options: this node's bind and public addresses, mutual
    /// TLS where <paramref name="tls"/> is given, seed nodes, roles, the cluster failure detector and the split-brain
    /// resolver (keep-majority). Akka.Cluster.Hosting 1.5.73's options have no split-brain <c>stable-after</c> and no
    /// join timings, so those three keys stay HOCON.
    /// </summary>
    public static AkkaConfigurationBuilder WithCluster(AkkaConfigurationBuilder builder, ClusterOptions o, ClusterNode node, LabTls.Credentials? tls = null)
    {
        static string Milliseconds(double seconds) => $"{(int)Math.Round(seconds * 1000)}ms";
        var remote = new RemoteOptions { HostName = o.Hostname, PublicHostName = o.PublicHostname, Port = node.Port };
        if (tls is not null)
        {
            remote.EnableSsl = true;
            // Both ends present a certificate and check the other's against the lab's CA alone; host names are not
            // checked (a node's identity is its certificate, whatever address it is reached at).
            remote.Ssl = new SslOptions
            {
                X509Certificate = tls.Certificate,
                SuppressValidation = false,
                RequireMutualAuthentication = true,
                ValidateCertificateHostname = false,
                CustomValidator = tls.Validator,
            };
        }
        return builder
            .WithRemoting(remote)
            .WithClustering(new AkkaClusterOptions
            {
                SeedNodes = [.. node.SeedNodes],
                Roles = [.. node.Roles],
                SplitBrainResolver = new KeepMajorityOption(),
                FailureDetector = new PhiAccrualFailureDetectorOptions
                {
                    HeartbeatInterval = TimeSpan.FromSeconds(o.HeartbeatIntervalSeconds),
                    AcceptableHeartbeatPause = TimeSpan.FromSeconds(o.AcceptableHeartbeatPauseSeconds),
                },
            })
            .AddHocon($"""
                akka.cluster.split-brain-resolver.stable-after = {Milliseconds(o.StableAfterSeconds)}
                akka.cluster.seed-node-timeout = 2s
                akka.cluster.retry-unsuccessful-join-after = 2s
                """, HoconAddMode.Prepend);
    }

    /// <summary>Parses <c>coordinator,worker</c>; anything else is bad input.</summary>
    public static IReadOnlyList<string> Roles(string text)
    {
        var roles = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().ToList();
        if (roles.Count == 0 || roles.Any(r => r is not ("coordinator" or "worker")))
            throw new BadInputException($"--roles '{text}': allowed roles are coordinator, worker (comma-separated)");
        return roles;
    }

    /// <summary>Checks seed node addresses: <c>akka.tcp://quantlab@HOST:PORT</c> (or <c>akka.ssl.tcp://</c> with TLS).</summary>
    public static IReadOnlyList<string> SeedNodes(string? text)
    {
        var seeds = (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        if (seeds.Count == 0) throw new BadInputException("--seed-nodes is required: akka.tcp://quantlab@127.0.0.1:PORT[,…]");
        foreach (var s in seeds)
        {
            try
            {
                var address = Address.Parse(s);
                if (address.System != SystemName || address.Port is null or <= 0 or > 65535 || address.Protocol is not (PlainProtocol or TlsProtocol))
                    throw new UriFormatException("expected akka.tcp://quantlab@HOST:PORT, or akka.ssl.tcp://quantlab@HOST:PORT with TLS");
            }
            catch (UriFormatException e)
            {
                throw new BadInputException($"--seed-nodes: '{s}' is not a seed node address ({e.Message})");
            }
        }
        return seeds;
    }

    private static void EnsurePortFree(string host, int port)
    {
        try
        {
            var listener = new TcpListener(IPAddress.Parse(host), port);
            listener.Start();
            listener.Stop();
        }
        catch (SocketException e)
        {
            throw new InfrastructureException($"cannot listen on {host}:{port}: {e.Message} (is another node using the port?)", e);
        }
        catch (FormatException)
        {
            throw new BadInputException($"QuantLab:Cluster:Hostname '{host}' is not an IP address");
        }
    }
}

/// <summary>The host lifetime of a verb: started and stopped by the verb's code, deaf to signals.</summary>
internal sealed class VerbLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
