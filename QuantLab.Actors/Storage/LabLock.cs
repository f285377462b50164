using QuantLab.Engine;

namespace QuantLab.Actors.Storage;

/// <summary>
/// Which processes hold a lab's SQLite file, through an advisory lock (flock, which .NET takes for a FileStream on
/// Unix: exclusive for <see cref="FileShare.None"/>, shared otherwise) on the file <c>DB.run-lock</c> beside it.
/// A <c>run</c> holds it exclusively (two single-process coordinators on one journal would interleave); a
/// <c>node</c> holds it shared (the nodes of one cluster share the database, and a <c>run</c> must not join
/// them). The kernel drops the lock when its process dies, even by kill -9, so a reader can tell a campaign
/// that is running from one whose process is gone.
/// </summary>
public sealed class LabLock : IDisposable
{
    /// <summary>Linux's EWOULDBLOCK: .NET puts the raw errno in an IOException's HResult, and this one means
    /// another process holds the lock (EROFS, ENOSPC and the rest are other faults).</summary>
    private const int WouldBlock = 11;

    private readonly FileStream _file;

    private LabLock(FileStream file) => _file = file;

    public static string PathOf(string databasePath) => Path.GetFullPath(databasePath) + ".run-lock";

    /// <summary>For <c>run</c>: this process alone.</summary>
    public static LabLock AcquireExclusive(SqliteLabStore store) => Acquire(store.Path, FileShare.None);

    /// <summary>For <c>node</c>: with the other nodes of its cluster, without a <c>run</c>.</summary>
    public static LabLock AcquireShared(SqliteLabStore store) => Acquire(store.Path, FileShare.ReadWrite);

    private static LabLock Acquire(string databasePath, FileShare share)
    {
        var path = PathOf(databasePath);
        IOException? busy = null;
        return LabStore.TakeRunLock(() =>
        {
            try
            {
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                return new LabLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, share));
            }
            catch (IOException e) when (e.HResult == WouldBlock)
            {
                busy = e;
                return null;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw StorageFault.Of($"database {databasePath}", e);
            }
        }, () => new InfrastructureException($"database {databasePath} is in use by another " +
            (share == FileShare.None ? "'quantlab run' or 'quantlab node'" : "'quantlab run'") + $" (it holds {path})", busy));
    }

    /// <summary>
    /// Whether a live <c>run</c> or <c>node</c> holds the database; null when that cannot be told (the lock file
    /// cannot be opened). Takes the lock exclusively for a moment, without creating anything.
    /// </summary>
    public static bool? IsHeld(string databasePath)
    {
        var path = PathOf(databasePath);
        if (!File.Exists(path)) return false;
        try
        {
            using var probe = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.None);
            return false;
        }
        catch (IOException e) when (e.HResult == WouldBlock)
        {
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    public void Dispose() => _file.Dispose();
}
