using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Configuration;
using QuantLab.Host.Cli;
using QuantLab.Host.Configuration;

namespace QuantLab.Tests.Host;

/// <summary>Configuration, ports and processes for the lab tests: short cluster timings, set by configuration.</summary>
public static class LabTestSupport
{
    /// <summary>Short failure detection, split-brain resolution, leases and heartbeats, as QuantLab__… keys.</summary>
    public static readonly IReadOnlyDictionary<string, string> FastTimings = new Dictionary<string, string>
    {
        ["QuantLab:Cluster:HeartbeatIntervalSeconds"] = "0.5",
        ["QuantLab:Cluster:AcceptableHeartbeatPauseSeconds"] = "3",
        ["QuantLab:Cluster:StableAfterSeconds"] = "2",
        ["QuantLab:Cluster:JoinTimeoutSeconds"] = "30",
        ["QuantLab:Orchestration:LeaseSeconds"] = "20",
        ["QuantLab:Orchestration:HeartbeatSeconds"] = "0.5",
        ["QuantLab:Orchestration:RegisterSeconds"] = "0.5",
        ["QuantLab:Orchestration:ProgressSeconds"] = "0",
    };

    /// <summary>Each job takes 1 s: time to interrupt a campaign (or fill its disk) midway, even when a loaded
    /// machine delays a signal by seconds.</summary>
    public static readonly IReadOnlyDictionary<string, string> SlowSyntheticJobs = new Dictionary<string, string>(FastTimings)
    {
        ["QuantLab:Orchestration:Executor"] = "synthetic:1000",
    };

    public static IConfiguration Configuration(IReadOnlyDictionary<string, string>? extra = null)
    {
        var values = new Dictionary<string, string?>();
        foreach (var (k, v) in FastTimings) values[k] = v;
        if (extra is not null) foreach (var (k, v) in extra) values[k] = v;
        return new ConfigurationBuilder().AddConfiguration(AppConfiguration.Build()).AddInMemoryCollection(values).Build();
    }

    public static CliRunner.Result Run(IConfiguration configuration, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = QuantLabCli.Run(args, output, error, configuration);
        return new CliRunner.Result(code, output.ToString(), error.ToString());
    }

    public static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>The built host next to this test build: QuantLab.Host/bin/&lt;config&gt;/net10.0/quantlab.dll.</summary>
    public static string QuantlabDll()
    {
        var testDir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var framework = testDir.Name;
        var configuration = testDir.Parent!.Name;
        var repo = testDir.Parent!.Parent!.Parent!.Parent!.FullName;
        var dll = Path.Combine(repo, "QuantLab.Host", "bin", configuration, framework, "quantlab.dll");
        Assert.True(File.Exists(dll), $"the built host is missing: {dll}");
        return dll;
    }
}

/// <summary>A <c>quantlab</c> process with captured output; killed (SIGKILL) on dispose if still running.</summary>
public sealed class QuantlabProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _out = new(), _err = new();

    public QuantlabProcess(IReadOnlyDictionary<string, string> environment, params string[] args) : this(null, environment, args) { }

    /// <summary>A <c>quantlab</c> process inside the network namespace <paramref name="netns"/> (a "machine" of
    /// <see cref="NetworkLab"/>), through <c>ip netns exec</c>, which enters it and execs the rest (same process id).</summary>
    public static QuantlabProcess InNamespace(string netns, IReadOnlyDictionary<string, string> environment, params string[] args) => new(netns, environment, args);

    private QuantlabProcess(string? netns, IReadOnlyDictionary<string, string> environment, string[] args)
    {
        // Through env(1), which execs dotnet (same process id) with SIGINT's default disposition: when the tests
        // run in a background job, the shell ignores SIGINT for them and their children, and .NET then leaves it
        // ignored, so Signal("INT") would not reach the process as a terminal's Ctrl+C reaches a foreground one.
        var start = new ProcessStartInfo(netns is null ? "env" : "ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (netns is not null) foreach (var a in new[] { "netns", "exec", netns, "env" }) start.ArgumentList.Add(a);
        start.ArgumentList.Add("--default-signal=INT");
        start.ArgumentList.Add("dotnet");
        start.ArgumentList.Add(LabTestSupport.QuantlabDll());
        foreach (var a in args) start.ArgumentList.Add(a);
        foreach (var (k, v) in environment) start.Environment[k.Replace(":", "__", StringComparison.Ordinal)] = v;
        _process = new Process { StartInfo = start };
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_out) _out.AppendLine(e.Data); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_err) _err.AppendLine(e.Data); };
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Out { get { lock (_out) return _out.ToString(); } }
    public string Err { get { lock (_err) return _err.ToString(); } }
    public bool HasExited => _process.HasExited;

    public async Task<int> WaitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    /// <summary>Sends a signal by name, as kill(1) does: INT as Ctrl+C in a terminal, TERM as a service manager;
    /// the process should stop cleanly by itself.</summary>
    public void Signal(string name)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-" + name, _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture) } })!;
        kill.WaitForExit();
    }

    /// <summary>SIGKILL: the process gets no chance to leave the cluster or flush anything.</summary>
    public void Kill()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    public override string ToString() => $"stdout:\n{Out}\nstderr:\n{Err}";

    public void Dispose()
    {
        try { Kill(); } catch (InvalidOperationException) { }
        _process.Dispose();
    }
}
