using System.Globalization;
using System.Net;
using Microsoft.Extensions.Options;
using QuantLab.Actors.Workers;
using QuantLab.Engine;
using QuantLab.Engine.Data;

namespace QuantLab.Host.Configuration;

/// <summary>
/// The allowed values of every <c>QuantLab:…</c> setting, checked when the configuration is bound (the CLI's verbs)
/// and when a lab host starts (<c>ValidateOnStart</c>). Each failure names the setting by its configuration path, so
/// <c>QuantLab:Orchestration:Workers = 0</c> reads "QuantLab:Orchestration:Workers must be >= 1 (got 0)".
/// </summary>
public sealed class QuantLabOptionsValidator : IValidateOptions<QuantLabOptions>
{
    public ValidateOptionsResult Validate(string? name, QuantLabOptions options)
    {
        var failures = Failures(options).ToList();
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>Throws <see cref="BadInputException"/> (exit 2) listing every failure.</summary>
    public static void ThrowIfInvalid(QuantLabOptions options)
    {
        var failures = Failures(options).ToList();
        if (failures.Count > 0) throw new BadInputException(string.Join("; ", failures));
    }

    public static IEnumerable<string> Failures(QuantLabOptions o)
    {
        const string data = QuantLabOptions.Section + ":Data:", orchestration = QuantLabOptions.Section + ":Orchestration:", cluster = QuantLabOptions.Section + ":Cluster:";
        if (!IsTransform(o.Data.InputTransform))
            yield return $"{data}InputTransform is '{o.Data.InputTransform}'; allowed: {MnistImages.AllowedTransforms}";
        if (AtLeast(data + "MirrorTimeoutSeconds", o.Data.MirrorTimeoutSeconds, 1) is { } timeout) yield return timeout;
        if (string.IsNullOrWhiteSpace(o.Data.NpmPackage)) yield return $"{data}NpmPackage must not be empty";
        if (AtLeast(QuantLabOptions.Section + ":Training:Threads", o.Training.Threads, 1) is { } threads) yield return threads;
        const string storage = QuantLabOptions.Section + ":Storage:";
        if (string.IsNullOrWhiteSpace(o.Storage.Database)) yield return $"{storage}Database must not be empty";
        if (o.Storage.Provider is not ("sqlite" or "postgresql"))
            yield return $"{storage}Provider is '{o.Storage.Provider}'; allowed: {QuantLab.Actors.Storage.LabStore.AllowedProviders}";
        else if (o.Storage.Provider == "postgresql" && string.IsNullOrWhiteSpace(o.Storage.ConnectionString) == string.IsNullOrWhiteSpace(o.Storage.ConnectionStringFile))
            yield return $"{storage}Provider is postgresql: set exactly one of {storage}ConnectionString (e.g. the environment variable QUANTLAB__STORAGE__CONNECTIONSTRING) and {storage}ConnectionStringFile";

        var run = o.Orchestration;
        if (AtLeast(orchestration + "Workers", run.Workers, 1) is { } workers) yield return workers;
        else if (run.Workers > 256) yield return $"{orchestration}Workers must be <= 256 (got {run.Workers})";
        if (run.Executor != "engine" && SyntheticJobExecutor.FromSetting(run.Executor ?? "") is null)
            yield return $"{orchestration}Executor is '{run.Executor}'; allowed: engine, synthetic, synthetic:MS";
        if (AtLeast(orchestration + "MaxAttempts", run.MaxAttempts, 1) is { } attempts) yield return attempts;
        foreach (var (key, value) in new[]
                 {
                     ("LeaseSeconds", run.LeaseSeconds), ("HeartbeatSeconds", run.HeartbeatSeconds),
                     ("RegisterSeconds", run.RegisterSeconds), ("ResendSeconds", run.ResendSeconds),
                 })
            if (Positive(orchestration + key, value) is { } failure) yield return failure;
        if (run.HeartbeatSeconds > 0 && run.LeaseSeconds > 0 && run.HeartbeatSeconds >= run.LeaseSeconds)
            yield return $"{orchestration}HeartbeatSeconds must be less than {orchestration}LeaseSeconds (got {Text(run.HeartbeatSeconds)} and {Text(run.LeaseSeconds)}): a running job would lose its lease between heartbeats";
        if (AtLeast(orchestration + "TorchThreads", run.TorchThreads, 1) is { } torch) yield return torch;
        if (AtLeast(orchestration + "LeaseBatch", run.LeaseBatch, 1) is { } batch) yield return batch;
        if (AtLeast(orchestration + "SnapshotEvery", run.SnapshotEvery, 1) is { } snapshots) yield return snapshots;
        if (run.MaxPlannedJobs < 1) yield return $"{orchestration}MaxPlannedJobs must be >= 1 (got {run.MaxPlannedJobs})";
        if (run.ProgressSeconds < 0 || !double.IsFinite(run.ProgressSeconds))
            yield return $"{orchestration}ProgressSeconds must be >= 0 (got {Text(run.ProgressSeconds)})";

        if (!IPAddress.TryParse(o.Cluster.Hostname ?? "", out _))
            yield return $"{cluster}Hostname '{o.Cluster.Hostname}' is not an IP address";
        if (o.Cluster.PublicHostname is { } publicHost && string.IsNullOrWhiteSpace(publicHost))
            yield return $"{cluster}PublicHostname must not be empty (leave it null to advertise {cluster}Hostname)";
        var tls = o.Cluster.Tls;
        if (tls.Configured() && new[] { ("Certificate", tls.Certificate), ("Key", tls.Key), ("CaCertificate", tls.CaCertificate) }
                .Where(s => string.IsNullOrWhiteSpace(s.Item2)).Select(s => cluster + "Tls:" + s.Item1).ToList() is { Count: > 0 } missing)
            yield return $"{cluster}Tls: set Certificate, Key and CaCertificate together (missing: {string.Join(", ", missing)})";
        foreach (var (key, value) in new[]
                 {
                     ("HeartbeatIntervalSeconds", o.Cluster.HeartbeatIntervalSeconds), ("AcceptableHeartbeatPauseSeconds", o.Cluster.AcceptableHeartbeatPauseSeconds),
                     ("StableAfterSeconds", o.Cluster.StableAfterSeconds), ("JoinTimeoutSeconds", o.Cluster.JoinTimeoutSeconds),
                 })
            if (Positive(cluster + key, value) is { } failure) yield return failure;
    }

    private static bool IsTransform(string? name)
    {
        try
        {
            MnistImages.ParseTransform(name);
            return true;
        }
        catch (BadInputException)
        {
            return false;
        }
    }

    private static string? AtLeast(string key, int value, int min) => value < min ? $"{key} must be >= {min} (got {value})" : null;

    private static string? Positive(string key, double value) =>
        value > 0 && double.IsFinite(value) ? null : $"{key} must be > 0 (got {Text(value)})";

    private static string Text(double value) => value.ToString(CultureInfo.InvariantCulture);
}
