namespace QuantLab.Engine.Data;

/// <summary>Copies the files from a local directory (a shared drive, a test fixture).</summary>
public sealed class DirectorySource(string directory) : IMnistSource
{
    public string Directory { get; } = Path.GetFullPath(directory);

    public string Name => $"directory {Directory}";

    public async Task<string?> TryFetchAsync(IReadOnlyList<MnistFile> files, string directory, Action<string>? log, CancellationToken cancellationToken)
    {
        var missing = new List<string>();
        foreach (var file in files)
        {
            var from = Path.Combine(Directory, file.Name);
            if (!File.Exists(from))
            {
                missing.Add(file.Name);
                continue;
            }
            await using var source = File.OpenRead(from);
            await using var target = new FileStream(Path.Combine(directory, file.Name), FileMode.CreateNew, FileAccess.Write);
            await source.CopyToAsync(target, cancellationToken);
        }
        return missing.Count == 0 ? null : $"no {string.Join(", ", missing)} there";
    }
}
