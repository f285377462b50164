using QuantLab.Actors.Messages;
using QuantLab.Engine.Jobs;
using QuantLab.Engine.Qat;
using QuantLab.Engine.Quantization;
using QuantLab.Engine.Training;

namespace QuantLab.Host.Reports;

/// <summary>
/// One finished job as a report sees it: its typed record, the record's fields as axes (<see cref="JobCodec.Axes"/>;
/// evaluate and calibrate rows also carry their training's under <c>train.*</c>), its numeric metrics, and its outcome.
/// </summary>
public sealed record ReportRow(
    string Key,
    JobRecord Job,
    string Label,
    IReadOnlyDictionary<string, string> Params,
    IReadOnlyDictionary<string, double> Metrics,
    string Status,
    string? Error,
    string? TrainKey = null,
    JobRecord? Training = null)
{
    /// <summary>The quantization an evaluation ran, or null.</summary>
    public QuantizationConfig? Quantization => (Job as EvaluateJob)?.Quantization;

    /// <summary>The training recipe of this job's model (or of this training): its settings and data, QAT or not.</summary>
    public (TrainOptions Options, DataSelection Data)? Recipe => (Training ?? Job) switch
    {
        Fp32TrainJob t => (t.Training, t.Data),
        QatTrainJob q => (q.Training, q.Data),
        _ => null,
    };

    public string Kind => Job.Kind.ToString().ToLowerInvariant();
    public string? Param(string name) => Params.GetValueOrDefault(name);
    public double? Metric(string name) => Metrics.TryGetValue(name, out var v) ? v : null;
    public double? Accuracy => Metric("accuracy");
    public bool IsEvaluation => Job is EvaluateJob;
    public bool IsQat => Job is EvaluateJob { Method: EvaluationMethod.Qat };

    /// <summary>
    /// How an evaluation's model was quantized, as the report's plot names it: <c>PTQ minmax</c> (by weight range
    /// method), <c>QAT observe</c> or <c>QAT lsq from FP32</c> (by training method and start), with
    /// <c>unsigned</c> where activations after a ReLU use the unsigned grid; null for other jobs.
    /// </summary>
    public string? Method => Quantization is not { } q ? null
        : (IsQat ? Training is QatTrainJob t ? $"QAT {t.Qat.Method.ToOption()}{(t.From is null ? "" : " from FP32")}" : "QAT"
                 : $"PTQ {q.WeightRange.ToOption()}")
          + (q.ActSignedness == ActSignedness.UnsignedAfterRelu && q.NeedsActivationRanges ? " unsigned" : "");

    /// <summary>The rows of a campaign's results: every job, evaluate and calibrate rows joined with their training.</summary>
    public static IReadOnlyList<ReportRow> From(CampaignResults results)
    {
        var byKey = results.Results.ToDictionary(r => r.Key);
        // Records leave the activation signedness out at its default (so older keys stand); where a campaign also has
        // unsigned evaluations, the signed ones are named too, so the axis varies in pivots and tables.
        var signedness = QuantizationOptions.ActSignedness;
        bool mixed = results.Results.Any(r => JobCodec.Axes(r.Job).ContainsKey(signedness.Field));
        return results.Results.Select(r =>
        {
            var parameters = new Dictionary<string, string>(JobCodec.Axes(r.Job), StringComparer.Ordinal);
            if (mixed && r.Job is EvaluateJob { Quantization.NeedsActivationRanges: true })
                parameters.TryAdd(signedness.Field, signedness.Default!);
            string? trainKey = r.Job.Upstream.FirstOrDefault(u => u.Role == Roles.Model).Key;
            JobResult? train = trainKey is not null && byKey.TryGetValue(trainKey, out var t) ? t : null;
            if (train is not null)
                foreach (var (k, v) in JobCodec.Axes(train.Job)) parameters["train." + k] = v;
            return new ReportRow(r.Key, r.Job, r.Label, parameters, new Dictionary<string, double>(r.Metrics.Numbers),
                r.Status == OutcomeStatus.Succeeded ? "succeeded" : "configuration-failed", r.Error, trainKey, train?.Job);
        }).ToList();
    }
}
