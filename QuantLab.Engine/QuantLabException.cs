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
