using QuantLab.Actors.Messages;

namespace QuantLab.Host.Lab;

/// <summary>A campaign's status as JSON (<c>status --json</c>, <c>run --json</c>, <c>submit --json</c> and the report's header).</summary>
public static class StatusDocument
{
    public static object Of(CampaignStatus s) => new
    {
        campaign = s.Campaign,
        state = s.State,
        jobs = new { total = s.Total, done = s.Done, failed = s.Failed, environmentFailed = s.EnvironmentFailed, running = s.Running, queued = s.Queued },
        stages = s.Stages?.ToDictionary(x => x.Stage, x => new { total = x.Total, done = x.Done, failed = x.Failed, running = x.Running, queued = x.Queued }),
        // Who produced the results: each node's certificate subject (null: nodes without TLS) and its count of succeeded jobs.
        producedBy = s.Producers?.Select(p => new { identity = p.Identity, results = p.Results }),
    };
}
