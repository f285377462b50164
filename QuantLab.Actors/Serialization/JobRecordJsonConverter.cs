using System.Text.Json;
using System.Text.Json.Serialization;
using QuantLab.Engine.Jobs;

namespace QuantLab.Actors.Serialization;

/// <summary>Job records in events and messages travel in their one canonical form (<see cref="JobCodec"/>), never
/// in a second, reflection-made shape.</summary>
public sealed class JobRecordJsonConverter : JsonConverter<JobRecord>
{
    public override bool CanConvert(Type typeToConvert) => typeof(JobRecord).IsAssignableFrom(typeToConvert);

    public override JobRecord Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.StartObject) throw new JsonException("a job record must be a JSON object");
        using var document = JsonDocument.ParseValue(ref reader);
        return JobCodec.Read(document.RootElement);
    }

    public override void Write(Utf8JsonWriter writer, JobRecord value, JsonSerializerOptions options) =>
        writer.WriteRawValue(JobCodec.Canonical(value));
}
