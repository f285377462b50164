using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using QuantLab.Engine.Calibration;
using QuantLab.Engine.Qat;
using QuantLab.Engine.Quantization;
using QuantLab.Engine.Training;

namespace QuantLab.Engine.Jobs;

/// <summary>
/// The one canonical serialization of <see cref="JobRecord"/>s: a flat JSON object (sorted keys, see
/// <see cref="CanonicalJson"/>) with a <c>type</c> (<c>train</c>, <c>qat-train</c>, <c>calibrate</c>,
/// <c>evaluate</c>), the named upstream keys (<c>model</c>, <c>ranges</c>) and exactly the fields the job's
/// result depends on: a quantization holds the options <see cref="QuantizationOptions.Used"/> names, a
/// calibration the options its range methods declare. Job keys, persisted events and reports use it;
/// <see cref="Format"/> versions it (events carry it in their manifest).
/// </summary>
public static class JobCodec
{
    /// <summary>The version of this canonical form; part of the persisted events' manifests.</summary>
    public const int Format = 2;

    public static JsonObject Write(JobRecord job)
    {
        var o = new JsonObject();
        switch (job)
        {
            case Fp32TrainJob t:
                o["type"] = "train";
                WriteTraining(o, t.Training);
                break;
            case QatTrainJob q:
                o["type"] = "qat-train";
                WriteTraining(o, q.Training);
                var qat = WriteQuantization(new JsonObject(), q.Qat.Config);
                qat["emaConstant"] = q.Qat.EmaConstant;
                qat["freezeFraction"] = q.Qat.FreezeFraction;
                // Written only where it is not the default, so observe jobs keep the keys they had before lsq existed.
                if (q.Qat.Method != QatMethod.Observe) qat["method"] = q.Qat.Method.ToOption();
                o["qat"] = qat;
                // Likewise only where it starts from a model: jobs trained from scratch keep their keys.
                if (q.From is { } from) o[Roles.Model] = from;
                break;
            case CalibrateJob c:
                o["type"] = "calibrate";
                o[Roles.Model] = c.Model;
                WriteRange(o, "weight", c.Ranges.Weights);
                o["granularity"] = c.Ranges.Granularity.ToOption();
                if (c.Ranges.Activations is { } acts) WriteRange(o, "act", acts);
                if (c.Ranges.CalibrationImages is { } n) o["calibration"] = n;
                break;
            case EvaluateJob e:
                o["type"] = "evaluate";
                o["method"] = e.Method == EvaluationMethod.Qat ? "qat" : "ptq";
                o[Roles.Model] = e.Model;
                if (e.Ranges is { } ranges) o[Roles.Ranges] = ranges;
                WriteQuantization(o, e.Quantization);
                if (e.CalibrationImages is { } images) o["calibration"] = images;
                break;
            default:
                throw new ArgumentException($"no canonical form for {job.GetType().Name}", nameof(job));
        }
        o["inputTransform"] = job.Data.InputTransform;
        if (job.Data.TestLimit is { } limit) o["testLimit"] = limit;
        return o;
    }

    /// <summary>The canonical text of <paramref name="job"/>.</summary>
    public static string Canonical(JobRecord job) => CanonicalJson.Write(Write(job));

    /// <summary>A job's identity: the SHA-256 of its canonical form, the dataset fingerprint and the engine version.
    /// The upstream keys are part of the canonical form, so a job's key covers everything it reads.</summary>
    public static string Key(JobRecord job, string datasetFingerprint, string engineVersion) =>
        CanonicalJson.Sha256Hex(CanonicalJson.Write(new JsonObject
        {
            ["job"] = Write(job),
            ["dataset"] = datasetFingerprint,
            ["engine"] = engineVersion,
        }));

    public static JobRecord Read(string canonical)
    {
        JsonDocument document;
        try { document = JsonDocument.Parse(canonical); }
        catch (JsonException e) { throw new BadInputException($"job record: not valid JSON: {JsonErrors.Describe(e)}", e); }
        using (document) return Read(document.RootElement);
    }

    /// <summary>The record a JSON object holds. Read from a <see cref="JsonElement"/> (not a JsonObject, which
    /// copies every field into a node first): recovering a 100,000-job coordinator reads 200,000 records.</summary>
    public static JobRecord Read(JsonElement o)
    {
        if (o.ValueKind != JsonValueKind.Object) throw new BadInputException("job record: a job record must be a JSON object");
        var data = new DataSelection(Text(o, "inputTransform"), OptionalInt(o, "testLimit"));
        var type = Text(o, "type");
        return type switch
        {
            "train" => new Fp32TrainJob(ReadTraining(o), data),
            "qat-train" => new QatTrainJob(ReadTraining(o), ReadQat(Field(o, "qat") is { ValueKind: JsonValueKind.Object } qat ? qat : throw Missing("qat")), data, OptionalText(o, Roles.Model)),
            "calibrate" => new CalibrateJob(Text(o, Roles.Model), new RangePlan(
                ReadRange(o, "weight")!, Granularity.Parse(Text(o, "granularity")), ReadRange(o, "act"), OptionalInt(o, "calibration")), data),
            "evaluate" => new EvaluateJob(
                Text(o, "method") switch { "ptq" => EvaluationMethod.Ptq, "qat" => EvaluationMethod.Qat, var m => throw new BadInputException($"job record: unknown method '{m}'") },
                Text(o, Roles.Model), OptionalText(o, Roles.Ranges), ReadQuantization(o), OptionalInt(o, "calibration"), data),
            _ => throw new BadInputException($"job record: unknown type '{type}'; known: train, qat-train, calibrate, evaluate"),
        };
    }

