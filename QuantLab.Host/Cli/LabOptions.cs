using System.CommandLine;
using QuantLab.Actors.Campaigns;
using QuantLab.Actors.Planning;
using QuantLab.Actors.Storage;
using QuantLab.Engine.Data;

namespace QuantLab.Host.Cli;

/// <summary>Options and steps the orchestration verbs (run, node, submit, status, report) share.</summary>
public static class LabOptions
{
    public static Option<string?> Database() => new("--db")
    {
        Description = $"The campaign database as a SQLite file; default QuantLab:Storage:Database ({new QuantLab.Host.Configuration.StorageOptions().Database}). " +
                      "With QuantLab:Storage:Provider = postgresql the database is QuantLab:Storage:ConnectionString instead",
    };

    /// <summary>A campaign's name, or a spec's path, as the verb's argument: a token that starts with '-' is refused as an
    /// unknown option (System.CommandLine hands an unmatched "--foo" to a free argument slot, and the verb then
    /// reported "no campaign '--foo'").</summary>
    public static Argument<T> NamedArgument<T>(string name, string description, bool optional = false)
    {
        var argument = new Argument<T>(name) { Description = description };
        if (optional) argument.Arity = ArgumentArity.ZeroOrOne;
        argument.Validators.Add(result =>
        {
            foreach (var token in result.Tokens)
                if (token.Value.StartsWith('-'))
                    result.AddError($"Unrecognized option '{token.Value}'.");
        });
        return argument;
    }

    /// <summary><c>--json</c> of the verbs that run a lab to a campaign's end (run, retry).</summary>
    public static Option<bool> FinalStatusJson() => new("--json") { Description = "Print the final status as one JSON document (campaign, state, jobs)" };

    /// <summary><c>--insecure</c> of the verbs that join the cluster (node, submit).</summary>
    public static Option<bool> Insecure() => new("--insecure")
    {
        Description = "Allow remoting on a non-loopback QuantLab:Cluster:Hostname without QuantLab:Cluster:Tls: any process that reaches the port could then join the lab",
    };

    /// <summary>What a node or client says of its remoting's security as it starts; null with TLS, and where the host
    /// refuses to start (a non-loopback address without TLS or --insecure: its error says why).</summary>
    public static string? SecurityNote(CliContext ctx, bool insecure)
    {
        var cluster = ctx.Options.Cluster;
        if (cluster.Tls.Configured()) return null;
        bool loopback = System.Net.IPAddress.TryParse(cluster.Hostname, out var ip) && System.Net.IPAddress.IsLoopback(ip);
        if (loopback) return $"remoting without TLS, on loopback ({cluster.Hostname}) only: set QuantLab:Cluster:Tls to reach other machines";
        return insecure
            ? $"warning: remoting on {cluster.Hostname} without TLS (--insecure): any process that reaches this port can join the lab, take jobs and record results"
            : null;
    }

    public static Option<int?> Workers() => new("--workers") { Description = "Worker actors on this node, each running one job at a time (default QuantLab:Orchestration:Workers)" };

    /// <summary>The lab's database from the configuration (<c>QuantLab:Storage</c>), or the SQLite file of <c>--db</c>.</summary>
    public static LabStore Store(CliContext ctx, string? dbFlag)
    {
        var s = ctx.Options.Storage;
        if (s.Provider != "postgresql") return LabStore.Create(s.Provider, dbFlag ?? s.Database, null, s.CacheDir);
        if (dbFlag is not null)
            throw new QuantLab.Engine.BadInputException($"--db '{dbFlag}' names a SQLite file, but QuantLab:Storage:Provider is postgresql: leave --db out " +
                                                        "(the database is QuantLab:Storage:ConnectionString), or set the provider to sqlite");
        return LabStore.Create(s.Provider, s.Database, ConnectionString(s), s.CacheDir);
    }

    /// <summary>The PostgreSQL server of <c>QuantLab:Storage:ConnectionString</c> (or its file), whatever the provider:
    /// <c>bench --orchestration --provider postgresql</c> makes its scratch databases there.</summary>
    public static PostgresLabStore PostgresServer(CliContext ctx) =>
        new(ConnectionString(ctx.Options.Storage) ?? throw new QuantLab.Engine.BadInputException(
            "--provider postgresql needs a server: set QuantLab:Storage:ConnectionString (e.g. QUANTLAB__STORAGE__CONNECTIONSTRING) or QuantLab:Storage:ConnectionStringFile"),
            ctx.Options.Storage.CacheDir);

    /// <summary>The connection string, from the setting or its file; never printed (it holds the password).</summary>
    private static string? ConnectionString(QuantLab.Host.Configuration.StorageOptions s)
    {
        if (string.IsNullOrWhiteSpace(s.ConnectionStringFile)) return s.ConnectionString;
        try
        {
            return File.ReadAllText(s.ConnectionStringFile).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new QuantLab.Engine.BadInputException($"QuantLab:Storage:ConnectionStringFile {s.ConnectionStringFile}: cannot read it: {e.Message}", e);
        }
    }

    public static int WorkerCount(CliContext ctx, int? flag)
    {
        var n = flag ?? ctx.Options.Orchestration.Workers;
        if (n is < 0 or > 256) throw new QuantLab.Engine.BadInputException($"--workers must be 0..256 (got {n})");
        return n;
    }

    /// <summary>Reads and plans a spec: bad input is found here, before anything is recorded.</summary>
    public static CampaignPlan Plan(CliContext ctx, string specPath) =>
        CampaignPlanner.Plan(CampaignSpecParser.ParseFile(specPath), MnistFileSet.Standard.Fingerprint, maxJobs: ctx.Options.Orchestration.MaxPlannedJobs);
}
