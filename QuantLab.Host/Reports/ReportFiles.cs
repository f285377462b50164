using System.Text.Json;
using System.Text.Json.Nodes;
using QuantLab.Actors.Coordinator;
using QuantLab.Engine;
using QuantLab.Host.Configuration;
using QuantLab.Host.Lab;
using QuantLab.Host.Output;

namespace QuantLab.Host.Reports;

/// <summary>A campaign's report in every format, written from the recorded events.</summary>
public static class ReportFiles
{
    /// <summary>The JSON header every report carries: status (interrupted where <paramref name="orphaned"/>: no live
    /// process holds the database), engine version, dropped combinations.</summary>
    public static JsonObject Header(CoordinatorState state, string campaign, bool orphaned = false)
    {
        var entry = state.Campaigns[campaign];
        return new JsonObject
        {
            ["status"] = JsonSerializer.SerializeToNode(StatusDocument.Of(LabReader.Status(state, campaign, orphaned)), JsonOutput.Options),
            ["engineVersion"] = entry.EngineVersion,
            ["dropped"] = JsonSerializer.SerializeToNode(entry.Dropped.Select(d => new { description = d.Description, reason = d.Reason }), JsonOutput.Options),
        };
    }

    /// <summary>Writes <c>&lt;campaign&gt;.{md,html,json,csv}</c> into <paramref name="directory"/>; returns the HTML file's path.</summary>
    /// <param name="data">Where the histograms' images come from.</param>
    /// <param name="log">MNIST acquisition messages.</param>
    public static string WriteAll(DataOptions data, Action<string> log, QuantLab.Actors.Storage.LabStore store, CoordinatorState state, string campaign, string directory)
    {
        var results = state.Results(campaign);
        var report = CampaignReport.Build(results);
        var header = Header(state, campaign);
        var histograms = ModelHistograms.For(data, log, store, results);
        Directory.CreateDirectory(directory);
        foreach (var format in ReportWriter.Formats)
            AtomicFile.WriteAllText(Path.Combine(directory, ReportWriter.FileName(campaign, format)), ReportWriter.Render(report, format, header, histograms));
        return Path.GetFullPath(Path.Combine(directory, ReportWriter.FileName(campaign, "html")));
    }
}