    /// <summary>
    /// The record as report axes: every field but the type and the upstream keys, as canonical text
    /// (<c>weightBits</c> → "8", <c>lr</c> → "0.001"); a QAT training's quantization under <c>qat.</c>, and
    /// <c>from</c> (the key of the FP32 training it fine-tunes) where it does not train from scratch.
    /// </summary>
    public static IReadOnlyDictionary<string, string> Axes(JobRecord job)
    {
        var axes = new Dictionary<string, string>(StringComparer.Ordinal);
        if (job is QatTrainJob { From: { } from }) axes["from"] = from;
        void Walk(JsonObject o, string prefix)
        {
            foreach (var (name, value) in o)
            {
                if (prefix.Length == 0 && name is "type" or Roles.Model or Roles.Ranges) continue;
                if (value is JsonObject inner) Walk(inner, prefix + name + ".");
                else if (value is not null) axes[prefix + name] = value.GetValueKind() == JsonValueKind.String
                    ? value.GetValue<string>()
                    : CanonicalJson.Write(value);
            }
        }
        Walk(Write(job), "");
        return axes;
    }

    // ---- parts -------------------------------------------------------------------------------------

    private static void WriteTraining(JsonObject o, TrainOptions t)
    {
        o["bias"] = t.Bias;
        o["epochs"] = t.Epochs;
        o["batchSize"] = t.BatchSize;
        o["lr"] = t.Lr;
        o["momentum"] = t.Momentum;
        o["seed"] = t.Seed;
        if (t.TrainLimit is { } limit) o["trainLimit"] = limit;
    }

    private static TrainOptions ReadTraining(JsonElement o) => new()
    {
        Bias = Bool(o, "bias"),
        Epochs = Int(o, "epochs"),
        BatchSize = Int(o, "batchSize"),
        Lr = Number(o, "lr"),
        Momentum = Number(o, "momentum"),
        Seed = Int(o, "seed"),
        TrainLimit = OptionalInt(o, "trainLimit"),
    };

    private static JsonObject WriteQuantization(JsonObject o, QuantizationConfig config)
    {
        foreach (var option in QuantizationOptions.Used(config))
        {
            var value = QuantizationOptions.ValueOf(option, config);
            o[option.Field] = option.Numeric ? JsonValue.Create(int.Parse(value, CultureInfo.InvariantCulture)) : JsonValue.Create(value);
        }
        return o;
    }

    private static QuantizationConfig ReadQuantization(JsonElement o) =>
        QuantizationOptions.Build(option => Field(o, option.Field) is { } v ? v.ValueKind == JsonValueKind.String ? v.GetString() : v.GetRawText() : null,
            modelHasBias: false);

    private static QatOptions ReadQat(JsonElement o) => new()
    {
        Config = ReadQuantization(o),
        EmaConstant = Number(o, "emaConstant"),
        FreezeFraction = Number(o, "freezeFraction"),
        Method = OptionalText(o, "method") is { } method ? QatMethod.Parse(method) : QatMethod.Observe,
    };

    private static void WriteRange(JsonObject o, string side, RangeRequest r)
    {
        o[side + "Range"] = r.Method.ToOption();
        if (r.Bits is { } bits) o[side + "Bits"] = bits;
        if (r.Rounding is { } rounding) o[side + "Rounding"] = rounding.ToOption();
    }

    private static RangeRequest? ReadRange(JsonElement o, string side)
    {
        if (OptionalText(o, side + "Range") is not { } method) return null;
        var request = RangeRequest.For(RangeMethod.Parse(method), OptionalInt(o, side + "Bits") ?? ObserverContext.Neutral.Bits,
            OptionalText(o, side + "Rounding") is { } r ? RoundingMode.Parse(r) : ObserverContext.Neutral.Rounding);
        // A record that names an option its method does not declare (or misses one it does) was not written by this codec.
        if (request.Bits != OptionalInt(o, side + "Bits") || request.Rounding?.ToOption() != OptionalText(o, side + "Rounding"))
            throw new BadInputException($"job record: the {side} range {method} does not take exactly the options given ({o.GetRawText()})");
        return request;
    }

    private static BadInputException Missing(string name) => new($"job record: field '{name}' is missing");

    /// <summary>The field, or null where it is missing or JSON null (as a JsonObject reads it).</summary>
    private static JsonElement? Field(JsonElement o, string name) =>
        o.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    private static string Text(JsonElement o, string name) => OptionalText(o, name) ?? throw Missing(name);

    private static string? OptionalText(JsonElement o, string name) => Field(o, name) is { } v ? Kind(v, JsonValueKind.String, name).GetString() : null;

    private static int Int(JsonElement o, string name) => OptionalInt(o, name) ?? throw Missing(name);

    private static int? OptionalInt(JsonElement o, string name) => Field(o, name) is { } v
        ? Kind(v, JsonValueKind.Number, name).TryGetInt32(out var i) ? i : throw new BadInputException($"job record: field '{name}' must be a whole number within 32 bits, not {v.GetRawText()}")
        : null;

    private static double Number(JsonElement o, string name) => Field(o, name) is { } v ? Kind(v, JsonValueKind.Number, name).GetDouble() : throw Missing(name);

    private static bool Bool(JsonElement o, string name) => Field(o, name) is { } v ? v.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw new BadInputException($"job record: field '{name}' must be true or false"),
    } : throw Missing(name);

    private static JsonElement Kind(JsonElement v, JsonValueKind kind, string name) => v.ValueKind == kind ? v
        : throw new BadInputException($"job record: field '{name}' must be a {(kind == JsonValueKind.String ? "string" : "number")}");
}
