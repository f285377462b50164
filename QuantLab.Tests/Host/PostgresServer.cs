using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Npgsql;

namespace QuantLab.Tests.Host;

/// <summary>
/// A throwaway PostgreSQL server for the tests: <c>initdb</c> into a temporary directory, password (SCRAM)
/// authentication for the user <c>quantlab</c>, started on a free port of 127.0.0.1, removed on dispose. PostgreSQL
/// refuses to run as root, so under root it runs as the unprivileged user <c>postgres</c> (Debian's package makes
/// it). Needs Debian's PostgreSQL server binaries (package <c>postgresql</c>; <c>.ci/run</c> installs it).
/// </summary>
public sealed class PostgresServer : IDisposable
{
    private readonly string _bin;
    private readonly string? _runAs;
    private string _listen = "127.0.0.1";

    public string Directory { get; }
    public int Port { get; private set; }
    public string Password { get; }
    public string DataDirectory => Path.Combine(Directory, "data");

    private PostgresServer(string bin, string? runAs, string directory, string password)
    {
        _bin = bin;
        _runAs = runAs;
        Directory = directory;
        Password = password;
    }

    /// <summary>Makes and starts a new server with an empty database <c>postgres</c>.</summary>
    /// <param name="alsoListenOn">Addresses to listen on besides 127.0.0.1 (a bridge to network namespaces); clients
    /// from anywhere then authenticate by password as from loopback.</param>
    public static PostgresServer Start(params string[] alsoListenOn)
    {
        var bin = FindBinaries();
        var runAs = Environment.UserName == "root" ? "postgres" : null;
        var directory = System.IO.Directory.CreateTempSubdirectory("quantlab-pg-").FullName;
        // Hex: no character a connection string or a shell would read specially.
        var server = new PostgresServer(bin, runAs, directory, Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12)));
        try
        {
            var passwordFile = Path.Combine(directory, "pw");
            File.WriteAllText(passwordFile, server.Password + "\n");
            if (runAs is not null) Run("chown", "-R", runAs, directory);
            server.RunPg("initdb", "-D", server.DataDirectory, "-U", "quantlab", "--auth=scram-sha-256", "--pwfile=" + passwordFile, "-E", "UTF8", "--no-sync");
            File.Delete(passwordFile);
            if (alsoListenOn.Length > 0)
            {
                server._listen = string.Join(",", ["127.0.0.1", .. alsoListenOn]);
                File.AppendAllText(Path.Combine(server.DataDirectory, "pg_hba.conf"), "host all all 0.0.0.0/0 scram-sha-256\n");
            }
            server.Port = LabTestSupport.FreePort();
            server.Control("start");
            return server;
        }
        catch
        {
            server.Dispose();
            throw;
        }
    }

    /// <summary>The connection string of <paramref name="database"/>, as the user quantlab with its password.</summary>
    public string ConnectionString(string database = "postgres", string? password = null) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1", Port = Port, Database = database, Username = "quantlab", Password = password ?? Password,
        Timeout = 10,
    }.ConnectionString;

    /// <summary>Creates an empty database and returns its connection string.</summary>
    public string CreateDatabase(string name)
    {
        Execute("postgres", $"CREATE DATABASE \"{name}\";");
        return ConnectionString(name);
    }

    public void Execute(string database, string sql)
    {
        using var connection = Open(database);
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    public object? Scalar(string database, string sql)
    {
        using var connection = Open(database);
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    /// <summary>The tables of <paramref name="database"/>'s public schema, in name order.</summary>
    public IReadOnlyList<string> Tables(string database)
    {
        using var connection = Open(database);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name;";
        var tables = new List<string>();
        using var reader = command.ExecuteReader();
        while (reader.Read()) tables.Add(reader.GetString(0));
        return tables;
    }

    /// <summary>A connection of its own (not pooled) to <paramref name="database"/>, as the user quantlab.</summary>
    private NpgsqlConnection Open(string database)
    {
        var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(ConnectionString(database)) { Pooling = false }.ConnectionString);
        connection.Open();
        return connection;
    }

    /// <summary><c>pg_ctl restart -m immediate</c>: every session is cut, as in a crash, and the server recovers.</summary>
    public void RestartImmediately() => Control("restart", "-m", "immediate");

    private void Control(string action, params string[] extra) =>
        RunPg("pg_ctl", [action, "-D", DataDirectory, "-w", "-t", "60", "-l", Path.Combine(Directory, "server.log"), .. extra,
            "-o", $"-p {Port.ToString(CultureInfo.InvariantCulture)} -k {Directory} -c listen_addresses={_listen} -c fsync=off -c max_connections=200"]);

    private void RunPg(string program, params string[] args)
    {
        var path = Path.Combine(_bin, program);
        if (_runAs is null) Run(path, args);
        else Run("runuser", ["-u", _runAs, "--", path, .. args]);
    }

    private static void Run(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2))) process.Kill(entireProcessTree: true);
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{program} {string.Join(' ', args)} exited {process.ExitCode}:\n{output.Result}\n{error.Result}");
    }

    /// <summary>The newest server's bin directory of Debian's layout (/usr/lib/postgresql/N/bin).</summary>
    private static string FindBinaries()
    {
        var candidates = System.IO.Directory.Exists("/usr/lib/postgresql")
            ? System.IO.Directory.GetDirectories("/usr/lib/postgresql")
                .Select(d => Path.Combine(d, "bin"))
                .Where(d => File.Exists(Path.Combine(d, "initdb")) && File.Exists(Path.Combine(d, "pg_ctl")))
                .OrderByDescending(d => int.TryParse(Path.GetFileName(Path.GetDirectoryName(d)), out var v) ? v : 0)
                .ToList()
            : [];
        Assert.True(candidates.Count > 0, "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: install Debian's 'postgresql' package (.ci/run does)");
        return candidates[0];
    }

    public void Dispose()
    {
        try { if (System.IO.Directory.Exists(DataDirectory)) Control("stop", "-m", "immediate"); }
        catch (InvalidOperationException) { }   // not running
        NpgsqlConnection.ClearAllPools();
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary>One server for a test class (xunit class fixture); each test makes its own database.</summary>
public sealed class PostgresFixture : IDisposable
{
    private int _databases;

    public PostgresServer Server { get; } = PostgresServer.Start();

    /// <summary>A new empty database's connection string.</summary>
    public string NewDatabase() => Server.CreateDatabase($"lab{Interlocked.Increment(ref _databases)}");

    public void Dispose() => Server.Dispose();
}
