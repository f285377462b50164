namespace QuantLab.Actors.Storage;

/// <summary>
/// Content-addressed blobs (weights, calibration ranges): the key of a blob is the SHA-256 of its bytes
/// (lowercase hex). Reads verify the hash. Synchronous on purpose: jobs call it from their dedicated thread.
/// </summary>
public interface IArtifactStore
{
    /// <summary>Stores the bytes (once, however often they are put) and returns their hash.</summary>
    string Put(ReadOnlySpan<byte> data);

    /// <summary>The bytes of <paramref name="hash"/>, verified; throws <see cref="ArtifactNotFoundException"/> or <see cref="ArtifactCorruptException"/>.</summary>
    byte[] Get(string hash);

    bool Contains(string hash);

    /// <summary>Stores several blobs; they are durable when the task completes (a store may write them in one transaction, with others').</summary>
    Task PutAllAsync(IReadOnlyCollection<byte[]> blobs)
    {
        foreach (var blob in blobs) Put(blob);
        return Task.CompletedTask;
    }
}

public sealed class ArtifactNotFoundException(string hash)
    : QuantLab.Engine.InfrastructureException($"artifact {hash} is not in the store");

public sealed class ArtifactCorruptException(string hash, string where)
    : QuantLab.Engine.InfrastructureException($"artifact {hash} read from {where} does not match its hash");
