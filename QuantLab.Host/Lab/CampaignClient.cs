using System.Threading.Channels;
using Akka.Actor;
using QuantLab.Actors.Messages;
using QuantLab.Actors.Planning;
using QuantLab.Engine;

namespace QuantLab.Host.Lab;

/// <summary>Talks to the coordinator (a local actor or the singleton's proxy) for <c>run</c> and <c>submit</c>.</summary>
public static class CampaignClient
{
    public static Task<CampaignAccepted> SubmitAsync(IActorRef coordinator, CampaignPlan plan, TimeSpan timeout, CancellationToken cancel) =>
        AskAsync<CampaignAccepted>(coordinator, new SubmitCampaign(plan), timeout, cancel);

    public static Task<RetryAccepted> RetryAsync(IActorRef coordinator, string campaign, string? key, TimeSpan timeout, CancellationToken cancel) =>
        AskAsync<RetryAccepted>(coordinator, new RetryJobs(campaign, key), timeout, cancel);

    /// <summary>The coordinator's answer <typeparamref name="T"/>; its refusal is bad input, its silence the infrastructure's fault.</summary>
    private static async Task<T> AskAsync<T>(IActorRef coordinator, object message, TimeSpan timeout, CancellationToken cancel)
    {
        object reply;
        try
        {
            reply = await coordinator.Ask<object>(message, timeout, cancel);
        }
        catch (AskTimeoutException e)
        {
            throw new InfrastructureException($"the coordinator did not answer within {timeout.TotalSeconds:F0} s", e);
        }
        return reply switch
        {
            T accepted => accepted,
            CampaignRefused r => throw new BadInputException($"campaign {r.Campaign} refused: {r.Reason}"),
            _ => throw new InfrastructureException($"unexpected reply from the coordinator: {reply.GetType().Name}"),
        };
    }

    /// <summary>
    /// Follows the campaign until it is completed or failed, reporting each change, and the newest status
    /// again every two seconds. Asks again as often, so a coordinator that moved to another node (and forgot
    /// its watchers) is followed too.
    /// </summary>
    public static async Task<CampaignStatus> FollowAsync(ActorSystem system, IActorRef coordinator, string campaign, Action<CampaignStatus> progress, CancellationToken cancel)
    {
        var channel = Channel.CreateUnbounded<CampaignStatus>();
        var listener = system.ActorOf(Props.Create(() => new Listener(channel.Writer)));
        try
        {
            CampaignStatus? last = null;
            while (true)
            {
                coordinator.Tell(new WatchCampaign(campaign), listener);
                using var tick = CancellationTokenSource.CreateLinkedTokenSource(cancel);
                tick.CancelAfter(TimeSpan.FromSeconds(2));
                try
                {
                    while (await channel.Reader.WaitToReadAsync(tick.Token))
                        while (channel.Reader.TryRead(out var status))
                        {
                            if (status != last) progress(status);
                            last = status;
                            if (status.Finished) return status;
                        }
                }
                catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
                {
                    // Ask again, and report the newest status again: a printer that throttled the job's
                    // start (it came right after a completion) shows it now, and the clock moves on.
                    if (last is not null) progress(last);
                }
            }
        }
        finally
        {
            system.Stop(listener);
        }
    }

    /// <summary>The exit code of a verb that waited for a campaign's end (run, retry, submit --wait): 3 if the environment
    /// failed jobs (run again to retry them), else 1 if a configuration failed, else 0.</summary>
    public static int ExitCode(CampaignStatus s) => s.EnvironmentFailed > 0 ? 3 : s.Failed > 0 ? 1 : 0;

    public static string Describe(CampaignStatus s) =>
        $"{s.Campaign}: {s.State} — {s.Done + s.Failed}/{s.Total} finished ({s.Done} done, {s.Failed} failed{(s.EnvironmentFailed > 0 ? $", {s.EnvironmentFailed} of them by the environment: run again to retry" : "")}), {s.Running} running, {s.Queued} queued"
        + Producers(s);

    /// <summary>With TLS, whose certificates the results carry (a lab without TLS has no identities to show).</summary>
    private static string Producers(CampaignStatus s) =>
        s.Producers is { } p && p.Any(x => x.Identity is not null)
            ? "; results by " + string.Join(", ", p.Select(x => $"{x.Identity ?? "nodes without TLS"} ({x.Results})"))
            : "";

    private sealed class Listener : ReceiveActor
    {
        public Listener(ChannelWriter<CampaignStatus> writer) => Receive<CampaignStatus>(s => writer.TryWrite(s));
    }
}
