using System.Security.Cryptography;
using System.Data.Common;
using QuantLab.Engine;

namespace QuantLab.Actors.Storage;

/// <summary>
/// Artifacts in the lab database's <c>artifacts</c> table (SQLite or PostgreSQL: the same SQL), with a per-node file
/// cache in front of it (one file per hash), so a node on another machine needs nothing but the database. Both are verified on every read: a corrupt cache file is dropped and read again
/// from the database; a corrupt database row is an error. Thread-safe.
/// </summary>
/// <remarks>
/// Writes are group-committed: puts that arrive while a transaction is being written wait and go into the next
/// one, on the writer's one connection, so a transaction's cost (its sync to disk) is shared by every job that
/// finished meanwhile instead of paid per artifact.
/// </remarks>
/// <param name="cacheDirectory">The node's cache; null: none (readers such as <c>export</c>).</param>
public sealed class DbArtifactStore(LabStore database, string? cacheDirectory = null) : IArtifactStore
{
    private readonly Lock _gate = new();
    private List<(IReadOnlyCollection<byte[]> Blobs, TaskCompletionSource Stored)> _queued = [];
    private bool _writing;

    public string Put(ReadOnlySpan<byte> data)
    {
        var bytes = data.ToArray();
        PutAllAsync([bytes]).GetAwaiter().GetResult();
        return Hash(bytes);
    }

    public Task PutAllAsync(IReadOnlyCollection<byte[]> blobs)
    {
        if (blobs.Count == 0) return Task.CompletedTask;
        var stored = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            _queued.Add((blobs, stored));
            if (_writing) return stored.Task;   // the running writer takes it in its next transaction
            _writing = true;
        }
        Task.Run(WriteQueued);
        return stored.Task;
    }

    /// <summary>Writes what is queued, one transaction per round, until nothing is left.</summary>
    private void WriteQueued()
    {
        DbConnection? connection = null;
        try
        {
            while (true)
            {
                List<(IReadOnlyCollection<byte[]> Blobs, TaskCompletionSource Stored)> batch;
                lock (_gate)
                {
                    if (_queued.Count == 0) { _writing = false; return; }
                    batch = _queued;
                    _queued = [];
                }
                try
                {
                    connection ??= database.Open();
                    Insert(connection, batch.SelectMany(b => b.Blobs));
                    foreach (var b in batch) b.Stored.SetResult();
                }
                catch (Exception e)
                {
                    foreach (var b in batch) b.Stored.SetException(e);
                    connection?.Dispose();   // the next round starts on a fresh connection
                    connection = null;
                }
            }
        }
        finally
        {
            connection?.Dispose();
        }
    }

    private static void Insert(DbConnection connection, IEnumerable<byte[]> blobs)
    {
        using var transaction = connection.BeginTransaction();
        using var insert = connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = "INSERT INTO artifacts (hash, size, data, created) VALUES (@hash, @size, @data, @created) ON CONFLICT (hash) DO NOTHING;";
        var hash = LabStore.AddParameter(insert, "@hash", "");
        var size = LabStore.AddParameter(insert, "@size", 0L);
        var data = LabStore.AddParameter(insert, "@data", Array.Empty<byte>());
        var created = LabStore.AddParameter(insert, "@created", "");
        foreach (var blob in blobs)
        {
            hash.Value = Hash(blob);
            size.Value = (long)blob.Length;
            data.Value = blob;
            created.Value = DateTimeOffset.UtcNow.ToString("O");
            insert.ExecuteNonQuery();
        }
        transaction.Commit();
    }

    public byte[] Get(string hash)
    {
        var cached = CachePath(hash);
        if (cached is not null && File.Exists(cached))
        {
            var bytes = File.ReadAllBytes(cached);
            if (Hash(bytes) == hash) return bytes;
            File.Delete(cached);   // a damaged cache file is only a cache miss
        }
        using var connection = database.Open();
        using var select = connection.CreateCommand();
        select.CommandText = "SELECT data FROM artifacts WHERE hash = @hash;";
        LabStore.AddParameter(select, "@hash", hash);
        var data = select.ExecuteScalar() as byte[] ?? throw new ArtifactNotFoundException(hash);
        if (Hash(data) != hash) throw new ArtifactCorruptException(hash, database.Name);
        if (cached is not null)
        {
            Directory.CreateDirectory(cacheDirectory!);
            AtomicFile.Write(cached, s => s.Write(data));
        }
        return data;
    }

    public bool Contains(string hash)
    {
        using var connection = database.Open();
        using var select = connection.CreateCommand();
        select.CommandText = "SELECT COUNT(*) FROM artifacts WHERE hash = @hash;";
        LabStore.AddParameter(select, "@hash", hash);
        return Convert.ToInt64(select.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) > 0;
    }

    public static string Hash(ReadOnlySpan<byte> data) => Convert.ToHexStringLower(SHA256.HashData(data));

    private string? CachePath(string hash)
    {
        if (cacheDirectory is null) return null;
        if (hash.Length != 64 || !hash.All(char.IsAsciiHexDigitLower)) throw new ArtifactNotFoundException(hash);
        return Path.Combine(cacheDirectory, hash);
    }
}
