using QuantLab.Engine.Qat;
using System.Text.Json;
using QuantLab.Engine;
using QuantLab.Engine.Calibration;
using QuantLab.Engine.Jobs;
using QuantLab.Engine.Quantization;
using QuantLab.Engine.Training;

namespace QuantLab.Actors.Campaigns;

/// <summary>
/// Reads a campaign spec strictly: unknown fields, duplicate fields, wrong types and bad values are
/// <see cref="BadInputException"/>s whose message starts with the JSON path (<c>$.quantize.weightBits[2]</c>)
/// and names the allowed values. Any field may be one value or a non-empty list (a sweep axis).
/// </summary>
public static class CampaignSpecParser
{
    private const string NamePattern = "letters, digits, '.', '_' and '-' (1 to 100 characters, not starting with '.' or '-')";

    public static CampaignSpec ParseFile(string path)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new BadInputException($"campaign spec {path}: cannot read it: {e.Message}", e);
        }
        return Parse(text, path);
    }

    public static CampaignSpec Parse(string json, string source = "campaign spec")
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json); }
        catch (JsonException e)
        {
            throw new BadInputException($"{source}: not valid JSON: {JsonErrors.Describe(e)}", e);
        }
        using (doc)
        {
            try { return ReadSpec(new Obj(doc.RootElement, "$")); }
            catch (SpecError e) { throw new BadInputException($"{source}: {e.Message}"); }
        }
    }

    private static CampaignSpec ReadSpec(Obj root)
    {
        var name = root.Required("name", Name);
        var data = root.Optional("data", e => ReadData(new Obj(e.Element, e.Path))) ?? DataSelection.Default;
        var train = root.Required("train", e => ReadList(e, t => ReadTrain(new Obj(t.Element, t.Path), t.Path))).ToList();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < train.Count; i++)
            if (!ids.Add(train[i].Id))
                throw new SpecError($"$.train[{i}].id: '{train[i].Id}' is used twice; training ids must be unique");
        for (var i = 0; i < train.Count; i++)
            if (train[i].From is not null) train[i] = WithStart(train, i);
        var quantize = root.Optional("quantize", e => ReadQuantize(new Obj(e.Element, e.Path), train));
        var search = root.Optional("search", e => ReadSearch(new Obj(e.Element, e.Path))) ?? SearchSpec.Grid;
        root.RejectUnknown();
        return new CampaignSpec(name, data, train, quantize, search);
    }

    private static DataSelection ReadData(Obj o)
    {
        var transform = o.Optional("inputTransform", e => Choice(e, s => s is "resize" or "pad" ? s : null, "resize, pad")) ?? DataSelection.Default.InputTransform;
        var testLimit = o.Optional("testLimit", e => (int?)Int(e, 1, int.MaxValue, "integers >= 1"));
        o.RejectUnknown();
        return new DataSelection(transform, testLimit);
    }

    private static TrainSpec ReadTrain(Obj o, string path)
    {
        var id = o.Required("id", Name);
        var d = new TrainOptions();   // the defaults of `quantlab train`: the seed's recipe
        var givenBias = o.Optional("bias", e => ReadList(e, Bool));
        var epochs = o.Axis("epochs", e => Int(e, 1, 1000, "integers 1..1000"), [d.Epochs]);
        var batch = o.Axis("batchSize", e => Int(e, 1, 60000, "integers 1..60000"), [d.BatchSize]);
        var lr = o.Axis("lr", e => Real(e, x => x > 0 && x <= 10, "numbers in (0, 10]"), [d.Lr]);
        var momentum = o.Axis("momentum", e => Real(e, x => x >= 0 && x < 1, "numbers in [0, 1)"), [d.Momentum]);
        var seed = o.Axis("seed", e => Int(e, 0, int.MaxValue, "integers >= 0"), [d.Seed]);
        var limit = o.Axis("trainLimit", e => (int?)Int(e, 1, int.MaxValue, "integers >= 1"), [null]);
        var qat = o.Optional("qat", e => ReadQat(new Obj(e.Element, e.Path)));
        var from = o.Optional("from", Name);
        o.RejectUnknown();
        if (from is not null && qat is null)
            throw new SpecError($"{path}.from: only a QAT training (one with 'qat') starts from another training's model");
        if (from is not null && givenBias is not null)
            throw new SpecError($"{path}.bias: a training with 'from' keeps the bias of the model it starts from; drop 'bias'");
        return new TrainSpec(id, givenBias ?? [d.Bias], epochs, batch, lr, momentum, seed, limit, qat?.Axes, qat?.Methods, from);
    }

    /// <summary>
    /// Checks the <c>from</c> of <c>train[i]</c>: an FP32 training defined before it, with one model per seed and a
    /// model for each of its seeds (each QAT training starts from the model of its own seed). Returns the
    /// training with that model's bias.
    /// </summary>
    private static TrainSpec WithStart(IReadOnlyList<TrainSpec> train, int i)
    {
        var t = train[i];
        var earlier = train.Take(i).Where(x => x.Qat is null).ToList();
        var start = earlier.FirstOrDefault(x => x.Id == t.From)
            ?? throw new SpecError($"$.train[{i}].from: '{t.From}' is not an FP32 training defined before this one; " +
                (earlier.Count == 0 ? "there is none" : $"allowed: {string.Join(", ", earlier.Select(x => x.Id))}"));
        var swept = new (string Name, int Count)[] { ("bias", start.Bias.Count), ("epochs", start.Epochs.Count), ("batchSize", start.BatchSize.Count),
            ("lr", start.Lr.Count), ("momentum", start.Momentum.Count), ("trainLimit", start.TrainLimit.Count) }.Where(a => a.Count > 1).Select(a => a.Name).ToList();
        if (swept.Count > 0)
            throw new SpecError($"$.train[{i}].from: '{start.Id}' sweeps {string.Join(", ", swept)}, so it has more than one model per seed; name a training with one model per seed");
        foreach (var (seed, k) in t.Seed.Select((s, k) => (s, k)))
            if (!start.Seed.Contains(seed))
                throw new SpecError($"$.train[{i}].seed{(t.Seed.Count > 1 ? $"[{k}]" : "")}: seed {seed} has no model in '{start.Id}' (its seeds: {string.Join(", ", start.Seed)})");
        return t with { Bias = start.Bias };
    }

    /// <summary>The <c>qat</c> object: the quantization axes and <c>method</c> (one value or a list, as an axis).</summary>
    private static QatFields ReadQat(Obj o)
    {
        var methods = o.Optional("method", e => ReadList(e, MethodValue));
        return new QatFields(ReadAxes(o, qat: true), methods);
    }

    private sealed record QatFields(QuantAxes Axes, IReadOnlyList<QatMethod>? Methods);

    private static QatMethod MethodValue(Node e)
    {
        var text = Str(e, QatMethodOption.Allowed);
        try { return QatMethod.Parse(text); }
        catch (BadInputException bad) { throw new SpecError($"{e.Path}: {bad.Message}"); }
    }

    private static QuantizeSpec ReadQuantize(Obj o, IReadOnlyList<TrainSpec> train)
    {
        var known = train.Select(t => t.Id).ToList();
        var allowed = known.Count == 0 ? "(no training ids defined)" : string.Join(", ", known);
        var models = o.Axis("models", e => Choice(e, s => known.Contains(s) ? s : null, allowed), []);
        var axes = ReadAxes(o);
        return new QuantizeSpec(models, axes);
    }

    /// <summary>Reads the quantization fields of <paramref name="o"/> (the engine's grammar: one field per
    /// option, each one value or a list) and rejects every other field.</summary>
    /// <param name="qat">The axes of a QAT training: QAT's own limits (range methods it can observe every
    /// mini-batch, the integer scope, no calibration set) are refused here, at the value's path, not job by job.</param>
    private static QuantAxes ReadAxes(Obj o, bool qat = false)
    {
        var values = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        var options = qat ? QuantizationOptions.All : QuantizationOptions.All.Append(QuantizationOptions.Calibration);
        foreach (var option in options)
            if (o.Optional(option.Field, e => ReadList(e, x => qat ? QatValue(x, option) : OptionValue(x, option))) is { } list)
                values[option.Field] = list;
        o.RejectUnknown();
        return new QuantAxes(values);
    }

    private static string QatValue(Node e, QuantOption option)
    {
        var value = OptionValue(e, option);
        if (option == QuantizationOptions.Scope && value != "all")
            throw new SpecError($"{e.Path}: QAT trains for the integer path; allowed: all");
        if ((option == QuantizationOptions.WeightRange || option == QuantizationOptions.ActRange) && !RangeMethod.Parse(value).Info.ObservedPerBatch)
            throw new SpecError($"{e.Path}: '{value}' is a calibration-set method; QAT observes ranges every mini-batch; allowed: " +
                                string.Join(", ", RangeObservers.Methods.Where(m => m.ObservedPerBatch).Select(m => m.Syntax)));
        return value;
    }

    /// <summary>One value of a grammar option: a JSON number for numeric options, a string otherwise, in its canonical spelling.</summary>
    private static string OptionValue(Node e, QuantOption option)
    {
        string text;
        if (option.Numeric)
        {
            if (e.Element.ValueKind != JsonValueKind.Number)
                throw new SpecError($"{e.Path}: expected an integer, got {Describe(e.Element)}; allowed: {option.Allowed}");
            text = e.Element.GetRawText();
        }
        else text = Str(e, option.Allowed);
        try { return option.Canonical(text); }
        catch (BadInputException bad) { throw new SpecError($"{e.Path}: {bad.Message}"); }
    }

    private static SearchSpec ReadSearch(Obj o)
    {
        var kind = o.Required("kind", e => Choice(e, s => s is "grid" or "random" ? s : null, "grid, random"));
        if (kind == "grid")
        {
            o.RejectUnknown();
            return SearchSpec.Grid;
        }
        var samples = o.Required("samples", e => Int(e, 1, 1_000_000, "integers 1..1000000"));
        var seed = o.Optional("seed", e => (long?)Int(e, 0, int.MaxValue, "integers >= 0")) ?? 0;
        o.RejectUnknown();
        return new SearchSpec(SearchKind.Random, samples, seed);
    }

    // ---- value readers -------------------------------------------------------------------------

    private static string Name(Node e)
    {
        var s = Str(e, NamePattern);
        // A leading '.' would make '.', '..' or hidden names: a campaign's name becomes a directory of reports; a leading
        // '-' would read as an option where the CLI takes the name as an argument (status, report, retry, export).
        if (s.Length is 0 or > 100 || s[0] is '.' or '-' || !s.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
            throw new SpecError($"{e.Path}: '{s}' is not a valid name; allowed: {NamePattern}");
        return s;
    }

    private static string Choice(Node e, Func<string, string?> canonical, string allowed)
    {
        var s = Str(e, allowed);
        return canonical(s) ?? throw new SpecError($"{e.Path}: '{s}' is not allowed; allowed: {allowed}");
    }

    private static string Str(Node e, string allowed) =>
        e.Element.ValueKind == JsonValueKind.String
            ? e.Element.GetString()!
            : throw new SpecError($"{e.Path}: expected a string, got {Describe(e.Element)}; allowed: {allowed}");

    private static bool Bool(Node e) => e.Element.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw new SpecError($"{e.Path}: expected a boolean, got {Describe(e.Element)}; allowed: true, false"),
    };

    private static int Int(Node e, long min, long max, string allowed)
    {
        if (e.Element.ValueKind != JsonValueKind.Number || !e.Element.TryGetInt64(out var v))
            throw new SpecError($"{e.Path}: expected an integer, got {Describe(e.Element)}; allowed: {allowed}");
        if (v < min || v > max) throw new SpecError($"{e.Path}: {v} is out of range; allowed: {allowed}");
        return (int)v;
    }

    private static double Real(Node e, Func<double, bool> ok, string allowed)
    {
        if (e.Element.ValueKind != JsonValueKind.Number || !e.Element.TryGetDouble(out var v) || !double.IsFinite(v))
            throw new SpecError($"{e.Path}: expected a number, got {Describe(e.Element)}; allowed: {allowed}");
        if (!ok(v)) throw new SpecError($"{e.Path}: {e.Element.GetRawText()} is out of range; allowed: {allowed}");
        return v;
    }

    /// <summary>One value, or a non-empty list of values (a sweep axis); duplicates in a list are rejected.</summary>
    private static IReadOnlyList<T> ReadList<T>(Node e, Func<Node, T> one)
    {
        if (e.Element.ValueKind != JsonValueKind.Array) return [one(e)];
        if (e.Element.GetArrayLength() == 0) throw new SpecError($"{e.Path}: an empty list; give one value or a non-empty list");
        var list = new List<T>();
        var seen = new HashSet<T>();   // a list of 100,000 seeds: List.Contains made this quadratic (0.5 s)
        var i = 0;
        foreach (var item in e.Element.EnumerateArray())
        {
            var node = new Node(item, $"{e.Path}[{i++}]");
            var value = one(node);
            if (!seen.Add(value)) throw new SpecError($"{node.Path}: {item.GetRawText()} repeats an earlier value of this list");
            list.Add(value);
        }
        return list;
    }

    private static string Describe(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "a list",
        JsonValueKind.Null => "null",
        _ => e.GetRawText(),
    };

    private readonly record struct Node(JsonElement Element, string Path);

    private sealed class SpecError(string message) : Exception(message);

    /// <summary>An object being read: remembers the fields taken so the rest can be rejected as unknown.</summary>
    private sealed class Obj
    {
        private readonly Dictionary<string, JsonElement> _fields = new(StringComparer.Ordinal);
        private readonly HashSet<string> _taken = new(StringComparer.Ordinal);
        private readonly List<string> _knownNames = [];
        private readonly string _path;

        public Obj(JsonElement element, string path)
        {
            _path = path;
            if (element.ValueKind != JsonValueKind.Object)
                throw new SpecError($"{path}: expected an object, got {Describe(element)}");
            foreach (var p in element.EnumerateObject())
                if (!_fields.TryAdd(p.Name, p.Value))
                    throw new SpecError($"{path}.{p.Name}: the field appears twice");
        }

        public T Required<T>(string name, Func<Node, T> read)
        {
            _knownNames.Add(name);
            if (!_fields.TryGetValue(name, out var e)) throw new SpecError($"{_path}.{name}: required field is missing");
            _taken.Add(name);
            return read(new Node(e, $"{_path}.{name}"));
        }

        public T? Optional<T>(string name, Func<Node, T> read)
        {
            _knownNames.Add(name);
            if (!_fields.TryGetValue(name, out var e)) return default;
            _taken.Add(name);
            return read(new Node(e, $"{_path}.{name}"));
        }

        public IReadOnlyList<T> Axis<T>(string name, Func<Node, T> one, IReadOnlyList<T> fallback) =>
            Optional(name, e => ReadList(e, one)) ?? fallback;

        public void RejectUnknown()
        {
            foreach (var name in _fields.Keys)
                if (!_taken.Contains(name))
                    throw new SpecError($"{_path}.{name}: unknown field; allowed here: {string.Join(", ", _knownNames)}");
        }
    }
}
