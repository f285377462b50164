using System.Collections.Concurrent;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using QuantLab.Actors.Messages;
using QuantLab.Host.Lab;

namespace QuantLab.Tests.Host;

/// <summary>Following a campaign as <c>run</c> and <c>submit --wait</c> do, against a coordinator played by a probe.</summary>
public sealed class CampaignClientTests : TestKit
{
    private static CampaignStatus Status(string state, int done, int running) => new("c", state, 4, done, 0, running, 4 - done - running);

    [Theory]
    [InlineData(4, 0, 0, 0)]   // every job done
    [InlineData(3, 1, 0, 1)]   // a configuration failed (diverged): a result
    [InlineData(2, 2, 1, 3)]   // one of the failed by the environment: run again to retry it
    [InlineData(0, 4, 4, 3)]
    public void Run_retry_and_submit_wait_share_one_exit_code(int done, int failed, int environmentFailed, int exitCode) =>
        Assert.Equal(exitCode, CampaignClient.ExitCode(new CampaignStatus("c", failed > 0 ? "failed" : "completed", 4, done, failed, 0, 0, EnvironmentFailed: environmentFailed)));

    [Fact]
    public async Task The_newest_status_is_reported_again_while_nothing_changes_and_following_ends_when_the_campaign_does()
    {
        var coordinator = CreateTestProbe();
        var reported = new ConcurrentQueue<CampaignStatus>();
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var follow = CampaignClient.FollowAsync(Sys, coordinator.Ref, "c", reported.Enqueue, cancel.Token);

        coordinator.ExpectMsg<WatchCampaign>(w => Assert.Equal("c", w.Campaign));
        var watcher = coordinator.LastSender;
        watcher.Tell(Status("running", 1, 1));
        watcher.Tell(Status("running", 1, 2));   // a job started just after one finished
        // Nothing changes for a while: the newest status comes again (a throttled printer gets to show it).
        coordinator.ExpectMsg<WatchCampaign>(TimeSpan.FromSeconds(10));
        AwaitCondition(() => reported.Count >= 3, TimeSpan.FromSeconds(10));
        Assert.Equal(Status("running", 1, 2), reported.Last());

        watcher.Tell(Status("completed", 4, 0));
        var final = await follow;
        Assert.Equal("completed", final.State);
        Assert.Equal(final, reported.Last());
    }
}
