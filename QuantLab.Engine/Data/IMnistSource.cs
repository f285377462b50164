namespace QuantLab.Engine.Data;

/// <summary>
/// A place MNIST files can be fetched from (a mirror, an npm package, a local directory). The
/// <see cref="MnistAcquirer"/> tries its sources in order and verifies everything they deliver, so a
/// source only has to get bytes: it never decides whether they are right.
/// </summary>
public interface IMnistSource
{
    /// <summary>Names the source in logs and error messages (e.g. the mirror's URL).</summary>
    string Name { get; }

    /// <summary>
    /// Writes as many of <paramref name="files"/> as it can into <paramref name="directory"/> (an
    /// empty temporary directory), each under its <see cref="MnistFile.Name"/>, raw or
    /// gzip-compressed. Returns null when it wrote every file, otherwise why not (a file it wrote is
    /// still used if it verifies). May throw; the acquirer reports the exception's message and moves on.
    /// </summary>
    Task<string?> TryFetchAsync(IReadOnlyList<MnistFile> files, string directory, Action<string>? log, CancellationToken cancellationToken);
}
