using System.Security.Cryptography;
using Microsoft.Data.Sqlite;
using QuantLab.Engine;

namespace QuantLab.Actors.Storage;

/// <summary>
/// Artifacts in the lab database's <c>artifacts</c> table, with a per-node file cache in front of it
/// (one file per hash). Both are verified on every read: a corrupt cache file is dropped and read again
/// from the database; a corrupt database row is an error. Thread-safe: one connection per call.
/// </summary>
public sealed class SqliteArtifactStore(string databasePath, string? cacheDirectory = null) : IArtifactStore
{
    public string Put(ReadOnlySpan<byte> data)
    {
        var hash = Hash(data);
        using var connection = LabDatabase.Open(databasePath);
        using var insert = connection.CreateCommand();
        insert.CommandText = "INSERT OR IGNORE INTO artifacts (hash, size, data, created) VALUES ($hash, $size, $data, $created);";
        insert.Parameters.AddWithValue("$hash", hash);
        insert.Parameters.AddWithValue("$size", data.Length);
        insert.Parameters.Add("$data", SqliteType.Blob).Value = data.ToArray();
        insert.Parameters.AddWithValue("$created", DateTimeOffset.UtcNow.ToString("O"));
        insert.ExecuteNonQuery();
        return hash;
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
        using var connection = LabDatabase.Open(databasePath);
        using var select = connection.CreateCommand();
        select.CommandText = "SELECT data FROM artifacts WHERE hash = $hash;";
        select.Parameters.AddWithValue("$hash", hash);
        var data = select.ExecuteScalar() as byte[] ?? throw new ArtifactNotFoundException(hash);
        if (Hash(data) != hash) throw new ArtifactCorruptException(hash, $"database {databasePath}");
        if (cached is not null)
        {
            Directory.CreateDirectory(cacheDirectory!);
            AtomicFile.Write(cached, s => s.Write(data));
        }
        return data;
    }

    public bool Contains(string hash)
    {
        using var connection = LabDatabase.Open(databasePath);
        using var select = connection.CreateCommand();
        select.CommandText = "SELECT COUNT(*) FROM artifacts WHERE hash = $hash;";
        select.Parameters.AddWithValue("$hash", hash);
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
