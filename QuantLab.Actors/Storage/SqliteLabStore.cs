using System.Data.Common;
using Akka.Configuration;
using Microsoft.Data.Sqlite;
using QuantLab.Actors.Hosting;
using QuantLab.Engine;

namespace QuantLab.Actors.Storage;

/// <summary>
/// The lab in one SQLite file: the Akka journal and snapshot tables (created by Akka.Persistence.Sql) and
/// QuantLab's tables (created here). SQLite has one writer, so the file runs in WAL mode (readers do not block
/// the writer) with a busy timeout, and the journal's write parallelism is 1. Which processes use the file is told
/// by a lock file beside it (<see cref="LabLock"/>).
/// </summary>
public sealed class SqliteLabStore(string path, string? cacheDirectory = null) : LabStore
{
    /// <summary>The file's full path.</summary>
    public string Path { get; } = System.IO.Path.GetFullPath(path);

    public override string Provider => "sqlite";

    public override string Name => $"database {Path}";

    public override string LocalDirectory => Directory;

    public override string DefaultCacheDirectory => cacheDirectory ?? System.IO.Path.Combine(Directory, "cache");

    private string Directory => System.IO.Path.GetDirectoryName(Path)!;

    public string ConnectionString => new SqliteConnectionStringBuilder
    {
        DataSource = Path,
        Mode = SqliteOpenMode.ReadWriteCreate,
        DefaultTimeout = 30,
        Pooling = true,
    }.ToString();

    /// <summary>SQLite creates its tables itself: one file has one writing process (<see cref="LabLock"/>).</summary>
    public override Config Persistence(bool createTables = true, TimeSpan? queryRefresh = null) =>
        QuantLabConfig.SqlPersistence(ConnectionString, LinqToDB.ProviderName.SQLiteMS, writeParallelism: 1, createTables, queryRefresh);

    /// <summary>Creates the file, its directory and the QuantLab tables if missing, switches to WAL and checks the schema version.</summary>
    public override void PrepareForWriting() => CreateSchema();

    public override int? CreateSchema()
    {
        try
        {
            System.IO.Directory.CreateDirectory(Directory);
            using var connection = (SqliteConnection)Open();
            RefuseForeign(connection, "give another --db");
            Execute(connection, "PRAGMA journal_mode=WAL;");
            Execute(connection, """
                CREATE TABLE IF NOT EXISTS quantlab_schema (version INTEGER NOT NULL);
                CREATE TABLE IF NOT EXISTS artifacts (
                    hash TEXT NOT NULL PRIMARY KEY,
                    size INTEGER NOT NULL,
                    data BLOB NOT NULL,
                    created TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS lab_status (
                    id INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
                    sequence_nr INTEGER NOT NULL,
                    written TEXT NOT NULL,
                    campaigns TEXT NOT NULL);
                """);
            var version = ReadVersion(connection);
            if (version is null) Execute(connection, $"INSERT INTO quantlab_schema (version) VALUES ({SchemaVersion});");
            RefuseNewer(version);
            RefuseEngine1Events(connection);
            return version;
        }
        catch (SqliteException e)
        {
            throw Fault(e);
        }
    }

    /// <summary>Nothing to hold: SQLite creates a table in one transaction, and IF NOT EXISTS makes a second one a no-op.</summary>
    public override IDisposable LockSchema() => Nothing.Held;

    private sealed class Nothing : IDisposable
    {
        public static readonly Nothing Held = new();
        public void Dispose() { }
    }

    public override void CheckReadable()
    {
        if (!File.Exists(Path)) throw new BadInputException($"no QuantLab database at {Path} (give it with --db, or run a campaign first)");
        try
        {
            using var connection = OpenReadOnly();
            if (!TablesExist(connection, "quantlab_schema")) throw new BadInputException($"{Path} is not a QuantLab database (no quantlab_schema table)");
            RefuseNewer(ReadVersion(connection));
            RefuseEngine1Events(connection);
        }
        catch (SqliteException e)
        {
            throw Fault(e);
        }
    }

    /// <summary>
    /// A SQLite error at the database, named by its cause where SQLite tells it: SQLITE_READONLY (8), SQLITE_FULL
    /// (13), and SQLITE_CANTOPEN (14) in a directory that cannot be written (a WAL database needs its -shm index
    /// beside it, even to be read); SQLITE_NOTADB (26), a file that is not a SQLite database at all, is bad input (--db).
    /// </summary>
    private QuantLabException Fault(SqliteException e) => e.SqliteErrorCode switch
    {
        26 => new BadInputException($"{Path} is not a SQLite database (give a QuantLab database with --db, or a new path to create one)", e),
        8 => StorageFault.ReadOnly(Name, e),
        13 => StorageFault.DiskFull(Path, e),
        10 when StorageFault.NoSpaceAt(Directory) => StorageFault.DiskFull(Path, e),   // SQLITE_IOERR on a full disk
        14 when !StorageFault.CanWriteIn(Directory) => StorageFault.ReadOnly($"{Name} (its directory)", e),
        _ => new InfrastructureException($"{Name}: {e.Message}", e),
    };

    /// <summary>
    /// Why writing to the database failed, from any exception (the journal wraps SQLite's in its own): a SQLite
    /// or file-system fault by its cause, a full disk even when the error does not say so, else the error itself.
    /// </summary>
    public override QuantLabException Fault(Exception e)
    {
        for (var inner = e; inner is not null; inner = inner.InnerException)
        {
            if (inner is SqliteException sqlite) return Fault(sqlite);
            if (StorageFault.IsDiskFull(inner) || StorageFault.IsReadOnly(inner)) return StorageFault.Of(Path, inner);
        }
        return StorageFault.NoSpaceAt(Directory) ? StorageFault.DiskFull(Path, e) : new InfrastructureException($"{Name}: {e.GetBaseException().Message}", e);
    }

    internal override IReadOnlyList<string> TableNames(DbConnection connection) =>
        Strings(connection, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name;");

    /// <summary>No fsync per commit (WAL: still safe from corruption).</summary>
    internal override void RelaxDurability(DbConnection connection) => Execute(connection, "PRAGMA synchronous=NORMAL;");

    /// <summary>A connection that cannot change the file (readers: status, report).</summary>
    public override DbConnection OpenReadOnly()
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = Path, Mode = SqliteOpenMode.ReadOnly, DefaultTimeout = 30, Pooling = false,
        }.ToString());
        connection.Open();
        return connection;
    }

    public override DbConnection Open()
    {
        var connection = new SqliteConnection(ConnectionString);
        connection.Open();
        Execute(connection, "PRAGMA busy_timeout=30000;");
        return connection;
    }

    public override IDisposable AcquireExclusive() => LabLock.AcquireExclusive(this);

    public override IDisposable AcquireShared() => LabLock.AcquireShared(this);

    public override bool? IsHeld() => LabLock.IsHeld(Path);
}
