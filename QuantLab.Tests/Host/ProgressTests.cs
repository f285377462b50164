using QuantLab.Actors.Messages;
using QuantLab.Host.Progress;

namespace QuantLab.Tests.Host;

public class ProgressTests
{
    private static CampaignStatus Status(int done, int total = 4, string state = "running") =>
        new("c", state, total, done, 0, 1, total - done - 1,
            [new StageCounts("train", 1, Math.Min(done, 1), 0, 0, 1 - Math.Min(done, 1)), new StageCounts("evaluate", total - 1, Math.Max(0, done - 1), 0, 1, 0)]);

    [Fact]
    public void A_line_names_every_stage()
    {
        var text = new ProgressLine().Describe(Status(2));
        Assert.Contains("2/4 finished", text);
        Assert.Contains("train 1/1", text);
        Assert.Contains("evaluate 1/3 (1 running)", text);
        Assert.Contains("jobs/min", text);
    }

    [Fact]
    public void Without_a_terminal_lines_are_throttled_but_the_first_and_last_always_print()
    {
        var output = new StringWriter();
        var printer = new ProgressPrinter(output, terminal: false, TimeSpan.FromHours(1));
        printer.Report(Status(0));
        printer.Report(Status(1));
        printer.Report(Status(2));
        printer.Report(Status(4, state: "completed") with { Running = 0, Queued = 0 });
        var lines = output.ToString().TrimEnd().Split('\n');
        Assert.Equal(2, lines.Length);
        Assert.Contains("0/4 finished", lines[0]);
        Assert.Contains("completed", lines[1]);
        Assert.DoesNotContain("\r", output.ToString());
    }

    [Fact]
    public void On_a_terminal_one_line_is_redrawn_and_ended_once()
    {
        var output = new StringWriter();
        var printer = new ProgressPrinter(output, terminal: true, TimeSpan.Zero);
        printer.Report(Status(0));
        printer.Report(Status(1));
        printer.Report(Status(4, state: "completed"));
        printer.Finish();
        var text = output.ToString();
        Assert.Equal(3, text.Count(c => c == '\r'));
        Assert.Equal(1, text.Count(c => c == '\n'));
        Assert.EndsWith("\n", text);
    }

    [Fact]
    public void On_an_80_column_terminal_the_redrawn_line_fits_and_says_where_it_was_cut()
    {
        var output = new StringWriter();
        var printer = new ProgressPrinter(output, terminal: true, TimeSpan.Zero, width: 80);
        printer.Report(Status(2));
        var line = output.ToString().TrimStart('\r').Replace("\u001b[K", "", StringComparison.Ordinal);
        Assert.True(new ProgressLine().Describe(Status(2)).Length > 80, "the full line is longer than the terminal");
        Assert.Equal(79, line.Length);
        Assert.EndsWith("…", line);
        Assert.Equal("short", ProgressPrinter.Fit("short", 80));
    }

    [Fact]
    public void Time_left_is_estimated_per_stage_from_that_stages_own_jobs()
    {
        var now = TimeSpan.Zero;
        var line = new ProgressLine(() => now);
        CampaignStatus At(int trainDone, int trainRunning, int evalDone, int evalRunning) =>
            new("c", "running", 4 + 100, trainDone + evalDone, 0, trainRunning + evalRunning, 104 - trainDone - evalDone - trainRunning - evalRunning,
                [new StageCounts("train", 4, trainDone, 0, trainRunning, 4 - trainDone - trainRunning),
                 new StageCounts("evaluate", 100, evalDone, 0, evalRunning, 100 - evalDone - evalRunning)]);

        Assert.Contains("time left unknown until the first train job finishes", line.Describe(At(0, 2, 0, 0)));
        now = TimeSpan.FromSeconds(60);
        // Two trainings in a minute: two more take another minute; no evaluation has run yet.
        Assert.EndsWith("about 00:01:00 left plus evaluate (not timed yet)", line.Describe(At(2, 2, 0, 0)));
        // No training finishes for a while: the time left counts down by up to one job's share (30 s), then holds.
        now = TimeSpan.FromSeconds(75);
        Assert.EndsWith("about 00:00:45 left plus evaluate (not timed yet)", line.Describe(At(2, 2, 0, 0)));
        now = TimeSpan.FromSeconds(100);
        Assert.EndsWith("about 00:00:30 left plus evaluate (not timed yet)", line.Describe(At(2, 2, 0, 0)));
        now = TimeSpan.FromSeconds(120);
        Assert.EndsWith("time left unknown until the first evaluate job finishes", line.Describe(At(4, 0, 0, 2)));
        now = TimeSpan.FromSeconds(130);
        // 50 evaluations in 10 s: the other 50 take 10 s, however slow the trainings were.
        Assert.EndsWith("about 00:00:10 left", line.Describe(At(4, 0, 50, 2)));
    }
}
