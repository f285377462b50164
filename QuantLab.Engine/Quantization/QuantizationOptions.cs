using System.Globalization;
using QuantLab.Engine.Calibration;

namespace QuantLab.Engine.Quantization;

/// <summary>
/// One quantization option, spelled once for both of its forms: the CLI flag (<see cref="Flag"/>,
/// <c>--weight-bits</c>) and the campaign field (<see cref="Field"/>, <c>weightBits</c>).
/// </summary>
/// <param name="Field">The campaign field and the key in canonical job records and reports.</param>
/// <param name="Description">The --help text.</param>
/// <param name="Allowed">The allowed values, as every error message names them.</param>
/// <param name="Default">The default's canonical spelling; null where it depends on the model (bias).</param>
/// <param name="Numeric">Whether a campaign field takes a JSON number (bit widths) rather than a string.</param>
/// <param name="Canonical">Parses raw text to the canonical spelling; throws a <see cref="BadInputException"/> naming the option and the allowed values.</param>
public sealed record QuantOption(string Field, string Description, string Allowed, string? Default, bool Numeric, Func<string, string> Canonical)
{
    /// <summary>The CLI flag: the field in kebab case (<c>weightBits</c> → <c>--weight-bits</c>).</summary>
    public string Flag => "--" + string.Concat(Field.Select(c => char.IsUpper(c) ? "-" + char.ToLowerInvariant(c) : c.ToString()));
}

/// <summary>
/// The quantization grammar of DESIGN.md §6, defined once: every option's spelling, allowed values, default
/// and canonical form, the rules that make a combination impossible, and which options a configuration
/// actually uses. CLI flags, campaign fields, the planner, job records and reports all read it.
/// </summary>
public static class QuantizationOptions
{
    private static string Int(int value) => value.ToString(CultureInfo.InvariantCulture);

    public static readonly QuantOption Scope = new("scope",
        "weights: quantize weights only, the rest in float (seed §2.2); all: the integer path (§2.4-2.5)",
        QuantScopeOption.Allowed, "all", false, t => QuantScope.Parse(t).ToOption());

    public static readonly QuantOption WeightBits = new("weightBits", "Weight bits, 2 to 16",
        BitWidth.Allowed, "8", true, t => Int(BitWidth.Parse(t, "weight bits")));

    public static readonly QuantOption ActBits = new("actBits", "Activation (and input) bits, 2 to 16",
        BitWidth.Allowed, "8", true, t => Int(BitWidth.Parse(t, "act bits")));

    public static readonly QuantOption WeightRange = new("weightRange",
        "Weight range method: " + string.Join(", ", RangeObservers.Methods.Select(m => m.Form)),
        RangeMethod.Allowed, "minmax", false, t => RangeMethod.Parse(t).ToOption());

    public static readonly QuantOption ActRange = new("actRange",
        "Activation range method: " + string.Join(", ", RangeObservers.Methods.Select(m => m.Form)),
        RangeMethod.Allowed, "minmax", false, t => RangeMethod.Parse(t).ToOption());

    public static readonly QuantOption Granularity = new("granularity", "Weight scales per tensor or per output channel: tensor, channel",
        GranularityOption.Allowed, "tensor", false, t => Quantization.Granularity.Parse(t).ToOption());

    public static readonly QuantOption Rounding = new("rounding", "Every rounding: floor (the seed's), half-even, half-away",
        RoundingModeOption.Allowed, "floor", false, t => RoundingMode.Parse(t).ToOption());

    public static readonly QuantOption Requant = new("requant", "Requantization multiplier: float, or fixed-point[:P] with P from 8 to 31 (P defaults to 31)",
        RequantSpec.Allowed, "float", false, t => RequantSpec.Parse(t).ToOption());

    public static readonly QuantOption Bias = new("bias", "Bias handling: none, float, int32 (default: int32 for a model with bias, none without)",
        BiasModeOption.Allowed, null, false, t => BiasMode.Parse(t).ToOption());

    public static readonly QuantOption ActSignedness = new("actSignedness",
        "Activation grid after a ReLU: signed (the seed's), or unsigned-after-relu (0 to 2^n - 1, step T/(2^n - 1)); the input and the logits stay signed",
        ActSignednessOption.Allowed, "signed", false, t => Quantization.ActSignedness.Parse(t).ToOption());

    /// <summary>The calibration set's size: not part of a <see cref="QuantizationConfig"/> (it selects data), but an
    /// option of <c>quantize</c> and a campaign field like the others.</summary>
    public static readonly QuantOption Calibration = new("calibration", "Calibration images: a fixed, seeded sample of the training set",
        "an integer >= 1 (number of calibration images)", "1000", true, t =>
            int.TryParse(t.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) && n >= 1
                ? Int(n) : throw new BadInputException($"Invalid calibration '{t}'; allowed values: an integer >= 1 (number of calibration images)."));

    /// <summary>The options of a <see cref="QuantizationConfig"/>, in the order of DESIGN.md §6.</summary>
    public static readonly IReadOnlyList<QuantOption> All = [WeightBits, ActBits, WeightRange, ActRange, Granularity, Rounding, Requant, Bias, Scope, ActSignedness];

    public static string DefaultBias(bool modelHasBias) => modelHasBias ? "int32" : "none";

