using QuantLab.Actors.Messages;
using QuantLab.Engine.Jobs;
using QuantLab.Actors.Storage;
using QuantLab.Actors.Workers;
using QuantLab.Engine.Reports;
using QuantLab.Engine.Training;

namespace QuantLab.Host.Reports;

/// <summary>
/// The engine's weight and activation histograms (the seed's §2.1 and §2.3) of a campaign's FP32 models,
/// drawn from the model artifacts its trainings stored; for the HTML report.
/// </summary>
public static class ModelHistograms
{
    public sealed record Section(string Title, IReadOnlyList<ReportPlots.Plot> Plots);

    /// <param name="calibration">Images for the activation histograms, for a model's input transform (a few hundred suffice).</param>
    /// <param name="models">At most this many FP32 models, one per training configuration (the first recorded of its seeds), in the campaign's order (the page stays small).</param>
    public static IReadOnlyList<Section> For(CampaignResults results, IArtifactStore store, Func<string, LabeledImages> calibration, int models = 2)
    {
        var sections = new List<Section>();
        foreach (var train in results.Results
                     .Where(r => r.Job is Fp32TrainJob && r.Status == OutcomeStatus.Succeeded)
                     // Only trainings that stored a model (a synthetic executor's jobs store none).
                     .Where(r => r.Artifacts.Keys.Any(k => k.StartsWith(EngineArtifacts.ModelPrefix, StringComparison.Ordinal)))
                     // One model per training configuration: the seeds of one configuration look alike.
                     .DistinctBy(r => JobCodec.Canonical(((Fp32TrainJob)r.Job) with { Training = ((Fp32TrainJob)r.Job).Training with { Seed = 0 } }))
                     .Take(models))
        {
            var model = EngineArtifacts.GetModel(train.Artifacts, store);
            var plots = RangeReport.Histograms(model, calibration(model.Manifest.InputTransform)).Select(h => new ReportPlots.Plot(h.Title, h.Png)).ToList();
            sections.Add(new Section($"Weight and activation histograms: {train.Label}", plots));
        }
        return sections;
    }

    /// <summary>The histograms of <paramref name="campaign"/>'s FP32 models in <paramref name="store"/>,
    /// on 300 seeded training images.</summary>
    public static IReadOnlyList<Section> For(Configuration.DataOptions data, Action<string> log, LabStore store, CampaignResults results)
    {
        var loaded = new Dictionary<string, LabeledImages>();   // one load per input transform
        return For(results, new DbArtifactStore(store), transform =>
            loaded.TryGetValue(transform, out var images) ? images
                : loaded[transform] = QuantLab.Engine.Ptq.Calibrator.Sample(Data.MnistData.Load(data, null, transform, log).Train, 300));
    }
}
