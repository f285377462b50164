using System.Data.Common;
using System.Net.Sockets;
using Akka.Configuration;
using Npgsql;
using QuantLab.Actors.Hosting;
using QuantLab.Engine;

namespace QuantLab.Actors.Storage;

/// <summary>
/// The lab on a PostgreSQL server (15 or newer): one database shared by nodes on several machines. Its schema is
/// created once by <c>quantlab db init</c>, never by nodes as they start (several processes creating Akka's tables
/// at once race on CREATE TABLE). Which processes use the lab is told by session advisory locks, which the server
/// drops when a process's connection ends, so also when it is killed. The connection string holds the password:
/// it is kept here and never printed; messages name the server, database and user (<see cref="Name"/>).
/// </summary>
public sealed class PostgresLabStore : LabStore
{
    /// <summary>The advisory lock keys (64-bit, QuantLab's own): one held by every writing process, one taken while
    /// the schema is created.</summary>
    private const long RunLockKey = 0x5175_616E_744C_6162;   // "QuantLab"
    private const long SchemaLockKey = RunLockKey + 1;

    private const string Setting = "QuantLab:Storage:ConnectionString";

    private readonly string _connectionString;
    private readonly string _readerConnectionString;
    private readonly string? _cacheDirectory;

    public PostgresLabStore(string connectionString, string? cacheDirectory = null)
    {
        NpgsqlConnectionStringBuilder parsed;
        try { parsed = new NpgsqlConnectionStringBuilder(connectionString); }
        catch (Exception e) when (e is ArgumentException or FormatException or InvalidCastException)
        {
            // The builder's messages name the keyword, never a value.
            throw new BadInputException($"{Setting} is not a PostgreSQL connection string: {e.Message}", e);
        }
        if (string.IsNullOrWhiteSpace(parsed.Host)) throw new BadInputException($"{Setting} names no Host");
        if (string.IsNullOrWhiteSpace(parsed.Database)) throw new BadInputException($"{Setting} names no Database");
        Name = $"PostgreSQL database '{parsed.Database}' on {parsed.Host}:{parsed.Port}" + (parsed.Username is { } user ? $" as '{user}'" : "");
        _connectionString = parsed.ConnectionString;
        // Readers get their own pool whose sessions cannot write.
        _readerConnectionString = new NpgsqlConnectionStringBuilder(_connectionString)
        {
            ApplicationName = "quantlab-reader",
            Options = "-c default_transaction_read_only=on",
        }.ConnectionString;
        _cacheDirectory = cacheDirectory;
    }

    public override string Provider => "postgresql";

    public override string Name { get; }

    public override string LocalDirectory => Path.GetFullPath(".quantlab");

    public override string DefaultCacheDirectory => _cacheDirectory ?? Path.Combine(LocalDirectory, "cache");

    public override Config Persistence(bool createTables, TimeSpan? queryRefresh = null) =>
        QuantLabConfig.SqlPersistence(_connectionString, LinqToDB.ProviderName.PostgreSQL15, writeParallelism: 1, createTables, queryRefresh);

    private const string Tables = """
        CREATE TABLE IF NOT EXISTS quantlab_schema (version INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS artifacts (
            hash TEXT NOT NULL PRIMARY KEY,
            size BIGINT NOT NULL,
            data BYTEA NOT NULL,
            created TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS lab_status (
            id INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
            sequence_nr BIGINT NOT NULL,
            written TEXT NOT NULL,
            campaigns TEXT NOT NULL);
        """;

    /// <summary>Akka.Persistence.Sql's tables, which <c>db init</c> has its plugins create.</summary>
    internal static readonly string[] AkkaTables = ["journal", "tags", "snapshot"];

    public override void PrepareForWriting()
    {
        using var connection = Open();
        try
        {
            var version = ReadVersion(connection);
            RefuseNewer(version);
            if (version is null || !TablesExist(connection, AkkaTables))
                throw new BadInputException($"{Name} has no QuantLab schema: run 'quantlab db init' once (with the same {Setting}) before starting nodes");
            if (version < SchemaVersion)
                throw new BadInputException($"{Name} has schema version {version}, older than this QuantLab's {SchemaVersion}: run 'quantlab db init' to upgrade it");
            RefuseEngine1Events(connection);
        }
        catch (DbException e)
        {
            throw Fault(e);
        }
    }

