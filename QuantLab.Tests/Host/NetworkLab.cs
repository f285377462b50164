using System.Diagnostics;
using System.Globalization;

namespace QuantLab.Tests.Host;

/// <summary>
/// Several "machines" on this host: one network namespace each (its own interfaces, addresses and ports), joined by
/// veth pairs to a bridge in the root namespace, whose address (<see cref="HostAddress"/>) serves what the machines
/// share (the PostgreSQL server). <see cref="Cut"/> takes a machine's link down, as a pulled cable or a partition.
/// Needs root (CI runs as root); torn down on dispose.
/// </summary>
public sealed class NetworkLab : IDisposable
{
    private readonly string _tag;
    private readonly int _subnet;
    private readonly List<string> _namespaces = [];
    private bool _bridge;

    public int Machines { get; }

    private NetworkLab(int machines)
    {
        Machines = machines;
        _tag = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(2));
        _subnet = System.Security.Cryptography.RandomNumberGenerator.GetInt32(10, 250);
    }

    /// <summary>The root namespace's address on the bridge.</summary>
    public string HostAddress => $"10.231.{_subnet}.1";

    /// <summary>Machine <paramref name="i"/>'s address (0-based).</summary>
    public string Address(int i) => $"10.231.{_subnet}.{11 + i}";

    public string Namespace(int i) => $"ql{_tag}m{i}";

    private string Bridge => $"qlbr{_tag}";
    private string HostEnd(int i) => $"qlv{_tag}m{i}";

    public static NetworkLab Create(int machines)
    {
        Assert.True(Environment.UserName == "root", "network namespaces need root (CI runs the tests as root)");
        var lab = new NetworkLab(machines);
        try
        {
            Ip("link", "add", lab.Bridge, "type", "bridge");
            lab._bridge = true;
            Ip("addr", "add", lab.HostAddress + "/24", "dev", lab.Bridge);
            Ip("link", "set", lab.Bridge, "up");
            for (var i = 0; i < machines; i++)
            {
                var ns = lab.Namespace(i);
                Ip("netns", "add", ns);
                lab._namespaces.Add(ns);
                Ip("link", "add", lab.HostEnd(i), "type", "veth", "peer", "name", "eth0", "netns", ns);
                Ip("link", "set", lab.HostEnd(i), "master", lab.Bridge);
                Ip("link", "set", lab.HostEnd(i), "up");
                Ip("-n", ns, "addr", "add", lab.Address(i) + "/24", "dev", "eth0");
                Ip("-n", ns, "link", "set", "eth0", "up");
                Ip("-n", ns, "link", "set", "lo", "up");
            }
            return lab;
        }
        catch
        {
            lab.Dispose();
            throw;
        }
    }

    /// <summary>Machine <paramref name="i"/> loses its link: nothing reaches it, nothing leaves it.</summary>
    public void Cut(int i) => Ip("link", "set", HostEnd(i), "down");

    public void Restore(int i) => Ip("link", "set", HostEnd(i), "up");

    private static void Ip(params string[] args)
    {
        var start = new ProcessStartInfo("ip") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"ip {string.Join(' ', args)} exited {process.ExitCode.ToString(CultureInfo.InvariantCulture)}: {error}");
    }

    public void Dispose()
    {
        foreach (var ns in _namespaces)
            try { Ip("netns", "del", ns); } catch (InvalidOperationException) { }   // removes its veth pair too
        if (_bridge)
            try { Ip("link", "del", Bridge); } catch (InvalidOperationException) { }
    }
}
