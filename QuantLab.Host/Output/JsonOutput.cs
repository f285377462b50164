using System.Text.Json;
using System.Text.Json.Serialization;

namespace QuantLab.Host.Output;

/// <summary>The JSON conventions of everything QuantLab prints or writes as JSON (a verb's <c>--json</c> document,
/// the report's JSON): camelCase names, indented, nulls left out, NaN and infinities as named literals.</summary>
public static class JsonOutput
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static string Serialize<T>(T document) => JsonSerializer.Serialize(document, Options);
}