    /// <summary>Called under <see cref="LockSchema"/>: concurrent <c>db init</c>s create the tables once.</summary>
    public override int? CreateSchema()
    {
        using var connection = Open();
        try
        {
            using var transaction = connection.BeginTransaction();
            RefuseForeign(connection, $"name another database in {Setting}");
            Execute(connection, Tables, transaction);
            var version = ReadVersion(connection);
            RefuseNewer(version);
            if (version is null) Execute(connection, $"INSERT INTO quantlab_schema (version) VALUES ({SchemaVersion});", transaction);
            else if (version < SchemaVersion) Execute(connection, $"UPDATE quantlab_schema SET version = {SchemaVersion};", transaction);
            transaction.Commit();
            return version;
        }
        catch (DbException e)
        {
            throw Fault(e);
        }
    }

    /// <summary>A session advisory lock: one <c>db init</c> at a time, across machines.</summary>
    public override IDisposable LockSchema()
    {
        var connection = OpenUnpooled();
        Execute(connection, $"SELECT pg_advisory_lock({SchemaLockKey});");
        return connection;
    }

    public override void CheckReadable()
    {
        using var connection = OpenReadOnly();
        try
        {
            if (!TablesExist(connection, "quantlab_schema"))
                throw new BadInputException($"{Name} is not a QuantLab database (no quantlab_schema table): run 'quantlab db init', then a campaign");
            RefuseNewer(ReadVersion(connection));
            RefuseEngine1Events(connection);
        }
        catch (DbException e)
        {
            throw Fault(e);
        }
    }

    /// <summary>The tables of the connection's current schema (public, unless the connection string says otherwise).</summary>
    internal override IReadOnlyList<string> TableNames(DbConnection connection) =>
        Strings(connection, "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name;");

    /// <summary>The session's commits return before the server's WAL reaches the disk (a crash loses at most the
    /// last few, never corrupts).</summary>
    internal override void RelaxDurability(DbConnection connection) => Execute(connection, "SET synchronous_commit = off;");

    public override DbConnection Open() => OpenWith(_connectionString);

    public override DbConnection OpenReadOnly() => OpenWith(_readerConnectionString);

    /// <summary>A connection of its own (not pooled), so that closing it ends its session and the session's locks.</summary>
    /// <param name="connectSeconds">A shorter connect timeout than the connection string's (the run lock's keep-alive).</param>
    private NpgsqlConnection OpenUnpooled(int? connectSeconds = null)
    {
        var builder = new NpgsqlConnectionStringBuilder(_connectionString) { Pooling = false };
        if (connectSeconds is { } seconds) builder.Timeout = Math.Min(builder.Timeout, seconds);
        return (NpgsqlConnection)OpenWith(builder.ConnectionString);
    }

    private DbConnection OpenWith(string connectionString)
    {
        var connection = new NpgsqlConnection(connectionString);
        try
        {
            connection.Open();
            return connection;
        }
        catch (Exception e) when (e is DbException or SocketException or TimeoutException)
        {
            connection.Dispose();
            throw Fault(e);
        }
    }

    /// <summary>
    /// A PostgreSQL error by its cause: settings that are wrong (credentials, a missing database, privileges) are
    /// configuration (exit 2), naming the setting; an unreachable or restarting server, a full disk and the rest
    /// are infrastructure (exit 3). The server's messages carry no password.
    /// </summary>
    public override QuantLabException Fault(Exception e)
    {
        for (var inner = e; inner is not null; inner = inner.InnerException)
        {
            switch (inner)
            {
                case PostgresException { SqlState: "28P01" or "28000" } p:
                    return new BadInputException($"{Name}: the server refused the credentials of {Setting}: {p.MessageText}", e);
                case PostgresException { SqlState: "3D000" } p:
                    return new BadInputException($"{Name}: {p.MessageText} (create it, or name another database in {Setting})", e);
                case PostgresException { SqlState: "42501" } p:
                    return new BadInputException($"{Name}: the user of {Setting} lacks a privilege: {p.MessageText}", e);
                case PostgresException { SqlState: "53100" } p:
                    return new InfrastructureException($"{Name}: the server's disk is full: {p.MessageText}", e);
                case PostgresException { SqlState: "57P01" or "57P02" or "57P03" } p:
                    return new InfrastructureException($"{Name}: the server is shutting down or starting up: {p.MessageText}", e);
                case PostgresException p:
                    return new InfrastructureException($"{Name}: {p.MessageText} (SQLSTATE {p.SqlState})", e);
                case SocketException or TimeoutException:
                    return new InfrastructureException($"{Name}: cannot reach the server: {inner.Message}", e);
            }
        }
        return new InfrastructureException($"{Name}: {e.GetBaseException().Message}", e);
    }

