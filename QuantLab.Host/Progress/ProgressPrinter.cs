using QuantLab.Actors.Messages;

namespace QuantLab.Host.Progress;

/// <summary>
/// Where progress goes: on a terminal one line redrawn in place; otherwise (a file, a pipe, CI) plain
/// lines, at most one every <c>QuantLab:Orchestration:ProgressSeconds</c>, and always the last one.
/// </summary>
/// <param name="width">The terminal's columns: a redrawn line longer than that would wrap, and each redraw would
/// leave a line behind, so it is cut to fit (0: no limit).</param>
public sealed class ProgressPrinter(TextWriter error, bool terminal, TimeSpan interval, int width = 0)
{
    private readonly ProgressLine _line = new();
    private readonly System.Diagnostics.Stopwatch _sinceLast = System.Diagnostics.Stopwatch.StartNew();
    private bool _printedAny, _redrawn;

    /// <summary>A printer to <paramref name="error"/>, redrawing in place when that is the process's stderr on a terminal.</summary>
    public static ProgressPrinter For(TextWriter error, TimeSpan interval)
    {
        bool terminal = ReferenceEquals(error, Console.Error) && !Console.IsErrorRedirected;
        return new(error, terminal, interval, terminal ? TerminalWidth() : 0);
    }

    private static int TerminalWidth()
    {
        try { return Console.WindowWidth; }
        catch (Exception e) when (e is IOException or PlatformNotSupportedException) { return 80; }
    }

    /// <summary>The line as redrawn: at most width − 1 characters, ending in '…' where cut.</summary>
    public static string Fit(string text, int width) =>
        width <= 1 || text.Length < width ? text : text[..(width - 2)] + "…";

    public void Report(CampaignStatus status)
    {
        var text = _line.Describe(status);
        if (terminal)
        {
            error.Write("\r" + Fit(text, width) + "\u001b[K");
            _redrawn = true;
            if (status.Finished) Finish();
            return;
        }
        if (status.Finished || !_printedAny || _sinceLast.Elapsed >= interval)
        {
            error.WriteLine(text);
            _printedAny = true;
            _sinceLast.Restart();
        }
    }

    /// <summary>Ends the redrawn line (after the last status, or when the run stops early).</summary>
    public void Finish()
    {
        if (!_redrawn) return;
        error.WriteLine();
        _redrawn = false;
    }
}
