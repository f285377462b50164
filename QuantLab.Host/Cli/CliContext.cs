using Microsoft.Extensions.Configuration;
using QuantLab.Host.Configuration;
using QuantLab.Host.Output;

namespace QuantLab.Host.Cli;

/// <summary>What every verb gets: configuration (bound and validated), the output streams, and JSON output (<see cref="JsonOutput"/>).
/// stdout carries results (one JSON document with --json); progress and logs go to stderr.</summary>
public sealed class CliContext(IConfiguration configuration, TextWriter output, TextWriter error)
{
    public IConfiguration Configuration { get; } = configuration;
    public QuantLabOptions Options { get; } = AppConfiguration.Bind(configuration);
    public TextWriter Out { get; } = output;
    public TextWriter Err { get; } = error;

    public void WriteJson<T>(T document) => Out.WriteLine(JsonOutput.Serialize(document));

    /// <summary>Progress lines: to stdout normally, to stderr when stdout carries JSON.</summary>
    public Action<string> Progress(bool json) => json ? Err.WriteLine : Out.WriteLine;
}
