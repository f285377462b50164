using QuantLab.Actors.Messages;
using QuantLab.Host.Cli;

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
}
