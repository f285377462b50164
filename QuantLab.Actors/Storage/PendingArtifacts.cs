namespace QuantLab.Actors.Storage;

/// <summary>
/// One job's view of the store: what the job puts is kept here (and read back from here) until the job has
/// ended; then <see cref="Blobs"/> go to the store in one <see cref="IArtifactStore.PutAllAsync"/>, and the
/// job's result is reported once they are durable. So the job's thread never waits for a disk sync, and a
/// recorded result never names an artifact that a crash could still lose.
/// </summary>
public sealed class PendingArtifacts(IArtifactStore store) : IArtifactStore
{
    private readonly Dictionary<string, byte[]> _blobs = new(StringComparer.Ordinal);

    public IReadOnlyCollection<byte[]> Blobs => _blobs.Values;

    public string Put(ReadOnlySpan<byte> data)
    {
        var bytes = data.ToArray();
        var hash = DbArtifactStore.Hash(bytes);
        _blobs.TryAdd(hash, bytes);
        return hash;
    }

    public byte[] Get(string hash) => _blobs.TryGetValue(hash, out var bytes) ? bytes : store.Get(hash);

    public bool Contains(string hash) => _blobs.ContainsKey(hash) || store.Contains(hash);
}
