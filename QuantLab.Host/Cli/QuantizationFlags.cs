using System.CommandLine;
using QuantLab.Engine.Calibration;
using QuantLab.Engine.Quantization;

namespace QuantLab.Host.Cli;

/// <summary>
/// The quantization flags of DESIGN.md §6, declared once and spelled the same as the campaign fields
/// (camelCase of the flag). Defaults are the seed's: 8-bit, min/max ranges, per tensor, floor, float M,
/// integer path; the bias follows the model (int32 where it has one).
/// </summary>
public sealed class QuantizationFlags
{
    public Option<string> Scope { get; } = new("--scope") { Description = "weights: quantize weights only, the rest in float (seed §2.2); all: the integer path (§2.4-2.5)", DefaultValueFactory = _ => "all" };
    public Option<int> WeightBits { get; } = new("--weight-bits") { Description = "Weight bits, 2 to 16", DefaultValueFactory = _ => 8 };
    public Option<int> ActBits { get; } = new("--act-bits") { Description = "Activation (and input) bits, 2 to 16", DefaultValueFactory = _ => 8 };
    public Option<string> WeightRange { get; } = new("--weight-range") { Description = "Weight range method: minmax, sigma:K, percentile:P, entropy, mse", DefaultValueFactory = _ => "minmax" };
    public Option<string> ActRange { get; } = new("--act-range") { Description = "Activation range method: minmax, sigma:K, percentile:P, entropy, mse", DefaultValueFactory = _ => "minmax" };
    public Option<string> Granularity { get; } = new("--granularity") { Description = "Weight scales per tensor or per output channel: tensor, channel", DefaultValueFactory = _ => "tensor" };
    public Option<string> Rounding { get; } = new("--rounding") { Description = "Every rounding: floor (the seed's), half-even, half-away", DefaultValueFactory = _ => "floor" };
    public Option<string> Requant { get; } = new("--requant") { Description = "Requantization multiplier: float, or fixed-point[:P] with P from 8 to 31 (default 31)", DefaultValueFactory = _ => "float" };
    public Option<string?> Bias { get; } = new("--bias") { Description = "Bias handling: none, float, int32 (default: int32 for a model with bias, none without)" };

    public IEnumerable<Option> All => [.. AllButBias, Bias];

    /// <summary>Every flag but <c>--bias</c>, for <c>train</c>, whose own <c>--bias [MODE]</c> both asks for a model
    /// with bias and, with --qat, names the bias mode.</summary>
    public IEnumerable<Option> AllButBias => [Scope, WeightBits, ActBits, WeightRange, ActRange, Granularity, Rounding, Requant];

    /// <summary>The flags given on the command line (not defaulted), by name.</summary>
    public IReadOnlyList<string> Given(ParseResult parse) =>
        All.Where(o => parse.GetResult(o) is { Implicit: false }).Select(o => o.Name).ToList();

    /// <summary>The flags given on the command line whose value in <paramref name="requested"/> differs from
    /// <paramref name="fixedConfig"/> (e.g. what a QAT model was trained for), ignoring <paramref name="free"/>.</summary>
    public IReadOnlyList<string> Conflicts(ParseResult parse, QuantizationConfig requested, QuantizationConfig fixedConfig, params string[] free) =>
        Given(parse).Where(name => !free.Contains(name) && name switch
        {
            "--scope" => requested.Scope != fixedConfig.Scope,
            "--weight-bits" => requested.WeightBits != fixedConfig.WeightBits,
            "--act-bits" => requested.ActBits != fixedConfig.ActBits,
            "--weight-range" => requested.WeightRange != fixedConfig.WeightRange,
            "--act-range" => requested.ActRange != fixedConfig.ActRange,
            "--granularity" => requested.Granularity != fixedConfig.Granularity,
            "--rounding" => requested.Rounding != fixedConfig.Rounding,
            "--requant" => requested.Requant != fixedConfig.Requant,
            "--bias" => requested.Bias != fixedConfig.Bias,
            _ => false,
        }).ToList();

    /// <summary>The configuration the flags describe; <paramref name="modelHasBias"/> picks the default bias mode.</summary>
    /// <param name="bias">The bias mode when the command reads it itself (<c>train</c>); otherwise from <c>--bias</c>.</param>
    public QuantizationConfig Read(ParseResult parse, bool modelHasBias, BiasMode? bias = null)
    {
        bias ??= parse.GetResult(Bias) is not null && parse.GetValue(Bias) is { } text ? BiasMode.Parse(text) : null;
        int weightBits = parse.GetValue(WeightBits), actBits = parse.GetValue(ActBits);
        BitWidth.Validate(weightBits, "--weight-bits");
        BitWidth.Validate(actBits, "--act-bits");
        var config = new QuantizationConfig(
            QuantScope.Parse(parse.GetValue(Scope)),
            weightBits,
            actBits,
            RangeMethod.Parse(parse.GetValue(WeightRange)),
            RangeMethod.Parse(parse.GetValue(ActRange)),
            QuantLab.Engine.Quantization.Granularity.Parse(parse.GetValue(Granularity)),
            RoundingMode.Parse(parse.GetValue(Rounding)),
            RequantSpec.Parse(parse.GetValue(Requant)),
            bias ?? (modelHasBias ? BiasMode.Int32 : BiasMode.None));
        return config.Validate();
    }
}
