using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace QuantLab.Engine.Jobs;

/// <summary>
/// One spelling per JSON value, so equal parameters hash equally: object keys sorted ordinally,
/// no whitespace, integral numbers without a fraction, other numbers in shortest round-trip form
/// ("R", invariant culture), strings escaped the same way every time.
/// </summary>
public static class CanonicalJson
{
    private static readonly JsonWriterOptions Options = new()
    {
        Indented = false,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static string Write(JsonNode? node)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, Options))
            WriteNode(writer, node);
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    public static string Sha256Hex(string text) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    private static void WriteNode(Utf8JsonWriter w, JsonNode? node)
    {
        switch (node)
        {
            case null:
                w.WriteNullValue();
                break;
            case JsonObject obj:
                w.WriteStartObject();
                foreach (var (name, value) in obj.OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    w.WritePropertyName(name);
                    WriteNode(w, value);
                }
                w.WriteEndObject();
                break;
            case JsonArray array:
                w.WriteStartArray();
                foreach (var item in array) WriteNode(w, item);
                w.WriteEndArray();
                break;
            case JsonValue value:
                WriteValue(w, value);
                break;
        }
    }

    private static void WriteValue(Utf8JsonWriter w, JsonValue value)
    {
        switch (value.GetValueKind())
        {
            case JsonValueKind.String: w.WriteStringValue(value.GetValue<string>()); break;
            case JsonValueKind.True: w.WriteBooleanValue(true); break;
            case JsonValueKind.False: w.WriteBooleanValue(false); break;
            case JsonValueKind.Null: w.WriteNullValue(); break;
            case JsonValueKind.Number:
                if (value.TryGetValue<long>(out var l)) { w.WriteRawValue(l.ToString(CultureInfo.InvariantCulture), skipInputValidation: true); break; }
                if (value.TryGetValue<int>(out var i)) { w.WriteRawValue(i.ToString(CultureInfo.InvariantCulture), skipInputValidation: true); break; }
                var d = value.TryGetValue<double>(out var x) ? x
                    : double.Parse(value.ToJsonString(), CultureInfo.InvariantCulture);
                if (!double.IsFinite(d)) throw new ArgumentException("canonical JSON has no spelling for NaN or infinity");
                if (d == Math.Floor(d) && Math.Abs(d) < 9007199254740992d)
                    w.WriteRawValue(((long)d).ToString(CultureInfo.InvariantCulture), skipInputValidation: true);
                else
                    w.WriteRawValue(d.ToString("R", CultureInfo.InvariantCulture), skipInputValidation: true);
                break;
            default:
                throw new ArgumentException($"unexpected JSON value kind {value.GetValueKind()}");
        }
    }
}
