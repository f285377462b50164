namespace QuantLab.Actors.Campaigns;

/// <summary>
/// A parsed, validated campaign spec (<c>experiments/*.json</c>). Every axis is a non-empty list;
/// a list of one is a fixed value, a longer list is a sweep. Quantization values are canonical spellings
/// (see <see cref="QuantizationValues"/>).
/// </summary>
public sealed record CampaignSpec(
    string Name,
    DataOptions Data,
    IReadOnlyList<TrainSpec> Train,
    QuantizeSpec? Quantize,
    SearchSpec Search);

/// <summary>Dataset options shared by every job of the campaign.</summary>
/// <param name="InputTransform">How 28×28 MNIST becomes 32×32 (the engine's input transform, <c>QuantLab:Data:InputTransform</c>):
/// <c>resize</c> (bilinear) or <c>pad</c> (2 pixels).</param>
/// <param name="TestLimit">Measure accuracy on the first N test images only (trainings and evaluations); null: the whole test set.</param>
public sealed record DataOptions(string InputTransform, int? TestLimit)
{
    public static readonly DataOptions Default = new("resize", null);
}

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
    QuantAxes? Qat);

/// <summary>The quantization axes (the CLI's quantization flags, camelCased).</summary>
/// <param name="Bias">Null: the model's own bias mode (none without bias, float with).</param>
public sealed record QuantAxes(
    IReadOnlyList<string> Scope,
    IReadOnlyList<int> WeightBits,
    IReadOnlyList<int> ActBits,
    IReadOnlyList<string> WeightRange,
    IReadOnlyList<string> ActRange,
    IReadOnlyList<string> Granularity,
    IReadOnlyList<string> Rounding,
    IReadOnlyList<string> Requant,
    IReadOnlyList<string>? Bias,
    IReadOnlyList<int> Calibration);

/// <param name="Models">Training ids to quantize; empty means every non-QAT training.</param>
public sealed record QuantizeSpec(IReadOnlyList<string> Models, QuantAxes Axes);

public enum SearchKind { Grid, Random }

/// <summary><c>grid</c>: every combination; <c>random</c>: <see cref="Samples"/> distinct evaluations drawn with <see cref="Seed"/>.</summary>
public sealed record SearchSpec(SearchKind Kind, int Samples, long Seed)
{
    public static readonly SearchSpec Grid = new(SearchKind.Grid, 0, 0);
}
