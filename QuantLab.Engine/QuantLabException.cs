namespace QuantLab.Engine;

/// <summary>
/// An error meant for the user: its message names the problem (file, JSON path, allowed values)
/// and its exit code is the one the CLI returns (DESIGN.md §6: 2 bad input, 3 infrastructure).
/// </summary>
public abstract class QuantLabException(string message, Exception? inner = null) : Exception(message, inner)
{
    public abstract int ExitCode { get; }
}

/// <summary>Bad input or usage: a missing or malformed file, an invalid option value. Exit code 2.</summary>
public class BadInputException(string message, Exception? inner = null) : QuantLabException(message, inner)
{
    public override int ExitCode => 2;
}

/// <summary>The environment failed: network, database, cluster, an unwritable directory. Exit code 3.</summary>
public class InfrastructureException(string message, Exception? inner = null) : QuantLabException(message, inner)
{
    public override int ExitCode => 3;
}

/// <summary>How a JSON syntax error is told to the user.</summary>
public static class JsonErrors
{
    /// <summary>"line L, byte B: reason", both 1-based; System.Text.Json's own message ends with its 0-based
    /// "LineNumber: … | BytePositionInLine: …", which then contradicted the position given first.</summary>
    public static string Describe(System.Text.Json.JsonException e)
    {
        var reason = System.Text.RegularExpressions.Regex.Replace(e.Message, @"\s*(Path: \S* \| )?LineNumber: \d+ \| BytePositionInLine: \d+\.?\s*$", "");
        var at = e.LineNumber is long line ? $"line {line + 1}, byte {e.BytePositionInLine + 1}: " : "";
        var path = e.Path is { Length: > 1 } p ? $"at {p}: " : "";
        return path + at + reason;
    }
}
