using QuantLab.Engine.Calibration;
using QuantLab.Engine.Qat;
using QuantLab.Engine.Quantization;
using QuantLab.Engine.Training;

namespace QuantLab.Engine.Jobs;

/// <summary>The stages of a campaign's job graph (DESIGN.md §5): train → calibrate → evaluate.</summary>
public enum JobKind { Train, Calibrate, Evaluate }

/// <summary>How an evaluation got its ranges: calibrated after training (PTQ) or learned in training (QAT).</summary>
public enum EvaluationMethod { Ptq, Qat }

/// <summary>A named reference to a job whose artifacts this one reads: <c>model</c> (a training) or <c>ranges</c> (a calibration).</summary>
public readonly record struct UpstreamRef(string Role, string Key);

/// <summary>The MNIST a job reads.</summary>
/// <param name="InputTransform">How 28×28 images become 32×32: <c>resize</c> (bilinear, the seed's) or <c>pad</c>.</param>
/// <param name="TestLimit">Measure accuracy on the first N test images only; null: the whole test set.</param>
public sealed record DataSelection(string InputTransform, int? TestLimit = null)
{
    public static readonly DataSelection Default = new("resize");

    /// <summary>The test images this job measures on.</summary>
    public LabeledImages Test(LabeledImages test) => TestLimit is { } n ? test.Take(n) : test;
}

/// <summary>
/// One job, typed: what the planner builds, the coordinator's events carry (in the canonical form of
/// <see cref="JobCodec"/>, from which the key is computed), a worker runs, and the report reads back.
/// The CLI verbs build the same records. One record per kind of job: <see cref="Fp32TrainJob"/>,
/// <see cref="QatTrainJob"/>, <see cref="CalibrateJob"/>, <see cref="EvaluateJob"/>.
/// </summary>
public abstract record JobRecord
{
    public abstract JobKind Kind { get; }

    public abstract DataSelection Data { get; init; }

    /// <summary>The jobs whose artifacts this one reads, by role.</summary>
    public virtual IReadOnlyList<UpstreamRef> Upstream => [];

    /// <summary>The key of the upstream job with <paramref name="role"/>.</summary>
    public string UpstreamKey(string role) =>
        Upstream.FirstOrDefault(u => u.Role == role) is { Key: not null } u ? u.Key : throw new InvalidOperationException($"{GetType().Name} has no upstream '{role}'");
}

/// <summary>An FP32 training (the seed's §1.3). <see cref="TrainOptions.Threads"/> and
/// <see cref="TrainOptions.LogEvery"/> are how it runs, not what it computes: they are not in the record's canonical form.</summary>
public sealed record Fp32TrainJob(TrainOptions Training, DataSelection Data) : JobRecord
{
    public override JobKind Kind => JobKind.Train;
}

/// <summary>A quantization-aware training (the seed's §3.1) for <see cref="QatOptions.Config"/>, from scratch or
/// fine-tuning the FP32 model of another training (<c>quantlab train --qat --from</c>).</summary>
/// <param name="From">The key of the FP32 training whose model it starts from; null: from scratch (seeded random weights).</param>
public sealed record QatTrainJob(TrainOptions Training, QatOptions Qat, DataSelection Data, string? From = null) : JobRecord
{
    public override JobKind Kind => JobKind.Train;

    public override IReadOnlyList<UpstreamRef> Upstream => From is null ? [] : [new(Roles.Model, From)];
}

/// <summary>The ranges of one FP32 model: <see cref="RangePlan"/> holds exactly what the range methods read.</summary>
/// <param name="Model">The key of the FP32 training.</param>
public sealed record CalibrateJob(string Model, RangePlan Ranges, DataSelection Data) : JobRecord
{
    public override JobKind Kind => JobKind.Calibrate;

    public override IReadOnlyList<UpstreamRef> Upstream => [new(Roles.Model, Model)];

    /// <summary>The calibration <paramref name="config"/> needs on the model of <paramref name="model"/>; the test set plays no part.</summary>
    public static CalibrateJob For(string model, QuantizationConfig config, int calibrationImages, string inputTransform) =>
        new(model, RangePlan.For(config, calibrationImages), new DataSelection(inputTransform));
}

/// <summary>
/// One quantized evaluation on the test set: PTQ (an FP32 model with the ranges of a calibrate job) or QAT
/// (a QAT model with its learned ranges; only <see cref="QuantizationConfig.Requant"/> may differ from its training).
/// </summary>
/// <param name="Model">The key of the training (FP32 for PTQ, QAT for QAT).</param>
/// <param name="Ranges">The key of the calibrate job (PTQ); null for QAT.</param>
/// <param name="CalibrationImages">The calibration set's size (PTQ with activation ranges), for reports.</param>
public sealed record EvaluateJob(EvaluationMethod Method, string Model, string? Ranges, QuantizationConfig Quantization, int? CalibrationImages, DataSelection Data) : JobRecord
{
    public override JobKind Kind => JobKind.Evaluate;

    public override IReadOnlyList<UpstreamRef> Upstream => Ranges is null ? [new(Roles.Model, Model)] : [new(Roles.Model, Model), new(Roles.Ranges, Ranges)];

    public static EvaluateJob Ptq(string model, CalibrateJob calibration, string calibrationKey, QuantizationConfig config, DataSelection data) =>
        new(EvaluationMethod.Ptq, model, calibrationKey, config, calibration.Ranges.CalibrationImages, data);

    public static EvaluateJob Qat(string model, QuantizationConfig config, DataSelection data) =>
        new(EvaluationMethod.Qat, model, null, config, null, data);
}

/// <summary>The names of upstream roles.</summary>
public static class Roles
{
    public const string Model = "model";
    public const string Ranges = "ranges";
}
