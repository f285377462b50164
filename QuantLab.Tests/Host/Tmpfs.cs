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

    public void RemountReadOnly()
    {
        var (code, output) = Exec("mount", "-o", "remount,ro", Dir);
        Assert.True(code == 0, $"cannot remount {Dir} read-only: {output}");
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
