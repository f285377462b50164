using QuantLab.Engine.Data;
using QuantLab.Engine.Training;
using QuantLab.Host.Configuration;

namespace QuantLab.Host.Data;

/// <summary>MNIST as the host needs it: acquired per the <c>QuantLab:Data</c> options (and a directory given on the
/// command line), transformed to 32×32, normalized.</summary>
public static class MnistData
{
    public sealed record Loaded(LabeledImages Train, LabeledImages Test, string Transform, string Directory);

    /// <param name="dataDir">A directory given on the command line; overrides <c>QuantLab:Data:Dir</c>.</param>
    public static MnistDataOptions Options(DataOptions data, string? dataDir) => new()
    {
        Directory = dataDir ?? data.Dir,
        CacheDirectory = data.CacheDir,
        Mirrors = data.Mirrors is { Length: > 0 } mirrors ? mirrors : null,
        MirrorConnectTimeout = TimeSpan.FromSeconds(data.MirrorTimeoutSeconds),
        NpmPackage = data.NpmPackage,
    };

    /// <param name="transform">Overrides <c>QuantLab:Data:InputTransform</c>.</param>
    public static Loaded Load(DataOptions data, string? dataDir, string? transform, Action<string> log)
    {
        var parsed = transform is null
            ? MnistImages.ParseTransform(data.InputTransform, "QuantLab:Data:InputTransform")
            : MnistImages.ParseTransform(transform, "--input-transform");
        var directory = MnistAcquirer.FromOptions(Options(data, dataDir)).Acquire(log);
        var (train, test) = MnistImages.Load(directory, parsed);
        return new Loaded(train, test, MnistImages.Name(parsed), directory);
    }
}
