namespace QuantLab.Engine;

/// <summary>
/// The message and exit code of a file-system fault, by its cause: a full disk and read-only storage are
/// named as such (with the path), so the user fixes the right thing; .NET on Linux puts the raw errno in an
/// IOException's HResult, and maps EACCES/EPERM to UnauthorizedAccessException.
/// </summary>
public static class StorageFault
{
    private const int ReadOnlyFileSystem = 30, NoSpace = 28, QuotaExceeded = 122; // Linux EROFS, ENOSPC, EDQUOT

    public static bool IsDiskFull(Exception e) => e is IOException { HResult: NoSpace or QuotaExceeded };

    public static bool IsReadOnly(Exception e) => e is UnauthorizedAccessException or IOException { HResult: ReadOnlyFileSystem };

    /// <summary>The error for a fault at <paramref name="path"/> (exit 3: the environment, not the input).</summary>
    public static InfrastructureException Of(string path, Exception e) => e switch
    {
        _ when IsDiskFull(e) => DiskFull(path, e),
        _ when IsReadOnly(e) => ReadOnly(path, e),
        _ => new InfrastructureException($"{path}: {e.Message}", e),
    };

    /// <summary>Whether a file can be created in <paramref name="directory"/>: asked only after a failure, to name
    /// its cause (the probe file is deleted on close).</summary>
    public static bool CanWriteIn(string directory)
    {
        try
        {
            using var probe = new FileStream(Path.Combine(directory, $".quantlab-probe-{Guid.NewGuid():N}"), FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose);
            return true;
        }
        catch (Exception e) when (IsReadOnly(e))
        {
            return false;
        }
        catch (IOException)
        {
            return true;   // another fault (a full disk, say): not a read-only location
        }
    }

    /// <summary>Whether the file system holding <paramref name="directory"/> has (next to) no space left for
    /// this user: SQLite reports some failed writes as mere I/O errors (growing its shared-memory index, say).</summary>
    public static bool NoSpaceAt(string directory)
    {
        try
        {
            return new DriveInfo(directory).AvailableFreeSpace < 1 << 20;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return false;
        }
    }

    public static InfrastructureException DiskFull(string path, Exception? e = null) =>
        new($"disk full: no space left for {path}; free some space and run again (nothing finished is lost)", e);

    public static InfrastructureException ReadOnly(string path, Exception? e = null) =>
        new($"{path} is read-only (read-only file system or no write permission); give a writable --db", e);
}
