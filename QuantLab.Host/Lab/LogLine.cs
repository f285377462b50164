using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace QuantLab.Host.Lab;

public sealed class LogLineOptions : ConsoleFormatterOptions
{
    /// <summary><c>--verbose</c>: each logged exception in full, with its stack trace.</summary>
    public bool Verbose { get; set; }
}

/// <summary>
/// A lab's log on stderr, one line per entry: level, category, the message's first line and the innermost cause's message.
/// Stack traces are for whoever debugs QuantLab (<c>--verbose</c>); a user needs the cause, which the verb's
/// own error line names (a full disk, read-only storage).
/// </summary>
public sealed class LogLine(IOptionsMonitor<LogLineOptions> options) : ConsoleFormatter(Name)
{
    public new const string Name = "quantlab";

    public override void Write<TState>(in LogEntry<TState> entry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        var verbose = options.CurrentValue.Verbose;
        var message = entry.Formatter(entry.State, entry.Exception);
        // Akka formats an error's cause into the message itself ("… Cause: Type: message\n   at …"): its first line names the cause.
        if (!verbose) message = message.Split('\n', 2)[0].TrimEnd('\r');
        var level = entry.LogLevel switch
        {
            LogLevel.Critical => "crit", LogLevel.Error => "fail", LogLevel.Warning => "warn", LogLevel.Information => "info", _ => "dbug",
        };
        textWriter.Write($"{level}: {entry.Category}: {message}");
        if (entry.Exception is { } e)
            textWriter.Write(verbose ? Environment.NewLine + e : $" ({e.GetBaseException().Message.ReplaceLineEndings(" ")})");
        textWriter.WriteLine();
    }
}
