using Microsoft.Data.Sqlite;
using QuantLab.Engine;

namespace QuantLab.Actors.Storage;

/// <summary>
/// The lab's SQLite file: the Akka journal and snapshot tables (created by Akka.Persistence.Sql) and the
/// artifact table (created here). SQLite has one writer, so the file runs in WAL mode (readers do not block
/// the writer) with a busy timeout, and the journal's write parallelism is 1 (see <c>QuantLabConfig</c>).
/// </summary>
public static class LabDatabase
{
    /// <summary>The schema this build writes; a file with a newer one was written by a newer QuantLab.</summary>
    public const int SchemaVersion = 1;

    public static string ConnectionString(string path) => new SqliteConnectionStringBuilder
    {
        DataSource = Path.GetFullPath(path),
        Mode = SqliteOpenMode.ReadWriteCreate,
        DefaultTimeout = 30,
        Pooling = true,
    }.ToString();

    /// <summary>Creates the file, its directory and the QuantLab tables if missing, switches to WAL and checks the schema version.</summary>
    public static void Initialize(string path)
    {
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            using var connection = Open(path);
            RefuseForeign(connection, path);
            Execute(connection, "PRAGMA journal_mode=WAL;");
            Execute(connection, """
                CREATE TABLE IF NOT EXISTS quantlab_schema (version INTEGER NOT NULL);
                CREATE TABLE IF NOT EXISTS artifacts (
                    hash TEXT NOT NULL PRIMARY KEY,
                    size INTEGER NOT NULL,
                    data BLOB NOT NULL,
                    created TEXT NOT NULL);
                """ + StatusTable.Schema);
            using var read = connection.CreateCommand();
            read.CommandText = "SELECT MAX(version) FROM quantlab_schema;";
            var version = read.ExecuteScalar();
            if (version is null or DBNull)
                Execute(connection, $"INSERT INTO quantlab_schema (version) VALUES ({SchemaVersion});");
            else if (Convert.ToInt32(version, System.Globalization.CultureInfo.InvariantCulture) > SchemaVersion)
                throw new BadInputException($"database {path} has schema version {version}, newer than this QuantLab's {SchemaVersion}; use a newer QuantLab");
            RefuseEngine1Events(connection, path);
        }
        catch (SqliteException e)
        {
            throw Fault(path, e);
        }
    }

    /// <summary>
    /// For readers (status, report): the file must exist and be a QuantLab database of a schema this build
    /// reads. Opens it read-only, so nothing is created or changed.
    /// </summary>
    public static void CheckReadable(string path)
    {
        if (!File.Exists(path)) throw new BadInputException($"no QuantLab database at {Path.GetFullPath(path)} (give it with --db, or run a campaign first)");
        try
        {
            using var connection = OpenReadOnly(path);
            using var read = connection.CreateCommand();
            read.CommandText = "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'quantlab_schema';";
            if (read.ExecuteScalar() is null) throw new BadInputException($"{path} is not a QuantLab database (no quantlab_schema table)");
            read.CommandText = "SELECT MAX(version) FROM quantlab_schema;";
            var version = read.ExecuteScalar();
            if (version is not null and not DBNull && Convert.ToInt32(version, System.Globalization.CultureInfo.InvariantCulture) > SchemaVersion)
                throw new BadInputException($"database {path} has schema version {version}, newer than this QuantLab's {SchemaVersion}; use a newer QuantLab");
            RefuseEngine1Events(connection, path);
        }
        catch (SqliteException e)
        {
            throw Fault(path, e);
        }
    }

    /// <summary>
    /// A SQLite error at the database, named by its cause where SQLite tells it: SQLITE_READONLY (8), SQLITE_FULL
    /// (13), and SQLITE_CANTOPEN (14) in a directory that cannot be written (a WAL database needs its -shm index
    /// beside it, even to be read).
    /// </summary>
    public static InfrastructureException Fault(string path, SqliteException e) => e.SqliteErrorCode switch
    {
        8 => StorageFault.ReadOnly($"database {path}", e),
        13 => StorageFault.DiskFull(path, e),
        10 when StorageFault.NoSpaceAt(DirectoryOf(path)) => StorageFault.DiskFull(path, e),   // SQLITE_IOERR on a full disk
        14 when !StorageFault.CanWriteIn(DirectoryOf(path)) => StorageFault.ReadOnly($"database {path} (its directory)", e),
        _ => new InfrastructureException($"database {path}: {e.Message}", e),
    };

    /// <summary>
    /// Why writing to the database failed, from any exception (the journal wraps SQLite's in its own): a SQLite
    /// or file-system fault by its cause, a full disk even when the error does not say so, else the error itself.
    /// </summary>
    public static InfrastructureException Fault(string path, Exception e)
    {
        for (var inner = e; inner is not null; inner = inner.InnerException)
        {
            if (inner is SqliteException sqlite) return Fault(path, sqlite);
            if (StorageFault.IsDiskFull(inner) || StorageFault.IsReadOnly(inner)) return StorageFault.Of(path, inner);
        }
        return StorageFault.NoSpaceAt(DirectoryOf(path)) ? StorageFault.DiskFull(path, e) : new InfrastructureException($"database {path}: {e.GetBaseException().Message}", e);
    }

    private static string DirectoryOf(string path) => Path.GetDirectoryName(Path.GetFullPath(path))!;

    /// <summary>Another application's SQLite file (tables, but no quantlab_schema) is refused before anything in it changes.</summary>
    private static void RefuseForeign(SqliteConnection connection, string path)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name;";
        var tables = new List<string>();
        using (var reader = command.ExecuteReader())
            while (reader.Read()) tables.Add(reader.GetString(0));
        if (tables.Count > 0 && !tables.Contains("quantlab_schema"))
            throw new BadInputException($"{path} is not a QuantLab database: it holds other tables ({string.Join(", ", tables.Take(5))}{(tables.Count > 5 ? ", …" : "")}) " +
                                        "and no quantlab_schema; nothing was changed; give another --db");
    }

    /// <summary>
    /// A database whose journal holds events of QuantLab engine 1.x (job parameters as hand-built JSON, keys
    /// computed from them) is refused as a whole, before any actor reads it: its results can never match a key of
    /// this engine, and its events do not deserialize into typed job records.
    /// </summary>
    private static void RefuseEngine1Events(SqliteConnection connection, string path)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'journal';";
        if (command.ExecuteScalar() is null) return;
        var retired = Serialization.QuantLabSerializer.RetiredManifests.ToList();
        command.CommandText = $"SELECT COUNT(*) FROM journal WHERE manifest IN ({string.Join(", ", retired.Select((_, i) => $"$m{i}"))});";
        for (int i = 0; i < retired.Count; i++) command.Parameters.AddWithValue($"$m{i}", retired[i]);
        if (Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) > 0)
            throw new BadInputException($"database {path} holds campaigns of QuantLab engine 1.x, whose job records and keys this engine ({EngineInfo.Version}) " +
                                        "does not read; give a new --db (the old file stays readable by QuantLab 1.x)");
    }

    /// <summary>A connection that cannot change the file (readers: status, report).</summary>
    public static SqliteConnection OpenReadOnly(string path)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = Path.GetFullPath(path), Mode = SqliteOpenMode.ReadOnly, DefaultTimeout = 30, Pooling = false,
        }.ToString());
        connection.Open();
        return connection;
    }

    public static SqliteConnection Open(string path)
    {
        var connection = new SqliteConnection(ConnectionString(path));
        connection.Open();
        Execute(connection, "PRAGMA busy_timeout=30000;");
        return connection;
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