    /// <summary>The seed's defaults for a model without bias (8-bit, min/max per tensor, floor, float M, integer path).</summary>
    public static QuantizationConfig Defaults(bool modelHasBias = false) => Build(_ => null, modelHasBias);

    /// <summary>
    /// The configuration that raw option values describe: each value is parsed (a bad one is a
    /// <see cref="BadInputException"/> naming the option and its allowed values), a missing one takes the
    /// default. Not validated: see <see cref="Problem"/>.
    /// </summary>
    public static QuantizationConfig Build(Func<QuantOption, string?> raw, bool modelHasBias)
    {
        string Value(QuantOption o) => raw(o) is { } text ? o.Canonical(text) : o.Default ?? DefaultBias(modelHasBias);
        return new QuantizationConfig(
            QuantScope.Parse(Value(Scope)),
            int.Parse(Value(WeightBits), CultureInfo.InvariantCulture),
            int.Parse(Value(ActBits), CultureInfo.InvariantCulture),
            RangeMethod.Parse(Value(WeightRange)),
            RangeMethod.Parse(Value(ActRange)),
            Quantization.Granularity.Parse(Value(Granularity)),
            RoundingMode.Parse(Value(Rounding)),
            RequantSpec.Parse(Value(Requant)),
            BiasMode.Parse(Value(Bias)),
            Quantization.ActSignedness.Parse(Value(ActSignedness)));
    }

    /// <summary>The canonical value of <paramref name="option"/> in <paramref name="config"/>.</summary>
    public static string ValueOf(QuantOption option, QuantizationConfig config) => option.Field switch
    {
        "scope" => config.Scope.ToOption(),
        "weightBits" => Int(config.WeightBits),
        "actBits" => Int(config.ActBits),
        "weightRange" => config.WeightRange.ToOption(),
        "actRange" => config.ActRange.ToOption(),
        "granularity" => config.Granularity.ToOption(),
        "rounding" => config.Rounding.ToOption(),
        "requant" => config.Requant.ToOption(),
        "bias" => config.Bias.ToOption(),
        "actSignedness" => config.ActSignedness.ToOption(),
        _ => throw new ArgumentException($"{option.Field} is not an option of a quantization configuration", nameof(option)),
    };

    /// <summary>
    /// The options that can change <paramref name="config"/>'s result. The weights scope runs activations in
    /// float, so activation bits, ranges and signedness matter there only for an int32 bias (its step is s_w·s_x),
    /// and requantization not at all. The activation signedness counts only away from its default, so records and
    /// keys written before it existed are unchanged. Job records hold exactly these, so configurations that differ
    /// elsewhere share a key.
    /// </summary>
    public static IReadOnlyList<QuantOption> Used(QuantizationConfig config)
    {
        IReadOnlyList<QuantOption> used = config.Scope == QuantScope.All
            ? [WeightBits, ActBits, WeightRange, ActRange, Granularity, Rounding, Requant, Bias, Scope]
            : config.NeedsActivationRanges
                ? [WeightBits, ActBits, WeightRange, ActRange, Granularity, Rounding, Bias, Scope]
                : [WeightBits, WeightRange, Granularity, Rounding, Bias, Scope];
        return config.NeedsActivationRanges && config.ActSignedness != Quantization.ActSignedness.Signed ? [.. used, ActSignedness] : used;
    }

    /// <summary>
    /// Why <paramref name="config"/> cannot run on a model with or without bias, or null if it can. The one
    /// set of compatibility rules: the CLI refuses what it names, a campaign drops it and lists the reason.
    /// </summary>
    public static string? Problem(QuantizationConfig config, bool modelHasBias)
    {
        if (!config.TryValidate(out var problem)) return problem;
        if (!modelHasBias && config.Bias != BiasMode.None)
            return $"bias {config.Bias.ToOption()} needs a model with bias; this one has none (use bias none, or a model trained with bias)";
        return null;
    }

    /// <summary>The options <paramref name="config"/> uses, as <c>field=value</c> in the grammar's order: equal exactly when two
    /// configurations must give the same result.</summary>
    public static string Canonical(QuantizationConfig config) =>
        string.Join(' ', Used(config).Select(o => $"{o.Field}={ValueOf(o, config)}"));

    /// <summary>A configuration in words, for people: <c>scope all, weights 8-bit minmax per tensor, …</c>.</summary>
    public static string Describe(QuantizationConfig c) =>
        $"scope {c.Scope.ToOption()}, weights {c.WeightBits}-bit {c.WeightRange.ToOption()} per {c.Granularity.ToOption()}, " +
        $"activations {c.ActBits}-bit {c.ActRange.ToOption()}, rounding {c.Rounding.ToOption()}, requant {c.Requant.ToOption()}, bias {c.Bias.ToOption()}" +
        (c.ActSignedness == Quantization.ActSignedness.Signed ? "" : $", activations {c.ActSignedness.ToOption()}");

    /// <summary>Throws a <see cref="BadInputException"/> with <see cref="Problem"/>'s reason, if any.</summary>
    public static QuantizationConfig Check(QuantizationConfig config, bool modelHasBias) =>
        Problem(config, modelHasBias) is { } problem ? throw new BadInputException($"Invalid quantization configuration: {problem}.") : config;
}
