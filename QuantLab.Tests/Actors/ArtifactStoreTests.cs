using Microsoft.Data.Sqlite;
using QuantLab.Actors.Storage;
using QuantLab.Engine;

namespace QuantLab.Tests.Actors;

public sealed class ArtifactStoreTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly string _db;

    public ArtifactStoreTests()
    {
        _db = _dir.File("lab.db");
        new SqliteLabStore(_db).PrepareForWriting();
    }

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Blobs_are_keyed_by_their_SHA256_stored_once_and_read_back()
    {
        var store = new DbArtifactStore(new SqliteLabStore(_db));
        var data = "weights"u8.ToArray();
        var hash = store.Put(data);
        Assert.Equal(64, hash.Length);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(data)), hash);
        Assert.Equal(hash, store.Put(data));
        Assert.Equal(data, store.Get(hash));
        Assert.True(store.Contains(hash));
        Assert.Equal(1L, Scalar("SELECT COUNT(*) FROM artifacts"));
        Assert.Throws<ArtifactNotFoundException>(() => store.Get(new string('0', 64)));
    }

    [Fact]
    public void A_corrupt_database_row_is_detected_on_read()
    {
        var store = new DbArtifactStore(new SqliteLabStore(_db));
        var hash = store.Put([1, 2, 3]);
        Scalar($"UPDATE artifacts SET data = X'010204' WHERE hash = '{hash}'");
        var e = Assert.Throws<ArtifactCorruptException>(() => store.Get(hash));
        Assert.Equal(3, e.ExitCode);
    }

    [Fact]
    public void The_node_cache_serves_reads_and_a_damaged_cache_file_is_read_again_from_the_database()
    {
        var cache = _dir.File("cache");
        var store = new DbArtifactStore(new SqliteLabStore(_db), cache);
        var hash = store.Put([9, 8, 7]);
        Assert.Equal([9, 8, 7], store.Get(hash));
        var file = Path.Combine(cache, hash);
        Assert.True(File.Exists(file));
        File.WriteAllBytes(file, [0]);
        Assert.Equal([9, 8, 7], store.Get(hash));
        Assert.Equal([9, 8, 7], File.ReadAllBytes(file));
    }

    [Fact]
    public void The_database_runs_in_WAL_mode_and_a_newer_schema_is_refused()
    {
        Assert.Equal("wal", Scalar("PRAGMA journal_mode"));
        Scalar("INSERT INTO quantlab_schema (version) VALUES (99)");
        var e = Assert.Throws<BadInputException>(() => new SqliteLabStore(_db).PrepareForWriting());
        Assert.Contains("schema version 99", e.Message);
    }

    [Fact]
    public void A_database_with_campaigns_of_engine_1_is_refused_by_writers_and_readers_naming_the_engine()
    {
        // The journal's columns as Akka.Persistence.Sql creates them, reduced to what the check reads; one event of engine 1.
        Scalar("CREATE TABLE journal (ordering INTEGER PRIMARY KEY, persistence_id TEXT, sequence_number INTEGER, manifest TEXT, message BLOB)");
        Scalar("INSERT INTO journal (persistence_id, sequence_number, manifest, message) VALUES ('quantlab-coordinator', 1, 'ql.job-started.v1', x'00')");
        new SqliteLabStore(_db).PrepareForWriting();   // an event whose shape did not change is fine
        Scalar("INSERT INTO journal (persistence_id, sequence_number, manifest, message) VALUES ('quantlab-coordinator', 2, 'ql.campaign-submitted.v1', x'00')");
        foreach (var open in new Action[] { () => new SqliteLabStore(_db).PrepareForWriting(), () => new SqliteLabStore(_db).CheckReadable() })
        {
            var e = Assert.Throws<BadInputException>(open);
            Assert.Equal(2, e.ExitCode);
            Assert.Contains("engine 1.x", e.Message);
            Assert.Contains(EngineInfo.Version, e.Message);
            Assert.Contains("new --db", e.Message);
        }
    }

    [Fact]
    public void Another_applications_database_is_refused_and_left_unchanged()
    {
        var foreign = Path.Combine(Path.GetDirectoryName(_db)!, "app.db");
        using (var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={foreign};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers (name) VALUES ('ada');";
            cmd.ExecuteNonQuery();
        }
        var before = File.ReadAllBytes(foreign);
        var e = Assert.Throws<BadInputException>(() => new SqliteLabStore(foreign).PrepareForWriting());
        Assert.Contains("not a QuantLab database", e.Message);
        Assert.Contains("customers", e.Message);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Assert.Equal(before, File.ReadAllBytes(foreign));   // no tables added, not switched to WAL
    }

    private object? Scalar(string sql)
    {
        using var c = new SqliteLabStore(_db).Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return cmd.ExecuteScalar();
    }
}
