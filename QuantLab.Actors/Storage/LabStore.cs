using System.Data;
using System.Data.Common;
using System.Globalization;
using Akka.Configuration;
using QuantLab.Engine;

namespace QuantLab.Actors.Storage;

/// <summary>
/// The lab's database: the Akka journal, snapshots and read journal, the artifact table and the status row. Either
/// an embedded SQLite file (<see cref="SqliteLabStore"/>, the default: one machine) or a PostgreSQL server
/// (<see cref="PostgresLabStore"/>: nodes on several machines that share nothing else). Every verb and actor reaches
/// the database through this, so the provider is chosen by configuration alone.
/// </summary>
public abstract class LabStore
{
    /// <summary>The schema of QuantLab's own tables this build writes (<c>quantlab_schema</c>); a database with a newer
    /// one was written by a newer QuantLab and is refused.</summary>
    public const int SchemaVersion = 1;

    /// <summary>The values of <c>QuantLab:Storage:Provider</c>.</summary>
    public const string AllowedProviders = "sqlite, postgresql";

    /// <summary><c>sqlite</c> or <c>postgresql</c>.</summary>
    public abstract string Provider { get; }

    /// <summary>Names the database in messages (a file path, or server, database and user): never a password.</summary>
    public abstract string Name { get; }

    public sealed override string ToString() => Name;

    /// <summary>This machine's directory for the lab (reports of <c>run</c>): beside a SQLite file; <c>.quantlab</c> with a server.</summary>
    public abstract string LocalDirectory { get; }

    /// <summary>Where a node caches artifacts it read (one file per hash): as configured, else <c>cache</c> in
    /// <see cref="LocalDirectory"/>.</summary>
    public abstract string DefaultCacheDirectory { get; }

    /// <summary>The HOCON of the journal, snapshot store and read journal on this database.</summary>
    /// <param name="createTables">Whether Akka's plugins create their tables when they start: only where one process
    /// at a time can (a SQLite file, or <c>db init</c> holding the init lock).</param>
    public abstract Config Persistence(bool createTables, TimeSpan? queryRefresh = null);

    /// <summary>For a process that writes (<c>run</c>, <c>node</c>): the database is ready for this build, or a clear
    /// error says why not. SQLite creates its file and tables here; PostgreSQL needs <c>quantlab db init</c> first.</summary>
    public abstract void PrepareForWriting();

    /// <summary><c>quantlab db init</c>: creates QuantLab's tables where missing and records the schema version
    /// (Akka's tables are created by <c>DbInit</c>, which starts the plugins). Idempotent; a newer schema is refused.</summary>
    /// <returns>The version found before (null: none).</returns>
    public abstract int? CreateSchema();

    /// <summary>Held by <c>db init</c> while it creates the tables, so that concurrent inits create them once.</summary>
    public abstract IDisposable LockSchema();

    /// <summary>For readers (status, report, export): the database exists and holds a schema this build reads.
    /// Nothing is created or changed.</summary>
    public abstract void CheckReadable();

    /// <summary>An open read-write connection.</summary>
    public abstract DbConnection Open();

    /// <summary>An open connection for readers; on SQLite it cannot change the file.</summary>
    public abstract DbConnection OpenReadOnly();

    /// <summary>Why an operation on the database failed, named by its cause (read-only, full, unreachable, refused
    /// credentials), without a password: an <see cref="InfrastructureException"/>, or a <see cref="BadInputException"/> where a
    /// setting is wrong (credentials, a database that does not exist).</summary>
    public abstract QuantLabException Fault(Exception e);

    /// <summary>Held by <c>run</c> for its life: no other process writes this database meanwhile.</summary>
    public abstract IDisposable AcquireExclusive();

    /// <summary>Held by each <c>node</c> for its life, with the other nodes of its cluster and without a <c>run</c>.</summary>
    public abstract IDisposable AcquireShared();

    /// <summary>Whether a live <c>run</c> or <c>node</c> holds the database; null where that cannot be told.</summary>
    public abstract bool? IsHeld();

    /// <summary>
    /// Takes a run lock with <paramref name="tryTake"/> (null: held elsewhere). A reader's probe (<see cref="IsHeld"/>)
    /// holds the lock for a moment, so a taken lock is tried again for up to 2 s before <paramref name="inUse"/> is thrown.
    /// </summary>
    internal static T TakeRunLock<T>(Func<T?> tryTake, Func<Exception> inUse) where T : class
    {
        for (var attempt = 0; ; attempt++)
        {
            if (tryTake() is { } taken) return taken;
            if (attempt >= 20) throw inUse();
            Thread.Sleep(100);
        }
    }

    /// <summary>Every table of the database (QuantLab's schema), in name order.</summary>
    internal abstract IReadOnlyList<string> TableNames(DbConnection connection);

