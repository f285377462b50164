using Microsoft.Data.Sqlite;


namespace QuantLab.Tests.Host;

/// <summary>Every verb that opens a lab database refuses another application's SQLite file without changing it
/// (exit 2), and names read-only storage as such (exit 3), never as "in use by another run".</summary>
public sealed class DatabaseFaultTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    public void Dispose() => _dir.Dispose();

    private static readonly Microsoft.Extensions.Configuration.IConfiguration Synthetic =
        LabTestSupport.Configuration(new Dictionary<string, string> { ["QuantLab:Orchestration:Executor"] = "synthetic" });

    private const string TwoJobs = """{"name":"s","train":[{"id":"a","seed":[1,2]}]}""";

    /// <summary>Each verb that opens the database, with arguments that would otherwise be valid.</summary>
    private IEnumerable<(string Verb, string[] Args)> EveryVerb(string db)
    {
        var spec = _dir.File("spec.json");
        File.WriteAllText(spec, TwoJobs);
        var port = LabTestSupport.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        yield return ("run", ["run", spec, "--db", db]);
        yield return ("status", ["status", "--db", db]);
        yield return ("report", ["report", "s", "--db", db, "--format", "json"]);
        yield return ("export", ["export", "s", "--job", "0000", "--out", _dir.File("export-out"), "--db", db]);
        yield return ("node", ["node", "--port", port, "--seed-nodes", $"akka.tcp://quantlab@127.0.0.1:{port}", "--db", db]);
    }

    [Fact]
    public void Another_applications_sqlite_file_is_refused_by_every_verb_and_left_unchanged()
    {
        var db = _dir.File("other.db");
        using (var c = new SqliteConnection($"Data Source={db};Pooling=false"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "CREATE TABLE people (name TEXT); INSERT INTO people VALUES ('ada');";
            cmd.ExecuteNonQuery();
        }
        var bytes = File.ReadAllBytes(db);
        var written = File.GetLastWriteTimeUtc(db);
        foreach (var (verb, args) in EveryVerb(db))
        {
            var r = LabTestSupport.Run(Synthetic, args);
            Assert.True(r.ExitCode == 2, $"{verb}: {r}");
            Assert.Contains("not a QuantLab database", r.Err);
            Assert.Contains(db, r.Err);
            SqliteConnection.ClearAllPools();
            Assert.Equal(bytes, File.ReadAllBytes(db));              // no tables added, no switch to WAL (header bytes 18-19)
            Assert.Equal(written, File.GetLastWriteTimeUtc(db));
            Assert.False(File.Exists(db + "-wal"), verb);
        }
    }

    [Fact]
    public void A_file_that_is_not_a_sqlite_database_is_refused_by_every_verb_as_bad_input_and_left_unchanged()
    {
        var db = _dir.File("notes.db");
        File.WriteAllText(db, "these are notes, not a database\n");
        var bytes = File.ReadAllBytes(db);
        foreach (var (verb, args) in EveryVerb(db))
        {
            var r = LabTestSupport.Run(Synthetic, args);
            Assert.True(r.ExitCode == 2, $"{verb}: {r}");
            Assert.Contains($"{db} is not a SQLite database", r.Err);
            SqliteConnection.ClearAllPools();
            Assert.Equal(bytes, File.ReadAllBytes(db));
            Assert.False(File.Exists(db + "-wal"), verb);
        }
    }

    [Fact]
    public void A_database_on_read_only_storage_is_called_read_only_by_every_verb()
    {
        using var disk = new Tmpfs("16m");
        var db = disk.File("lab.db");
        var spec = _dir.File("first.json");
        File.WriteAllText(spec, TwoJobs);
        var first = LabTestSupport.Run(Synthetic, "run", spec, "--db", db);
        Assert.True(first.ExitCode == 0, first.ToString());
        SqliteConnection.ClearAllPools();
        disk.RemountReadOnly();
        foreach (var (verb, args) in EveryVerb(db))
        {
            var r = LabTestSupport.Run(Synthetic, args);
            Assert.True(r.ExitCode == 3, $"{verb}: {r}");
            Assert.Contains("read-only", r.Err);
            Assert.Contains(db, r.Err);
            Assert.DoesNotContain("in use", r.Err);
        }
    }
}
