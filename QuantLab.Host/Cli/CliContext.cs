using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Configuration;
using QuantLab.Host.Configuration;

namespace QuantLab.Host.Cli;

/// <summary>What every verb gets: configuration, the output streams, and the JSON conventions.
/// stdout carries results (one JSON document with --json); progress and logs go to stderr.</summary>
public sealed class CliContext(IConfiguration configuration, TextWriter output, TextWriter error)
{
    public IConfiguration Configuration { get; } = configuration;
    public QuantLabOptions Options { get; } = AppConfiguration.Bind(configuration);
    public TextWriter Out { get; } = output;
    public TextWriter Err { get; } = error;

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public void WriteJson<T>(T document) => Out.WriteLine(JsonSerializer.Serialize(document, Json));

    /// <summary>Progress lines: to stdout normally, to stderr when stdout carries JSON.</summary>
    public Action<string> Progress(bool json) => json ? Err.WriteLine : Out.WriteLine;
}
