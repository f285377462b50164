namespace QuantLab.Engine;

/// <summary>Write-then-rename helpers, so that a crash or an error never leaves a half-written file or directory.</summary>
public static class AtomicFile
{
    /// <summary>A temporary sibling path of <paramref name="path"/> (same directory, so the rename is atomic).</summary>
    public static string TempSibling(string path) =>
        Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, $".{Path.GetFileName(path)}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}");

    /// <summary>Writes a file through a temporary sibling, then renames it into place.</summary>
    /// <param name="mode">The file's Unix permissions from its creation on (a secret: owner only); null: the process's default.</param>
    public static void Write(string path, Action<Stream> write, UnixFileMode? mode = null)
    {
        var tmp = TempSibling(path);
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (mode is { } m && !OperatingSystem.IsWindows()) options.UnixCreateMode = m;
            using (var stream = new FileStream(tmp, options))
                write(stream);
            File.Move(tmp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }

    public static void WriteAllText(string path, string text, UnixFileMode? mode = null) =>
        Write(path, s => { using var w = new StreamWriter(s); w.Write(text); }, mode);

    /// <summary>
    /// Fills a temporary sibling directory, then renames it to <paramref name="directory"/>, replacing
    /// an existing one only once the new one is complete.
    /// </summary>
    public static void WriteDirectory(string directory, Action<string> fill)
    {
        var full = Path.GetFullPath(directory);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var tmp = TempSibling(full);
        Directory.CreateDirectory(tmp);
        try
        {
            fill(tmp);
            if (Directory.Exists(full))
            {
                var old = TempSibling(full);
                Directory.Move(full, old);
                Directory.Move(tmp, full);
                Directory.Delete(old, recursive: true);
            }
            else
            {
                Directory.Move(tmp, full);
            }
        }
        finally
        {
            if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
        }
    }
}
