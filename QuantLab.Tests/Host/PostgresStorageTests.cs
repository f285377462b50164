using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;
using QuantLab.Actors.Coordinator;
using QuantLab.Actors.Storage;
using QuantLab.Engine;
using QuantLab.Host.Lab;

namespace QuantLab.Tests.Host;

/// <summary>
/// The lab on a real PostgreSQL server (<see cref="PostgresServer"/>), chosen by configuration alone: <c>db init</c>
/// creates the schema once, nodes never create tables, every verb works against it with the same flags and gives the
/// same results as on SQLite, and bad settings are named with the right exit code and never show the password.
/// </summary>
public sealed class PostgresStorageTests(PostgresFixture pg) : IClassFixture<PostgresFixture>, IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static IConfiguration Lab(string connectionString, IReadOnlyDictionary<string, string>? extra = null)
    {
        var values = new Dictionary<string, string>
        {
            ["QuantLab:Storage:Provider"] = "postgresql",
            ["QuantLab:Storage:ConnectionString"] = connectionString,
            ["QuantLab:Orchestration:Executor"] = "synthetic",
        };
        if (extra is not null) foreach (var (k, v) in extra) values[k] = v;
        return LabTestSupport.Configuration(values);
    }

    /// <summary>A new database after a successful <c>db init</c>; its connection string.</summary>
    private string InitializedDatabase()
    {
        var cs = pg.NewDatabase();
        var init = LabTestSupport.Run(Lab(cs), "db", "init");
        Assert.True(init.ExitCode == 0, init.ToString());
        return cs;
    }

    private static string DatabaseName(string connectionString) => new Npgsql.NpgsqlConnectionStringBuilder(connectionString).Database!;

    private string Spec(string name, string seeds = "[1,2,3]")
    {
        var spec = _dir.File($"{name}.json");
        File.WriteAllText(spec, $$$"""{"name":"{{{name}}}","train":[{"id":"m","seed":{{{seeds}}}}],"quantize":{"weightBits":[4,8]}}""");
        return spec;
    }

    private static void AssertNoPassword(CliRunner.Result r, string password)
    {
        Assert.DoesNotContain(password, r.Out, StringComparison.Ordinal);
        Assert.DoesNotContain(password, r.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void Db_init_creates_every_table_once_and_a_second_init_changes_nothing()
    {
        var cs = pg.NewDatabase();
        var database = DatabaseName(cs);
        var first = LabTestSupport.Run(Lab(cs), "db", "init", "--json");
        Assert.True(first.ExitCode == 0, first.ToString());
        var doc = JsonNode.Parse(first.Out)!;
        Assert.True(doc.AsObject().ContainsKey("before") && doc["before"] is null, first.Out);
        Assert.Equal(LabStore.SchemaVersion, (int)doc["version"]!);
        Assert.StartsWith($"PostgreSQL database '{database}' on ", (string)doc["database"]!);
        Assert.Equal("postgresql", (string)doc["provider"]!);
        Assert.Equal(["artifacts", "journal", "lab_status", "quantlab_schema", "snapshot", "tags"], pg.Server.Tables(database));

        var second = LabTestSupport.Run(Lab(cs), "db", "init");
        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Contains("is current; nothing to change", second.Out);
        Assert.Equal(1L, Convert.ToInt64(pg.Server.Scalar(database, "SELECT COUNT(*) FROM quantlab_schema;")));
        AssertNoPassword(first, pg.Server.Password);
    }

    [Fact]
    public async Task Three_processes_initializing_one_fresh_database_at_once_all_succeed()
    {
        var cs = pg.NewDatabase();
        var env = new Dictionary<string, string> { ["QuantLab:Storage:Provider"] = "postgresql", ["QuantLab:Storage:ConnectionString"] = cs };
        var processes = Enumerable.Range(0, 3).Select(_ => new QuantlabProcess(env, "db", "init")).ToList();
        try
        {
            foreach (var p in processes) Assert.True(await p.WaitAsync(TimeSpan.FromMinutes(3)) == 0, p.ToString());
        }
        finally
        {
            foreach (var p in processes) p.Dispose();
        }
        var database = DatabaseName(cs);
        Assert.Equal(1L, Convert.ToInt64(pg.Server.Scalar(database, "SELECT COUNT(*) FROM quantlab_schema;")));
        Assert.Equal(6, pg.Server.Tables(database).Count);
    }

    [Fact]
    public void A_node_or_run_on_a_database_without_db_init_is_refused_and_creates_nothing()
    {
        var cs = pg.NewDatabase();
        var database = DatabaseName(cs);
        var run = LabTestSupport.Run(Lab(cs), "run", Spec("fresh"));
        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains("run 'quantlab db init'", run.Err);
        Assert.Empty(pg.Server.Tables(database));
        var status = LabTestSupport.Run(Lab(cs), "status");
        Assert.True(status.ExitCode == 2, status.ToString());
        Assert.Contains("not a QuantLab database", status.Err);
    }

    [Fact]
    public void A_database_of_a_newer_schema_is_refused_by_init_and_every_verb()
    {
        var cs = InitializedDatabase();
        var database = DatabaseName(cs);
        pg.Server.Execute(database, "UPDATE quantlab_schema SET version = 99;");
        foreach (var args in new[] { new[] { "db", "init" }, ["status"], ["run", Spec("newer")], ["report", "newer"] })
        {
            var r = LabTestSupport.Run(Lab(cs), args);
            Assert.True(r.ExitCode == 2, $"{string.Join(' ', args)}: {r}");
            Assert.Contains("schema version 99, newer than this QuantLab's", r.Err);
        }
        Assert.Equal(99L, Convert.ToInt64(pg.Server.Scalar(database, "SELECT MAX(version) FROM quantlab_schema;")));
    }

    [Fact]
    public void Bad_settings_are_named_with_exit_2_or_3_and_never_show_the_password()
    {
        var cs = pg.NewDatabase();
        var password = pg.Server.Password;
        var wrongPassword = pg.Server.ConnectionString(DatabaseName(cs), password: "not-" + password);
        var noServer = new Npgsql.NpgsqlConnectionStringBuilder(cs) { Port = LabTestSupport.FreePort(), Timeout = 3 }.ConnectionString;
        var noDatabase = new Npgsql.NpgsqlConnectionStringBuilder(cs) { Database = "nosuchlab" }.ConnectionString;
        var cases = new (string ConnectionString, int Exit, string Message)[]
        {
            (wrongPassword, 2, "refused the credentials of QuantLab:Storage:ConnectionString"),
            (noServer, 3, "cannot reach the server"),
            (noDatabase, 2, "database \"nosuchlab\" does not exist"),
            (cs + ";Bogus=1", 2, "QuantLab:Storage:ConnectionString is not a PostgreSQL connection string"),
        };
        foreach (var (connectionString, exit, message) in cases)
            foreach (var args in new[] { new[] { "db", "init" }, ["status"], ["run", Spec("bad")] })
            {
                var r = LabTestSupport.Run(Lab(connectionString), args);
                Assert.True(r.ExitCode == exit, $"{message} / {string.Join(' ', args)}: {r}");
                Assert.Contains(message, r.Err);
                AssertNoPassword(r, password);
                Assert.DoesNotContain("not-" + password, r.Err, StringComparison.Ordinal);
            }

        var both = LabTestSupport.Run(Lab(cs, new Dictionary<string, string> { ["QuantLab:Storage:ConnectionStringFile"] = _dir.File("cs") }), "status");
        Assert.True(both.ExitCode == 2, both.ToString());
        Assert.Contains("set exactly one of QuantLab:Storage:ConnectionString", both.Err);
        var withDb = LabTestSupport.Run(Lab(cs), "status", "--db", _dir.File("lab.db"));
        Assert.True(withDb.ExitCode == 2, withDb.ToString());
        Assert.Contains("QuantLab:Storage:Provider is postgresql", withDb.Err);
    }

    [Fact]
    public void The_connection_string_can_come_from_a_file_and_an_unreadable_file_is_named()
    {
        var cs = pg.NewDatabase();
        var file = _dir.File("connection");
        File.WriteAllText(file, cs + "\n");
        var fromFile = new Dictionary<string, string>
        {
            ["QuantLab:Storage:Provider"] = "postgresql",
            ["QuantLab:Storage:ConnectionStringFile"] = file,
        };
        var init = LabTestSupport.Run(LabTestSupport.Configuration(fromFile), "db", "init");
        Assert.True(init.ExitCode == 0, init.ToString());
        AssertNoPassword(init, pg.Server.Password);

        fromFile["QuantLab:Storage:ConnectionStringFile"] = _dir.File("missing");
        var missing = LabTestSupport.Run(LabTestSupport.Configuration(fromFile), "status");
        Assert.True(missing.ExitCode == 2, missing.ToString());
        Assert.Contains($"QuantLab:Storage:ConnectionStringFile {_dir.File("missing")}: cannot read it", missing.Err);
    }

    [Fact]
    public async Task A_campaign_runs_on_PostgreSQL_and_status_report_and_retry_read_it_as_on_SQLite()
    {
        var cs = InitializedDatabase();
        var spec = Spec("same", "[1,2,3,4]");
        var onPg = LabTestSupport.Run(Lab(cs), "run", spec, "--json");
        Assert.True(onPg.ExitCode == 0, onPg.ToString());
        var sqlite = LabTestSupport.Configuration(new Dictionary<string, string> { ["QuantLab:Orchestration:Executor"] = "synthetic" });
        var onSqlite = LabTestSupport.Run(sqlite, "run", spec, "--db", _dir.File("lab.db"), "--json");
        Assert.True(onSqlite.ExitCode == 0, onSqlite.ToString());
        Assert.Equal(onSqlite.Out, onPg.Out);

        var store = new PostgresLabStore(cs);
        var pgState = await LabReader.LoadAsync(store);
        var sqliteState = await LabReader.LoadAsync(new SqliteLabStore(_dir.File("lab.db")));
        Assert.Equal(
            sqliteState.Results("same").Results.Select(r => (r.Key, r.Metrics.Numbers.GetValueOrDefault("accuracy"))).OrderBy(x => x.Key),
            pgState.Results("same").Results.Select(r => (r.Key, r.Metrics.Numbers.GetValueOrDefault("accuracy"))).OrderBy(x => x.Key));
        Assert.Equal(16, pgState.Results("same").Results.Count);   // 4 trainings, 4 calibrations, 8 evaluations

        // status reads the coordinator's row, and tells a finished campaign whose process is gone as completed
        var (statuses, source) = await LabReader.StatusesAsync(store);
        Assert.Equal(LabReader.StatusSource.StatusRow, source);
        Assert.Equal("completed", statuses.Single().State);
        Assert.Equal(false, store.IsHeld());
        var status = LabTestSupport.Run(Lab(cs), "status", "same");
        Assert.True(status.ExitCode == 0, status.ToString());
        Assert.Contains("16/16", status.Out);
        // The tables (md; json and csv also carry each job's wall times, which differ between any two runs).
        var a = LabTestSupport.Run(Lab(cs), "report", "same", "--format", "md");
        var b = LabTestSupport.Run(sqlite, "report", "same", "--format", "md", "--db", _dir.File("lab.db"));
        Assert.True(a.ExitCode == 0, a.ToString());
        Assert.Equal(b.Out, a.Out);
        var json = LabTestSupport.Run(Lab(cs), "report", "same", "--format", "json");
        Assert.True(json.ExitCode == 0, json.ToString());
        var sqliteJson = LabTestSupport.Run(sqlite, "report", "same", "--format", "json", "--db", _dir.File("lab.db"));
        Assert.Equal(JsonNode.Parse(sqliteJson.Out)!["results"]!.AsArray().Count, JsonNode.Parse(json.Out)!["results"]!.AsArray().Count);
        // A second run of the same spec reuses every result from the server.
        var again = LabTestSupport.Run(Lab(cs), "run", spec);
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Contains("16 jobs (16 already known", again.Err);
        var missing = LabTestSupport.Run(Lab(cs), "status", "nope");
        Assert.True(missing.ExitCode == 2, missing.ToString());
        Assert.Contains("no campaign 'nope' in PostgreSQL database", missing.Err);
    }

    [Fact]
    public void Artifacts_are_content_addressed_verified_on_read_and_cached_per_node()
    {
        var cs = InitializedDatabase();
        var store = new PostgresLabStore(cs);
        var cache = _dir.Subdirectory("cache");
        var artifacts = new DbArtifactStore(store, cache);
        var bytes = Enumerable.Range(0, 100_000).Select(i => (byte)(i * 7)).ToArray();
        var hash = artifacts.Put(bytes);
        Assert.Equal(hash, artifacts.Put(bytes));
        Assert.Equal(bytes, new DbArtifactStore(store).Get(hash));
        Assert.Equal(bytes, artifacts.Get(hash));
        Assert.True(File.Exists(Path.Combine(cache, hash)));
        Assert.Throws<ArtifactNotFoundException>(() => new DbArtifactStore(store).Get(new string('0', 64)));

        var database = DatabaseName(cs);
        pg.Server.Execute(database, $"UPDATE artifacts SET data = '\\x00'::bytea WHERE hash = '{hash}';");
        var e = Assert.Throws<ArtifactCorruptException>(() => new DbArtifactStore(store).Get(hash));
        Assert.Contains("PostgreSQL database", e.Message);
        Assert.Equal(bytes, artifacts.Get(hash));   // this node's verified cache still has it
    }

    [Fact]
    public void A_run_holds_the_lab_alone_and_nodes_share_it_through_advisory_locks()
    {
        var cs = InitializedDatabase();
        var store = new PostgresLabStore(cs);
        Assert.Equal(false, store.IsHeld());
        using (store.AcquireShared())
        using (new PostgresLabStore(cs).AcquireShared())
        {
            Assert.Equal(true, store.IsHeld());
            var e = Assert.Throws<InfrastructureException>(() => new PostgresLabStore(cs).AcquireExclusive());
            Assert.Contains("in use by another 'quantlab run'", e.Message);
        }
        Assert.Equal(false, store.IsHeld());
        using (store.AcquireExclusive())
        {
            Assert.Throws<InfrastructureException>(() => new PostgresLabStore(cs).AcquireShared());
            Assert.Equal(true, store.IsHeld());
        }
        Assert.Equal(false, store.IsHeld());
    }

    [Fact]
    public async Task A_held_lock_is_taken_again_after_the_server_restarts()
    {
        var cs = InitializedDatabase();
        var store = new PostgresLabStore(cs);
        using (store.AcquireShared())
        {
            pg.Server.RestartImmediately();   // every session is cut, the lock's too
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (store.IsHeld() != true)
            {
                Assert.True(DateTime.UtcNow < deadline, "the lock was not taken again within 30 s of the restart");
                await Task.Delay(200);
            }
            Assert.Throws<InfrastructureException>(() => new PostgresLabStore(cs).AcquireExclusive());
        }
        Assert.Equal(false, store.IsHeld());
    }
}
