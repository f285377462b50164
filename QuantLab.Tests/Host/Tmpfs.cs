using System.Diagnostics;

namespace QuantLab.Tests.Host;

/// <summary>A small tmpfs mounted on a fresh directory (the tests run as root), to give the lab a disk that
/// fills up or turns read-only; unmounted and removed on dispose. A machine where mount is impossible fails
/// the test with the reason: these faults are not to be skipped.</summary>
public sealed class Tmpfs : IDisposable
{
    public string Dir { get; } = Directory.CreateTempSubdirectory("ql-tmpfs-").FullName;

    public Tmpfs(string size)
    {
        var (code, output) = Exec("mount", "-t", "tmpfs", "-o", $"size={size}", "tmpfs", Dir);
        Assert.True(code == 0, $"cannot mount a tmpfs on {Dir} (these tests need root and mount(8)): {output}");
    }

    public string File(string name) => Path.Combine(Dir, name);

    /// <summary>Remounts read-only. The kernel refuses (EBUSY) while any file on the disk is open for writing.
    /// The in-process verb's actor system closes its SQLite connections after the verb returns, with no event a
    /// test can await (a single try failed in a full run, naming this process's lab.db handles), so this collects
    /// and retries for a while, then names the files still open.</summary>
    public void RemountReadOnly()
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            GC.Collect();
            GC.WaitForPendingFinalizers();
            var (code, output) = Exec("mount", "-o", "remount,ro", Dir);
            if (code == 0) return;
            if (DateTime.UtcNow > deadline)
                Assert.Fail($"cannot remount {Dir} read-only: {output}; open: {string.Join(", ", OpenFilesOnDisk())}");
            Thread.Sleep(200);
        }
    }

    /// <summary>The files on this disk that any process holds open, from /proc/*/fd (a child of another test
    /// may have inherited a descriptor).</summary>
    private IEnumerable<string> OpenFilesOnDisk()
    {
        foreach (var proc in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(proc), out var pid)) continue;
            string[] fds;
            try { fds = Directory.GetFileSystemEntries(Path.Combine(proc, "fd")); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
            foreach (var fd in fds)
            {
                string? target = null;
                try { target = new FileInfo(fd).LinkTarget; } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
                if (target != null && target.StartsWith(Dir + "/", StringComparison.Ordinal))
                    yield return $"{target} (pid {pid}{(pid == Environment.ProcessId ? ", this process" : "")})";
            }
        }
    }

    /// <summary>Writes a file until the disk has no space left (ENOSPC).</summary>
    public string Fill()
    {
        var path = File("filler");
        var block = new byte[64 * 1024];
        using var filler = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1);
        try
        {
            while (true) filler.Write(block);
        }
        catch (IOException)
        {
            // Full to the last byte: small writes may still fit a partial block.
            try { while (true) filler.Write(block, 0, 512); } catch (IOException) { }
        }
        return path;
    }

    private static (int Code, string Output) Exec(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        try
        {
            using var p = Process.Start(start)!;
            var output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
            p.WaitForExit();
            return (p.ExitCode, output);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, e.Message);
        }
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Exec("umount", "-l", Dir);
        Directory.Delete(Dir, true);
    }
}
