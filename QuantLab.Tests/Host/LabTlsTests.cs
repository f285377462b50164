using System.Globalization;
using System.Text.Json.Nodes;
using QuantLab.Actors.Messages;
using QuantLab.Actors.Storage;
using QuantLab.Engine;
using QuantLab.Host.Lab;
using Xunit.Abstractions;

namespace QuantLab.Tests.Host;

/// <summary>
/// The lab's mutual TLS: certificates made by <c>quantlab tls init / issue</c> are checked against the lab's CA
/// alone, bad material is refused before a node starts, and a process whose certificate is of another CA (or that
/// has none) cannot join a TLS lab, take a job or write a result, while the lab's own client can.
/// </summary>
public sealed class LabTlsTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;

    private (string Ca, LabTls.Files Node) MakeLab(string lab, string node, int days = 30)
    {
        var ca = _dir.Subdirectory(lab);
        LabTls.CreateAuthority(ca, lab, 1, Now);
        return (ca, LabTls.Issue(ca, node, ["127.0.0.1", "node.lab"], days, _dir.Subdirectory(lab + "-" + node), Now));
    }

    [Fact]
    public void A_node_certificate_of_the_lab_CA_loads_with_its_subject_and_its_key_is_the_owners_alone()
    {
        var (ca, node) = MakeLab("lab", "node-a");
        var credentials = LabTls.Load(node.Certificate, node.Key, Path.Combine(ca, "ca.crt"), Now);
        Assert.Equal("CN=node-a, O=QuantLab lab node", credentials.Subject);
        Assert.True(credentials.Certificate.HasPrivateKey);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(node.Key));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(ca, "ca.key")));
        }
        Assert.True(File.Exists(Path.Combine(Path.GetDirectoryName(node.Certificate)!, "ca.crt")));
        Assert.Null(LabTls.Problem(credentials.Certificate, credentials.Authority, Now));
    }

    [Fact]
    public void Certificates_of_another_CA_expired_not_yet_valid_or_with_a_foreign_key_are_refused_naming_the_setting()
    {
        var (ca, node) = MakeLab("lab", "node-a", days: 30);
        var (_, rogue) = MakeLab("other", "rogue");
        var caCert = Path.Combine(ca, "ca.crt");

        var foreign = Assert.Throws<BadInputException>(() => LabTls.Load(rogue.Certificate, rogue.Key, caCert, Now));
        Assert.Contains("QuantLab:Cluster:Tls:Certificate", foreign.Message);
        Assert.Contains("not issued by the lab's CA", foreign.Message);

        var expired = Assert.Throws<BadInputException>(() => LabTls.Load(node.Certificate, node.Key, caCert, Now.AddDays(31)));
        Assert.Contains("expired at", expired.Message);
        var early = Assert.Throws<BadInputException>(() => LabTls.Load(node.Certificate, node.Key, caCert, Now.AddDays(-1)));
        Assert.Contains("not valid before", early.Message);

        var mismatched = Assert.Throws<BadInputException>(() => LabTls.Load(node.Certificate, rogue.Key, caCert, Now));
        Assert.Contains("is the key this certificate's?", mismatched.Message);
        var missing = Assert.Throws<BadInputException>(() => LabTls.Load(node.Certificate, node.Key, _dir.File("none.crt"), Now));
        Assert.Contains("QuantLab:Cluster:Tls:CaCertificate", missing.Message);

        // The peer check refuses the other CA's certificate, as the handshake does.
        var credentials = LabTls.Load(node.Certificate, node.Key, caCert, Now);
        var rogueCertificate = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificate(File.ReadAllBytes(rogue.Certificate));
        Assert.Contains("not issued by the lab's CA", LabTls.Problem(rogueCertificate, credentials.Authority, Now));
    }

    [Fact]
    public void The_tls_verbs_write_what_they_say_refuse_to_overwrite_and_bad_settings_exit_2()
    {
        var ca = _dir.File("ca");
        var init = CliRunner.Run("tls", "init", "--out", ca, "--name", "test-ca");
        Assert.True(init.ExitCode == 0, init.ToString());
        var again = CliRunner.Run("tls", "init", "--out", ca);
        Assert.True(again.ExitCode == 2, again.ToString());
        Assert.Contains("exists; nothing was written", again.Err);
        var issue = CliRunner.Run("tls", "issue", "--ca", ca, "--name", "node-b", "--host", "10.0.0.2", "--out", _dir.File("b"));
        Assert.True(issue.ExitCode == 0, issue.ToString());
        Assert.Contains("node-b.crt", issue.Out);
        Assert.Matches(@"valid until \S+ \S+Z\r?\n", issue.Out);
        Assert.DoesNotContain("the CA's own end", issue.Out);
        // Past the CA's end (10 years by default): the certificate ends with the CA, and the output says so.
        var longer = CliRunner.Run("tls", "issue", "--ca", ca, "--name", "node-l", "--days", "5000", "--out", _dir.File("l"));
        Assert.True(longer.ExitCode == 0, longer.ToString());
        Assert.Contains("the CA's own end, before the 5000 days asked for", longer.Out);
        var badName = CliRunner.Run("tls", "issue", "--ca", ca, "--name", "bad name", "--out", _dir.File("c"));
        Assert.True(badName.ExitCode == 2, badName.ToString());
        Assert.Contains("--name 'bad name'", badName.Err);
        var noCa = CliRunner.Run("tls", "issue", "--ca", _dir.File("nope"), "--name", "x", "--out", _dir.File("d"));
        Assert.True(noCa.ExitCode == 2, noCa.ToString());
        Assert.Contains("--ca", noCa.Err);

        // A node with half the TLS settings, or plain remoting on a non-loopback address, does not start.
        var half = LabTestSupport.Run(LabTestSupport.Configuration(new Dictionary<string, string> { ["QuantLab:Cluster:Tls:Certificate"] = _dir.File("b/node-b.crt") }),
            "node", "--port", "1", "--seed-nodes", "akka.ssl.tcp://quantlab@127.0.0.1:1", "--db", _dir.File("lab.db"));
        Assert.True(half.ExitCode == 2, half.ToString());
        Assert.Contains("QuantLab:Cluster:Tls: set Certificate, Key and CaCertificate together", half.Err);
        var open = LabTestSupport.Run(LabTestSupport.Configuration(new Dictionary<string, string> { ["QuantLab:Cluster:Hostname"] = "0.0.0.0" }),
            "node", "--port", LabTestSupport.FreePort().ToString(CultureInfo.InvariantCulture), "--seed-nodes", "akka.tcp://quantlab@127.0.0.1:1", "--db", _dir.File("lab.db"));
        Assert.True(open.ExitCode == 2, open.ToString());
        Assert.Contains("is not a loopback address and QuantLab:Cluster:Tls is not set", open.Err);
        Assert.Contains("--insecure", open.Err);
        Assert.DoesNotContain("on loopback", open.Err);   // no note that contradicts the refusal
    }

    [Fact]
    public async Task Outside_the_lab_CA_no_process_joins_takes_a_job_or_writes_a_result()
    {
        var (ca, lab) = MakeLab("lab", "node-a");
        var client = LabTls.Issue(ca, "client", [], 30, _dir.Subdirectory("client"), Now);
        var (_, rogue) = MakeLab("other", "rogue");
        Dictionary<string, string> Env(LabTls.Files files, string caDir) => new(LabTestSupport.FastTimings)
        {
            ["QuantLab:Orchestration:Executor"] = "synthetic:200",
            ["QuantLab:Orchestration:Workers"] = "1",
            ["QuantLab:Cluster:JoinTimeoutSeconds"] = "12",
            ["QuantLab:Cluster:Tls:Certificate"] = files.Certificate,
            ["QuantLab:Cluster:Tls:Key"] = files.Key,
            ["QuantLab:Cluster:Tls:CaCertificate"] = Path.Combine(caDir, "ca.crt"),
        };
        var spec = _dir.File("s.json");
        File.WriteAllText(spec, """{"name":"s","train":[{"id":"m","seed":[1,2,3,4,5,6]}]}""");
        var port = LabTestSupport.FreePort().ToString(CultureInfo.InvariantCulture);
        var seed = $"akka.ssl.tcp://quantlab@127.0.0.1:{port}";
        var db = _dir.File("lab.db");
        using var node = new QuantlabProcess(Env(lab, ca), "node", "--port", port, "--seed-nodes", seed, "--db", db);
        // The rogue node (its own CA, its own database) and a plain node both try to join and are turned away.
        using var rogueNode = new QuantlabProcess(Env(rogue, Path.GetDirectoryName(rogue.Certificate)!), "node", "--port", LabTestSupport.FreePort().ToString(CultureInfo.InvariantCulture),
            "--seed-nodes", seed, "--db", _dir.File("rogue.db"));
        var plainEnv = new Dictionary<string, string>(LabTestSupport.FastTimings) { ["QuantLab:Orchestration:Executor"] = "synthetic", ["QuantLab:Cluster:JoinTimeoutSeconds"] = "12" };
        using var plainNode = new QuantlabProcess(plainEnv, "node", "--port", LabTestSupport.FreePort().ToString(CultureInfo.InvariantCulture),
            "--seed-nodes", $"akka.tcp://quantlab@127.0.0.1:{port}", "--db", _dir.File("plain.db"));
        using var plainSubmit = new QuantlabProcess(plainEnv, "submit", spec, "--seed-nodes", $"akka.tcp://quantlab@127.0.0.1:{port}");

        Assert.True(await rogueNode.WaitAsync(TimeSpan.FromMinutes(2)) == 3, rogueNode.ToString());
        Assert.Contains("no seed node answered", rogueNode.Err);
        Assert.True(await plainNode.WaitAsync(TimeSpan.FromMinutes(2)) == 3, plainNode.ToString());
        Assert.True(await plainSubmit.WaitAsync(TimeSpan.FromMinutes(2)) == 3, plainSubmit.ToString());
        Assert.False(node.HasExited, node.ToString());

        using (var submit = new QuantlabProcess(Env(client, ca), "submit", spec, "--seed-nodes", seed, "--wait"))
            Assert.True(await submit.WaitAsync(TimeSpan.FromMinutes(2)) == 0, submit + "\n" + node);
        Assert.Contains("mutual TLS as CN=node-a", node.Err);
        node.Signal("TERM");
        Assert.Equal(0, await node.WaitAsync(TimeSpan.FromMinutes(1)));
        output.WriteLine(node.Err);

        // Every result was produced by the lab's node, and records its certificate's subject.
        var state = await LabReader.LoadAsync(new SqliteLabStore(db));
        var results = state.Results("s").Results;
        Assert.Equal(6, results.Count);
        Assert.All(results, r =>
        {
            Assert.Equal(seed, r.Node);
            Assert.Equal("CN=node-a, O=QuantLab lab node", r.Identity);
        });
        var report = LabTestSupport.Run(LabTestSupport.Configuration(), "report", "s", "--format", "json", "--db", db);
        Assert.True(report.ExitCode == 0, report.ToString());
        Assert.All(JsonNode.Parse(report.Out)!["results"]!.AsArray(), r => Assert.Equal("CN=node-a, O=QuantLab lab node", (string?)r!["identity"]));
        // status names the producer too, from the status row and from the journal alike.
        var status = LabTestSupport.Run(LabTestSupport.Configuration(), "status", "s", "--db", db);
        Assert.True(status.ExitCode == 0, status.ToString());
        Assert.Contains("results by CN=node-a, O=QuantLab lab node (6)", status.Out);
        var statusJson = JsonNode.Parse(LabTestSupport.Run(LabTestSupport.Configuration(), "status", "s", "--json", "--db", db).Out)!;
        var producer = Assert.Single(statusJson["producedBy"]!.AsArray())!;
        Assert.Equal(("CN=node-a, O=QuantLab lab node", 6), ((string?)producer["identity"], (int)producer["results"]!));
        var recovered = Assert.Single(state.Status("s").Producers!);
        Assert.Equal(new ProducerCount("CN=node-a, O=QuantLab lab node", 6), recovered);
        // The rogue's and the plain node's databases recorded nothing: no coordinator ever ran there.
        foreach (var other in new[] { "rogue.db", "plain.db" })
        {
            using var connection = new SqliteLabStore(_dir.File(other)).OpenReadOnly();
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'journal';";
            if (Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture) == 0) continue;
            command.CommandText = "SELECT COUNT(*) FROM journal;";
            Assert.Equal(0L, Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture));
        }
    }
}
