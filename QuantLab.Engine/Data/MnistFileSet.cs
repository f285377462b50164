using System.Security.Cryptography;
using System.Text;

namespace QuantLab.Engine.Data;

/// <summary>One file of an MNIST-format data set: its standard name and the SHA-256 of its raw (uncompressed) content.</summary>
public sealed record MnistFile(string Name, string Sha256);

/// <summary>
/// The four files of an MNIST-format data set and their expected hashes. <see cref="Standard"/> is
/// the real MNIST; tests build sets of small fixture files with their own hashes.
/// </summary>
public sealed class MnistFileSet
{
    public static MnistFileSet Standard { get; } = new(
        new MnistFile("train-images-idx3-ubyte", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
        new MnistFile("train-labels-idx1-ubyte", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
        new MnistFile("t10k-images-idx3-ubyte", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
        new MnistFile("t10k-labels-idx1-ubyte", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"));

    public MnistFileSet(MnistFile trainImages, MnistFile trainLabels, MnistFile testImages, MnistFile testLabels)
    {
        TrainImages = trainImages;
        TrainLabels = trainLabels;
        TestImages = testImages;
        TestLabels = testLabels;
        All = [trainImages, trainLabels, testImages, testLabels];
        foreach (var f in All)
        {
            if (string.IsNullOrWhiteSpace(f.Name) || f.Name != Path.GetFileName(f.Name))
                throw new ArgumentException($"'{f.Name}' is not a plain file name");
            if (f.Sha256.Length != 64 || !f.Sha256.All(Uri.IsHexDigit))
                throw new ArgumentException($"{f.Name}: '{f.Sha256}' is not a SHA-256 in hex");
        }
        if (All.Select(f => f.Name).Distinct().Count() != All.Count)
            throw new ArgumentException("the four file names must differ");
    }

    public MnistFile TrainImages { get; }
    public MnistFile TrainLabels { get; }
    public MnistFile TestImages { get; }
    public MnistFile TestLabels { get; }

    /// <summary>The four files: train images, train labels, test images, test labels.</summary>
    public IReadOnlyList<MnistFile> All { get; }

    /// <summary>
    /// Identifies the data set's content (a SHA-256 over the files' names and hashes), for job keys.
    /// </summary>
    public string Fingerprint =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join("\n", All.Select(f => $"{f.Name} {f.Sha256.ToLowerInvariant()}")))));

    /// <summary>
    /// SHA-256 (lower-case hex) of a file's raw content: a gzip-compressed file (by its magic bytes)
    /// is hashed after decompression, so the expected hashes hold for both forms.
    /// </summary>
    public static string HashContent(string path)
    {
        using var content = IdxReader.OpenContent(path);
        return Convert.ToHexStringLower(SHA256.HashData(content));
    }

    /// <summary>
    /// Checks one file in <paramref name="directory"/>. Returns null when it is present and its
    /// content hash matches, or the problem ("missing", "SHA-256 is …, expected …").
    /// </summary>
    public static string? Check(string directory, MnistFile file)
    {
        var path = Path.Combine(directory, file.Name);
        if (!File.Exists(path))
        {
            return File.Exists(path + ".gz")
                ? $"missing (found {file.Name}.gz; rename it to {file.Name}, compressed content is accepted)"
                : "missing";
        }
        string actual;
        try
        {
            actual = HashContent(path);
        }
        catch (InvalidDataException e)
        {
            return $"corrupt gzip data: {e.Message}";
        }
        catch (IOException e)
        {
            return $"cannot read: {e.Message}";
        }
        catch (UnauthorizedAccessException e)
        {
            return $"cannot read: {e.Message}";
        }
        return string.Equals(actual, file.Sha256, StringComparison.OrdinalIgnoreCase)
            ? null
            : $"SHA-256 is {actual}, expected {file.Sha256.ToLowerInvariant()}";
    }
}
