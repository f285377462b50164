using QuantLab.Engine.Qat;
using QuantLab.Engine.Jobs;
using QuantLab.Engine.Quantization;

namespace QuantLab.Actors.Campaigns;

/// <summary>
/// A parsed, validated campaign spec (<c>experiments/*.json</c>). Every axis is a non-empty list;
/// a list of one is a fixed value, a longer list is a sweep. Quantization values are canonical spellings
/// of the engine's grammar (<see cref="QuantizationOptions"/>).
/// </summary>
/// <param name="Data">The MNIST every job reads (input transform, test limit): the engine's <see cref="DataSelection"/>.</param>
public sealed record CampaignSpec(
    string Name,
    DataSelection Data,
    IReadOnlyList<TrainSpec> Train,
    QuantizeSpec? Quantize,
    SearchSpec Search);

/// <summary>One training configuration; its axes expand to one training job per combination.</summary>
public sealed record TrainSpec(
    string Id,
    IReadOnlyList<bool> Bias,
    IReadOnlyList<int> Epochs,
    IReadOnlyList<int> BatchSize,
    IReadOnlyList<double> Lr,
    IReadOnlyList<double> Momentum,
    IReadOnlyList<int> Seed,
    IReadOnlyList<int?> TrainLimit,
    QuantAxes? Qat,
    IReadOnlyList<QatMethod>? QatMethods = null,
    string? From = null)
{
    /// <summary>The <c>qat.method</c> axis: the spec's, or observe (the default) alone.</summary>
    public IReadOnlyList<QatMethod> Methods => QatMethods ?? [QatMethod.Observe];
}

/// <summary>
/// The quantization axes: per option of the grammar (<see cref="QuantizationOptions.All"/> and
/// <see cref="QuantizationOptions.Calibration"/>, by field name), the canonical values the spec gave. An option
/// the spec leaves out is absent: it takes the grammar's default (for bias: the model's).
/// </summary>
public sealed record QuantAxes(IReadOnlyDictionary<string, IReadOnlyList<string>> Values)
{
    /// <summary>The values of <paramref name="option"/>: the spec's, or its default (null for a model-dependent default).</summary>
    public IReadOnlyList<string?> Of(QuantOption option) =>
        Values.TryGetValue(option.Field, out var given) ? [.. given] : [option.Default];

    /// <summary>Whether the spec sweeps <paramref name="option"/> (gives more than one value).</summary>
    public bool Sweeps(QuantOption option) => Values.TryGetValue(option.Field, out var given) && given.Count > 1;

    public static readonly QuantAxes Defaults = new(new Dictionary<string, IReadOnlyList<string>>());
}

/// <param name="Models">Training ids to quantize; empty means every non-QAT training.</param>
public sealed record QuantizeSpec(IReadOnlyList<string> Models, QuantAxes Axes);

public enum SearchKind { Grid, Random }

/// <summary><c>grid</c>: every combination; <c>random</c>: <see cref="Samples"/> distinct evaluations drawn with <see cref="Seed"/>.</summary>
public sealed record SearchSpec(SearchKind Kind, int Samples, long Seed)
{
    public static readonly SearchSpec Grid = new(SearchKind.Grid, 0, 0);
}
