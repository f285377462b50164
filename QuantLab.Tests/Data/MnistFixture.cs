using System.Security.Cryptography;
using QuantLab.Engine.Data;

namespace QuantLab.Tests.Data;

/// <summary>
/// A tiny MNIST-format data set (5 training and 3 test images) written into a directory, with a
/// <see cref="MnistFileSet"/> holding its own hashes.
/// </summary>
internal sealed class MnistFixture
{
    public const int TrainCount = 5, TestCount = 3;

    public MnistFixture(int seed = 7)
    {
        var random = new Random(seed);
        Contents = new Dictionary<string, byte[]>
        {
            ["train-images-idx3-ubyte"] = Idx.Bytes([TrainCount, 28, 28], Idx.Pattern(TrainCount * 784, seed)),
            ["train-labels-idx1-ubyte"] = Idx.Bytes([TrainCount], Enumerable.Range(0, TrainCount).Select(_ => (byte)random.Next(10)).ToArray()),
            ["t10k-images-idx3-ubyte"] = Idx.Bytes([TestCount, 28, 28], Idx.Pattern(TestCount * 784, seed + 1)),
            ["t10k-labels-idx1-ubyte"] = Idx.Bytes([TestCount], Enumerable.Range(0, TestCount).Select(_ => (byte)random.Next(10)).ToArray()),
        };
        MnistFile F(string name) => new(name, Convert.ToHexStringLower(SHA256.HashData(Contents[name])));
        Files = new MnistFileSet(F("train-images-idx3-ubyte"), F("train-labels-idx1-ubyte"), F("t10k-images-idx3-ubyte"), F("t10k-labels-idx1-ubyte"));
    }

    public Dictionary<string, byte[]> Contents { get; }

    public MnistFileSet Files { get; }

    public IEnumerable<string> Names => Files.All.Select(f => f.Name);

    /// <summary>Writes the four raw files into <paramref name="directory"/> (created if needed).</summary>
    public string WriteTo(string directory)
    {
        Directory.CreateDirectory(directory);
        foreach (var (name, bytes) in Contents) File.WriteAllBytes(Path.Combine(directory, name), bytes);
        return directory;
    }

    /// <summary>Asserts that <paramref name="directory"/> holds exactly the four raw files, and nothing else.</summary>
    public void AssertHoldsExactly(string directory)
    {
        Assert.Equal(Names.Order(), Directory.EnumerateFileSystemEntries(directory).Select(Path.GetFileName).Order());
        foreach (var (name, bytes) in Contents) Assert.Equal(bytes, File.ReadAllBytes(Path.Combine(directory, name)));
    }
}

/// <summary>A source the test expects never to be asked.</summary>
internal sealed class ForbiddenSource : IMnistSource
{
    public string Name => "forbidden";

    public Task<string?> TryFetchAsync(IReadOnlyList<MnistFile> files, string directory, Action<string>? log, CancellationToken cancellationToken) =>
        throw new Xunit.Sdk.XunitException("this source must not be asked");
}

/// <summary>A source that writes fixed bytes for every file it is asked for, and records the requests.</summary>
internal sealed class BytesSource(string name, Func<string, byte[]?> content) : IMnistSource
{
    public List<string[]> Requests { get; } = [];

    public string Name => name;

    public Task<string?> TryFetchAsync(IReadOnlyList<MnistFile> files, string directory, Action<string>? log, CancellationToken cancellationToken)
    {
        Requests.Add(files.Select(f => f.Name).ToArray());
        foreach (var f in files)
            if (content(f.Name) is { } bytes) File.WriteAllBytes(Path.Combine(directory, f.Name), bytes);
        return Task.FromResult<string?>(null);
    }
}
