using System.CommandLine;
using QuantLab.Engine;
using QuantLab.Host.Lab;

namespace QuantLab.Host.Cli;

/// <summary><c>quantlab tls init</c> / <c>tls issue</c>: the lab's certificate authority and its node certificates
/// (System.Security.Cryptography; no external tool).</summary>
public static class TlsCommand
{
    public static Command Create(Func<CliContext> context)
    {
        var initOut = new Option<string>("--out") { Description = "Directory for ca.crt (give it to every node) and ca.key (keep it where certificates are issued)", Required = true };
        var initName = new Option<string>("--name") { Description = "The CA's name (its certificate's CN)", DefaultValueFactory = _ => "quantlab-lab-ca" };
        var years = new Option<int>("--years") { Description = "Validity in years", DefaultValueFactory = _ => 10 };
        var init = new Command("init", "Create a lab certificate authority (ECDSA P-256); refuses to overwrite one") { initOut, initName, years };
        init.SetAction((parse, cancel) =>
        {
            var ctx = context();
            var y = parse.GetValue(years);
            if (y is < 1 or > 50) throw new BadInputException($"--years must be 1..50 (got {y})");
            var dir = parse.GetValue(initOut)!;
            Directory.CreateDirectory(dir);
            var files = LabTls.CreateAuthority(dir, parse.GetValue(initName)!, y, DateTimeOffset.UtcNow);
            ctx.Out.WriteLine($"lab CA: {Path.GetFullPath(files.Certificate)} (for every node: QuantLab:Cluster:Tls:CaCertificate); key: {Path.GetFullPath(files.Key)} (owner only; keep it off the nodes)");
            return Task.FromResult(0);
        });

        var ca = new Option<string>("--ca") { Description = "The directory of 'tls init' (ca.crt and ca.key)", Required = true };
        var name = new Option<string>("--name") { Description = "The node's name: its certificate's CN, the identity recorded with its results", Required = true };
        var hosts = new Option<string[]>("--host") { Description = "A host name or IP address the node is reached at (repeatable; recorded as subject alternative names)", AllowMultipleArgumentsPerToken = true };
        var days = new Option<int>("--days") { Description = "Validity in days (at most the CA's)", DefaultValueFactory = _ => 825 };
        var issueOut = new Option<string>("--out") { Description = "Directory for NAME.crt, NAME.key and a copy of ca.crt", Required = true };
        var issue = new Command("issue", "Issue a node certificate signed by the lab CA (TLS server and client); refuses to overwrite one") { ca, name, hosts, days, issueOut };
        issue.SetAction((parse, cancel) =>
        {
            var ctx = context();
            var d = parse.GetValue(days);
            if (d is < 1 or > 36500) throw new BadInputException($"--days must be 1..36500 (got {d})");
            var now = DateTimeOffset.UtcNow;
            var files = LabTls.Issue(parse.GetValue(ca)!, parse.GetValue(name)!, parse.GetValue(hosts) ?? [], d, parse.GetValue(issueOut)!, now);
            ctx.Out.WriteLine($"node certificate: {Path.GetFullPath(files.Certificate)} (QuantLab:Cluster:Tls:Certificate), key: {Path.GetFullPath(files.Key)} (QuantLab:Cluster:Tls:Key, owner only)");
            using var issued = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(File.ReadAllText(files.Certificate));
            var until = issued.NotAfter.ToUniversalTime();
            // A certificate cannot outlive its CA: say so where --days asked for more, rather than cut it short silently.
            ctx.Out.WriteLine(until < now.AddDays(d).UtcDateTime.AddMinutes(-1)
                ? $"valid until {until:u}: the CA's own end, before the {d} days asked for"
                : $"valid until {until:u}");
            return Task.FromResult(0);
        });
        return new Command("tls", "Mutual TLS between the lab's nodes: a lab CA and node certificates") { init, issue };
    }
}
