using QuantLab.Engine.Data;
using QuantLab.Host.Data;

namespace QuantLab.Host.Cli;

/// <summary>MNIST for a verb: <see cref="MnistData"/> with the verb's configuration.</summary>
public static class DataAccess
{
    public static MnistDataOptions Options(CliContext ctx, string? dataDir) => MnistData.Options(ctx.Options.Data, dataDir);

    public static MnistData.Loaded Load(CliContext ctx, string? dataDir, string? transform, Action<string> log) =>
        MnistData.Load(ctx.Options.Data, dataDir, transform, log);
}
