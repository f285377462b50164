using System.Globalization;
using System.Text.Json;
using System.Data.Common;
using QuantLab.Actors.Messages;

namespace QuantLab.Actors.Storage;

/// <summary>
/// Every campaign's status as of a journal sequence number, in one row of the lab's database. The coordinator
/// rewrites it after each durable batch, before it tells anyone of the batch, so that <c>status</c> reads one row instead
/// of recovering the coordinator's whole state from snapshot and journal (seconds on a large campaign). A
/// projection: the journal stays the truth, and a reader that finds the row behind the journal with nobody
/// catching it up reads the journal instead (<see cref="Row.UpToDate"/>).
/// </summary>
public sealed class StatusTable(LabStore database) : IDisposable
{
    /// <summary>How long a row may trail the journal while a live process works on the database: the coordinator
    /// rewrites it right after each durable batch (milliseconds), so a row older than this is not being kept.</summary>
    public static readonly TimeSpan MaxLag = TimeSpan.FromSeconds(2);

    /// <param name="SequenceNr">The journal sequence number the statuses are as of.</param>
    /// <param name="JournalSequenceNr">The journal's newest sequence number when the row was read.</param>
    public sealed record Row(long SequenceNr, DateTimeOffset Written, long JournalSequenceNr, IReadOnlyList<CampaignStatus> Campaigns)
    {
        /// <summary>Whether the row tells the journal's state: exactly, or (while <paramref name="live"/>: a process
        /// works on the database) as of at most <see cref="MaxLag"/> ago.</summary>
        public bool UpToDate(bool live, DateTimeOffset now) =>
            SequenceNr == JournalSequenceNr || (live && SequenceNr < JournalSequenceNr && now - Written <= MaxLag);
    }

    private DbConnection? _connection;

    /// <summary>Replaces the row (one statement, atomic). The connection stays open for the next write.</summary>
    public void Write(long sequenceNr, IEnumerable<CampaignStatus> campaigns, DateTimeOffset now)
    {
        if (_connection is null)
        {
            _connection = database.Open();
            // No sync per rewrite: a row lost to a power cut only sends readers to the journal, which the journal's
            // own writes keep durable.
            database.RelaxDurability(_connection);
        }
        using var command = _connection.CreateCommand();
        command.CommandText = """
            INSERT INTO lab_status (id, sequence_nr, written, campaigns) VALUES (1, @seq, @written, @campaigns)
            ON CONFLICT (id) DO UPDATE SET sequence_nr = excluded.sequence_nr, written = excluded.written, campaigns = excluded.campaigns;
            """;
        LabStore.AddParameter(command, "@seq", sequenceNr);
        LabStore.AddParameter(command, "@written", now.ToString("O", CultureInfo.InvariantCulture));
        LabStore.AddParameter(command, "@campaigns", JsonSerializer.Serialize(campaigns.ToList()));
        try
        {
            command.ExecuteNonQuery();
        }
        catch
        {
            // The connection may be dead (a database server restarted): the next write opens a new one.
            _connection.Dispose();
            _connection = null;
            throw;
        }
    }

    /// <summary>The row with the journal's newest sequence number of <paramref name="persistenceId"/>, read
    /// read-only; null where the database has no row (written before the table existed, or no coordinator ran).</summary>
    public static Row? Read(LabStore database, string persistenceId)
    {
        try
        {
            using var connection = database.OpenReadOnly();
            if (!database.TablesExist(connection, "lab_status", "journal")) return null;
            // One read transaction: the row and the journal's end as of the same moment.
            using var transaction = LabStore.BeginSnapshotRead(connection);
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = "SELECT sequence_nr, written, campaigns FROM lab_status WHERE id = 1;";
            long sequenceNr;
            DateTimeOffset written;
            List<CampaignStatus> campaigns;
            using (var reader = command.ExecuteReader())
            {
                if (!reader.Read()) return null;
                sequenceNr = reader.GetInt64(0);
                written = DateTimeOffset.Parse(reader.GetString(1), CultureInfo.InvariantCulture);
                campaigns = JsonSerializer.Deserialize<List<CampaignStatus>>(reader.GetString(2)) ?? [];
            }
            command.CommandText = "SELECT COALESCE(MAX(sequence_number), 0) FROM journal WHERE persistence_id = @id;";
            LabStore.AddParameter(command, "@id", persistenceId);
            var journal = Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
            return new Row(sequenceNr, written, journal, campaigns);
        }
        catch (DbException e)
        {
            throw database.Fault(e);
        }
    }

    public void Dispose() => _connection?.Dispose();
}
