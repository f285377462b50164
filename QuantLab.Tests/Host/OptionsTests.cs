using QuantLab.Actors.Storage;
using System.Text.Json;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using QuantLab.Actors.Configuration;
using QuantLab.Actors.Coordinator;
using QuantLab.Actors.Hosting;
using QuantLab.Actors.Workers;
using QuantLab.Engine;
using QuantLab.Engine.Data;
using QuantLab.Host.Configuration;
using QuantLab.Host.Lab;

namespace QuantLab.Tests.Host;

/// <summary>Every default is written once (the options classes); appsettings.json repeats them exactly; a bad value
/// is refused with a message naming the setting.</summary>
public sealed class OptionsTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    public void Dispose() => _dir.Dispose();

    private static string RepositoryFile(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "QuantLab.sln"))) return Path.Combine(dir.FullName, name);
        throw new InvalidOperationException($"no QuantLab.sln above {AppContext.BaseDirectory}");
    }

    /// <summary>path → JSON text of every leaf (objects flattened, arrays kept whole).</summary>
    private static SortedDictionary<string, string> Leaves(JsonNode? node, string path = "", SortedDictionary<string, string>? into = null)
    {
        into ??= new SortedDictionary<string, string>(StringComparer.Ordinal);
        if (node is JsonObject o)
            foreach (var (k, v) in o) Leaves(v, path.Length == 0 ? k : $"{path}:{k}", into);
        else into[path] = node?.ToJsonString() ?? "null";
        return into;
    }

    [Fact]
    public void Appsettings_json_holds_exactly_the_options_classes_defaults()
    {
        var file = JsonNode.Parse(File.ReadAllText(RepositoryFile("appsettings.json")))![QuantLabOptions.Section];
        var defaults = JsonSerializer.SerializeToNode(new QuantLabOptions())!.AsObject();
        // The one default not in the options class: null mirrors mean the engine's list, which appsettings.json spells out.
        Assert.Null(new QuantLabOptions().Data.Mirrors);
        defaults["Data"]!["Mirrors"] = JsonSerializer.SerializeToNode(MnistDataOptions.DefaultMirrors);
        var expected = Leaves(defaults);
        var actual = Leaves(file);
        Assert.Equal(expected.Keys, actual.Keys);
        Assert.All(expected, e => Assert.True(e.Value == actual[e.Key], $"QuantLab:{e.Key}: appsettings.json says {actual[e.Key]}, the options class {e.Value}"));
    }

    [Fact]
    public void The_binarys_appsettings_binds_to_the_defaults()
    {
        var bound = AppConfiguration.Bind(AppConfiguration.Build(_dir.Path));
        var defaults = new QuantLabOptions();
        defaults.Data.Mirrors = [.. MnistDataOptions.DefaultMirrors];
        Assert.Equal(JsonSerializer.Serialize(defaults), JsonSerializer.Serialize(bound));
    }

    [Fact]
    public void Coordinator_and_worker_defaults_come_from_the_orchestration_options()
    {
        var o = new OrchestrationOptions();
        Assert.Equal(new CoordinatorPolicy(EngineInfo.Version, o.MaxAttempts, TimeSpan.FromSeconds(o.LeaseSeconds)), CoordinatorPolicy.Default);
        Assert.Equal(new WorkerSettings(EngineInfo.Version, TimeSpan.FromSeconds(o.HeartbeatSeconds), TimeSpan.FromSeconds(o.RegisterSeconds), TimeSpan.FromSeconds(o.ResendSeconds)),
            WorkerSettings.Default);
        var fast = new OrchestrationOptions { HeartbeatSeconds = 0.5, LeaseSeconds = 20, MaxAttempts = 5 };
        Assert.Equal(TimeSpan.FromSeconds(0.5), WorkerSettings.From(fast).ResendInterval);   // never slower than the heartbeat
        Assert.Equal(new CoordinatorPolicy(EngineInfo.Version, 5, TimeSpan.FromSeconds(20), WorkersDieWithCoordinator: true), CoordinatorPolicy.From(fast, singleProcess: true));
    }

    public static TheoryData<string, string, string> BadSettings => new()
    {
        { "QuantLab:Orchestration:Workers", "0", "QuantLab:Orchestration:Workers must be >= 1 (got 0)" },
        { "QuantLab:Orchestration:MaxAttempts", "0", "QuantLab:Orchestration:MaxAttempts must be >= 1 (got 0)" },
        { "QuantLab:Orchestration:LeaseSeconds", "-1", "QuantLab:Orchestration:LeaseSeconds must be > 0 (got -1)" },
        { "QuantLab:Orchestration:HeartbeatSeconds", "500", "QuantLab:Orchestration:HeartbeatSeconds must be less than QuantLab:Orchestration:LeaseSeconds" },
        { "QuantLab:Orchestration:Executor", "fast", "QuantLab:Orchestration:Executor is 'fast'; allowed: engine, synthetic, synthetic:MS" },
        { "QuantLab:Data:InputTransform", "crop", "QuantLab:Data:InputTransform is 'crop'; allowed: resize, pad" },
        { "QuantLab:Training:Threads", "0", "QuantLab:Training:Threads must be >= 1 (got 0)" },
        { "QuantLab:Cluster:Hostname", "localhost", "QuantLab:Cluster:Hostname 'localhost' is not an IP address" },
        { "QuantLab:Cluster:StableAfterSeconds", "0", "QuantLab:Cluster:StableAfterSeconds must be > 0 (got 0)" },
    };

    [Theory]
    [MemberData(nameof(BadSettings))]
    public void A_bad_setting_is_refused_at_start_with_a_message_naming_it(string key, string value, string message)
    {
        var configuration = new ConfigurationBuilder().AddConfiguration(AppConfiguration.Build(_dir.Path))
            .AddInMemoryCollection(new Dictionary<string, string?> { [key] = value }).Build();
        var e = Assert.Throws<BadInputException>(() => AppConfiguration.Bind(configuration));
        Assert.Contains(message, e.Message);
        Assert.Equal(2, e.ExitCode);

        // Through the CLI: exit 2 and the message, before the verb does anything.
        var output = new StringWriter();
        var error = new StringWriter();
        Assert.Equal(2, QuantLab.Host.Cli.QuantLabCli.Run(["status", "--db", _dir.File("none.db")], output, error, configuration));
        Assert.Contains(message, error.ToString());
        Assert.Equal("", output.ToString());
    }

    [Fact]
    public async Task A_lab_host_validates_its_options_when_it_starts()
    {
        var options = new QuantLabOptions();
        options.Orchestration.MaxAttempts = 0;   // not bound through AppConfiguration.Bind, so not yet validated
        using var host = LabHost.Build(options, new LabProcess(new SqliteLabStore(_dir.File("lab.db")), Coordinator: true, Workers: 0, Cluster: null));
        var e = await Assert.ThrowsAsync<BadInputException>(() => LabHost.StartAsync(host, CancellationToken.None));
        Assert.Contains("QuantLab:Orchestration:MaxAttempts must be >= 1 (got 0)", e.Message);
    }

    [Fact]
    public void Composing_SQLite_persistence_does_not_touch_the_database()
    {
        // LabHost initializes the file once, before the host starts; the Akka.Hosting step only adds configuration.
        var db = _dir.File("untouched.db");
        new AkkaConfigurationBuilder(new ServiceCollection(), "quantlab").WithQuantLabStore(new SqliteLabStore(db));
        Assert.False(File.Exists(db));
    }

    [Fact]
    public async Task A_cluster_node_gets_its_settings_through_Akka_Hosting()
    {
        var options = AppConfiguration.Bind(LabTestSupport.Configuration());
        int port = LabTestSupport.FreePort();
        var node = new ClusterNode(port, [$"akka.tcp://quantlab@127.0.0.1:{port}"], ["coordinator", "worker"]);
        using var host = LabHost.Build(options, new LabProcess(new SqliteLabStore(_dir.File("lab.db")), Coordinator: true, Workers: 0, node));
        await LabHost.StartAsync(host, CancellationToken.None);
        try
        {
            var system = host.Services.GetRequiredService<ActorSystem>();
            await LabHost.AwaitJoinedAsync(system, node, TimeSpan.FromSeconds(30), CancellationToken.None);
            var config = system.Settings.Config;
            Assert.Equal("127.0.0.1", config.GetString("akka.remote.dot-netty.tcp.hostname"));
            Assert.Equal(port, config.GetInt("akka.remote.dot-netty.tcp.port"));
            Assert.Equal(["coordinator", "worker"], config.GetStringList("akka.cluster.roles"));
            Assert.Equal("keep-majority", config.GetString("akka.cluster.split-brain-resolver.active-strategy"));
            Assert.Equal(TimeSpan.FromSeconds(2), config.GetTimeSpan("akka.cluster.split-brain-resolver.stable-after"));
            Assert.Equal(TimeSpan.FromSeconds(0.5), config.GetTimeSpan("akka.cluster.failure-detector.heartbeat-interval"));
            Assert.Equal(TimeSpan.FromSeconds(3), config.GetTimeSpan("akka.cluster.failure-detector.acceptable-heartbeat-pause"));
            Assert.Contains("SplitBrainResolverProvider", config.GetString("akka.cluster.downing-provider-class"));
            Assert.Equal(TimeSpan.FromSeconds(2), config.GetTimeSpan("akka.cluster.seed-node-timeout"));
            Assert.Equal("off", config.GetString("akka.log-dead-letters"));
            Assert.False(config.GetBoolean("akka.log-dead-letters-during-shutdown"));
            Assert.False(config.GetBoolean("akka.coordinated-shutdown.run-by-clr-shutdown-hook"));
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
        }
    }
}