    /// <summary>Whether every table of <paramref name="names"/> exists.</summary>
    internal bool TablesExist(DbConnection connection, params string[] names)
    {
        var tables = TableNames(connection);
        return names.All(tables.Contains);
    }

    /// <summary>A connection whose commits need not reach the disk before they return (the status row: losing it
    /// only sends readers to the journal).</summary>
    internal abstract void RelaxDurability(DbConnection connection);

    /// <summary>The store of <paramref name="provider"/>: the SQLite file <paramref name="sqlitePath"/>, or the
    /// PostgreSQL server of <paramref name="connectionString"/>.</summary>
    /// <param name="cacheDirectory">The node's artifact cache; null: the provider's default.</param>
    public static LabStore Create(string provider, string sqlitePath, string? connectionString, string? cacheDirectory = null) => provider switch
    {
        "sqlite" => new SqliteLabStore(sqlitePath, cacheDirectory),
        "postgresql" => new PostgresLabStore(connectionString ?? throw new BadInputException(
            "QuantLab:Storage:Provider is postgresql but no connection string is set: set QuantLab:Storage:ConnectionString " +
            "(e.g. the environment variable QUANTLAB__STORAGE__CONNECTIONSTRING) or QuantLab:Storage:ConnectionStringFile"), cacheDirectory),
        _ => throw new BadInputException($"QuantLab:Storage:Provider is '{provider}'; allowed: {AllowedProviders}"),
    };

    // ---- the schema checks both providers share -------------------------------------------------

    /// <summary>Another application's database (tables, but no quantlab_schema) is refused before anything in it changes.</summary>
    /// <param name="instead">What the user can do instead, in the provider's terms.</param>
    internal void RefuseForeign(DbConnection connection, string instead)
    {
        var tables = TableNames(connection);
        if (tables.Count > 0 && !tables.Contains("quantlab_schema"))
            throw new BadInputException($"{Name} is not a QuantLab database: it holds other tables ({string.Join(", ", tables.Take(5))}{(tables.Count > 5 ? ", …" : "")}) " +
                                        $"and no quantlab_schema; nothing was changed; {instead}");
    }

    /// <summary>The first column of every row of <paramref name="sql"/>.</summary>
    internal static IReadOnlyList<string> Strings(DbConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        var values = new List<string>();
        using var reader = command.ExecuteReader();
        while (reader.Read()) values.Add(reader.GetString(0));
        return values;
    }

    /// <summary>The recorded schema version; null where the version table is missing or empty.</summary>
    internal int? ReadVersion(DbConnection connection)
    {
        if (!TablesExist(connection, "quantlab_schema")) return null;
        using var read = connection.CreateCommand();
        read.CommandText = "SELECT MAX(version) FROM quantlab_schema;";
        return read.ExecuteScalar() is { } v and not DBNull ? Convert.ToInt32(v, CultureInfo.InvariantCulture) : null;
    }

    /// <summary>A database of a newer QuantLab is refused (configuration: exit 2).</summary>
    internal void RefuseNewer(int? version)
    {
        if (version > SchemaVersion)
            throw new BadInputException($"{Name} has schema version {version}, newer than this QuantLab's {SchemaVersion}; use a newer QuantLab");
    }

    /// <summary>
    /// A database whose journal holds events of QuantLab engine 1.x (job parameters as hand-built JSON, keys
    /// computed from them) is refused as a whole, before any actor reads it: its results can never match a key of
    /// this engine, and its events do not deserialize into typed job records.
    /// </summary>
    internal void RefuseEngine1Events(DbConnection connection)
    {
        if (!TablesExist(connection, "journal")) return;
        var retired = Serialization.QuantLabSerializer.RetiredManifests.ToList();
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT COUNT(*) FROM journal WHERE manifest IN ({string.Join(", ", retired.Select((_, i) => $"@m{i}"))});";
        for (int i = 0; i < retired.Count; i++) AddParameter(command, $"@m{i}", retired[i]);
        if (Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture) > 0)
            throw new BadInputException($"{Name} holds campaigns of QuantLab engine 1.x, whose job records and keys this engine ({EngineInfo.Version}) " +
                                        "does not read; give a new --db or QuantLab:Storage:ConnectionString (the old database stays readable by QuantLab 1.x)");
    }

    internal static DbParameter AddParameter(DbCommand command, string name, object value)
    {
        var p = command.CreateParameter();
        p.ParameterName = name;
        p.Value = value;
        command.Parameters.Add(p);
        return p;
    }

    internal static void Execute(DbConnection connection, string sql, DbTransaction? transaction = null)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    /// <summary>A read transaction that sees one moment of the database (SQLite promotes it to serializable).</summary>
    internal static DbTransaction BeginSnapshotRead(DbConnection connection) => connection.BeginTransaction(IsolationLevel.RepeatableRead);
}
