using Microsoft.Data.Sqlite;
using QuantLab.Actors.Coordinator;
using QuantLab.Actors.Storage;
using QuantLab.Host.Lab;

namespace QuantLab.Tests.Host;

/// <summary>
/// <c>status</c> reads the one status row the coordinator keeps instead of recovering its state from snapshot and
/// journal, and only where that row tells the journal's state: a row behind the journal with no live process to
/// catch it up, or no row at all, sends it back to the journal.
/// </summary>
public sealed class StatusRowTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    public void Dispose() => _dir.Dispose();

    private static readonly Microsoft.Extensions.Configuration.IConfiguration Synthetic =
        LabTestSupport.Configuration(new Dictionary<string, string> { ["QuantLab:Orchestration:Executor"] = "synthetic" });

    private string RunTwoCampaigns()
    {
        var db = _dir.File("lab.db");
        foreach (var (name, seeds) in new[] { ("first", "[1,2,3]"), ("second", "[1,2,3,4,5]") })
        {
            var spec = _dir.File($"{name}.json");
            File.WriteAllText(spec, $$"""{"name":"{{name}}","train":[{"id":"a","seed":{{seeds}}}]}""");
            var r = LabTestSupport.Run(Synthetic, "run", spec, "--db", db);
            Assert.True(r.ExitCode == 0, r.ToString());
        }
        SqliteConnection.ClearAllPools();
        return db;
    }

    private static async Task<IReadOnlyList<QuantLab.Actors.Messages.CampaignStatus>> FromJournal(string db)
    {
        var state = await LabReader.LoadAsync(new SqliteLabStore(db));
        return state.Campaigns.Keys.Order(StringComparer.Ordinal).Select(c => LabReader.Status(state, c, LabReader.Orphaned(new SqliteLabStore(db)))).ToList();
    }

    [Fact]
    public async Task After_a_run_status_reads_the_row_and_it_equals_the_journals_account()
    {
        var db = RunTwoCampaigns();
        var row = StatusTable.Read(new SqliteLabStore(db), CoordinatorActor.DefaultPersistenceId);
        Assert.NotNull(row);
        Assert.Equal(row.JournalSequenceNr, row.SequenceNr);

        var (campaigns, source) = await LabReader.StatusesAsync(new SqliteLabStore(db));
        Assert.Equal(LabReader.StatusSource.StatusRow, source);
        Assert.Equal(await FromJournal(db), campaigns);
        Assert.Equal(["first", "second"], campaigns.Select(c => c.Campaign));
        Assert.Equal([3, 5], campaigns.Select(c => c.Done));
        Assert.All(campaigns, c => Assert.Equal("completed", c.State));

        var cli = LabTestSupport.Run(Synthetic, "status", "second", "--db", db);
        Assert.True(cli.ExitCode == 0, cli.ToString());
        Assert.Contains("5/5", cli.Out);
    }

    [Fact]
    public async Task A_row_behind_the_journal_with_no_live_process_is_not_believed()
    {
        var db = RunTwoCampaigns();
        var truth = await FromJournal(db);
        // As a process killed between a journal write and the row's rewrite leaves it: behind, and saying otherwise.
        using (var c = new SqliteConnection($"Data Source={db};Pooling=false"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "UPDATE lab_status SET sequence_nr = sequence_nr - 1, campaigns = replace(campaigns, '\"Done\":5', '\"Done\":4');";
            Assert.Equal(1, cmd.ExecuteNonQuery());
        }
        Assert.Equal(4, StatusTable.Read(new SqliteLabStore(db), CoordinatorActor.DefaultPersistenceId)!.Campaigns.Single(c => c.Campaign == "second").Done);

        var (campaigns, source) = await LabReader.StatusesAsync(new SqliteLabStore(db));
        Assert.Equal(LabReader.StatusSource.Journal, source);
        Assert.Equal(truth, campaigns);
    }

    [Fact]
    public async Task A_database_without_the_row_is_read_from_the_journal()
    {
        var db = RunTwoCampaigns();
        var truth = await FromJournal(db);
        using (var c = new SqliteConnection($"Data Source={db};Pooling=false"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "DROP TABLE lab_status;";   // as in a database written before the row existed
            cmd.ExecuteNonQuery();
        }
        var (campaigns, source) = await LabReader.StatusesAsync(new SqliteLabStore(db));
        Assert.Equal(LabReader.StatusSource.Journal, source);
        Assert.Equal(truth, campaigns);
    }

    [Fact]
    public void A_row_may_trail_the_journal_only_while_a_live_process_keeps_it()
    {
        var now = DateTimeOffset.UtcNow;
        var row = new StatusTable.Row(10, now - TimeSpan.FromMilliseconds(300), 12, []);
        Assert.True(row.UpToDate(live: true, now));
        Assert.False(row.UpToDate(live: false, now));
        Assert.False((row with { Written = now - StatusTable.MaxLag - TimeSpan.FromSeconds(1) }).UpToDate(live: true, now));
        Assert.True((row with { SequenceNr = 12 }).UpToDate(live: false, now));
        Assert.False((row with { SequenceNr = 13 }).UpToDate(live: true, now));   // ahead of the journal: not from this journal
    }
}