    /// <summary>Creates the empty database <paramref name="name"/> on this store's server (the user needs CREATEDB)
    /// and returns a store on it: scratch databases of benchmarks.</summary>
    public PostgresLabStore CreateDatabase(string name)
    {
        using var connection = OpenUnpooled();
        try { Execute(connection, $"CREATE DATABASE \"{name}\";"); }
        catch (DbException e) { throw Fault(e); }
        return new PostgresLabStore(new NpgsqlConnectionStringBuilder(_connectionString) { Database = name }.ConnectionString, _cacheDirectory);
    }

    /// <summary>Drops this store's database, closing its sessions first.</summary>
    public void DropDatabase()
    {
        NpgsqlConnection.ClearAllPools();
        var database = new NpgsqlConnectionStringBuilder(_connectionString).Database!;
        using var connection = (NpgsqlConnection)OpenWith(new NpgsqlConnectionStringBuilder(_connectionString) { Database = "postgres", Pooling = false }.ConnectionString);
        try { Execute(connection, $"DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE);"); }
        catch (DbException e) { throw Fault(e); }
    }

    public override IDisposable AcquireExclusive() => AcquireRunLock("pg_try_advisory_lock", "'quantlab run' or 'quantlab node'");

    public override IDisposable AcquireShared() => AcquireRunLock("pg_try_advisory_lock_shared", "'quantlab run'");

    /// <summary>Takes the run lock in a session of its own, held until disposed (or until this process dies), and
    /// kept: a session cut by a server restart loses its lock, so the holder takes it again in a new session.</summary>
    private RunLock AcquireRunLock(string function, string holders)
    {
        var connection = OpenUnpooled();
        return TakeRunLock(() => TryLock(connection, function) ? new RunLock(this, function, connection) : null, () =>
        {
            connection.Dispose();
            return new InfrastructureException($"{Name} is in use by another {holders} (it holds the lab's advisory lock {RunLockKey})");
        });
    }

    /// <summary>A held run lock. Every <see cref="KeepInterval"/> it checks its session; when the session is gone
    /// (the server restarted), it opens a new one and takes the lock again, so that <c>status</c> keeps seeing a live
    /// lab and a <c>run</c> cannot take the lab from under running nodes.</summary>
    private sealed class RunLock : IDisposable
    {
        private static readonly TimeSpan KeepInterval = TimeSpan.FromSeconds(2);
        private readonly PostgresLabStore _store;
        private readonly string _function;
        private readonly Lock _gate = new();
        private readonly Timer _timer;
        private NpgsqlConnection? _connection;
        private bool _disposed;

        public RunLock(PostgresLabStore store, string function, NpgsqlConnection connection)
        {
            _store = store;
            _function = function;
            _connection = connection;
            _timer = new Timer(_ => Keep(), null, KeepInterval, KeepInterval);
        }

        private void Keep()
        {
            lock (_gate)
            {
                if (_disposed) return;
                try
                {
                    if (_connection is not null)
                    {
                        // A short timeout: on a dead link this must not hold the gate (and the node's shutdown) for long.
                        using var probe = _connection.CreateCommand();
                        probe.CommandText = "SELECT 1;";
                        probe.CommandTimeout = 2;
                        probe.ExecuteScalar();
                        return;
                    }
                }
                catch (Exception e) when (e is DbException or InvalidOperationException or IOException)
                {
                    _connection?.Dispose();
                    _connection = null;
                }
                try
                {
                    var connection = _store.OpenUnpooled(connectSeconds: 2);
                    if (TryLock(connection, _function)) _connection = connection;
                    else connection.Dispose();   // held elsewhere meanwhile: try again at the next tick
                }
                catch (QuantLabException)
                {
                    // The server is still away: try again at the next tick.
                }
            }
        }

        public void Dispose()
        {
            lock (_gate)
            {
                _disposed = true;
                _timer.Dispose();
                _connection?.Dispose();
            }
        }
    }

    public override bool? IsHeld()
    {
        try
        {
            using var connection = OpenUnpooled();
            if (!TryLock(connection, "pg_try_advisory_lock")) return true;
            Execute(connection, $"SELECT pg_advisory_unlock({RunLockKey});");
            return false;
        }
        catch (QuantLabException)
        {
            return null;
        }
    }

    private static bool TryLock(NpgsqlConnection connection, string function)
    {
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {function}({RunLockKey});";
        return command.ExecuteScalar() is true;
    }
}
