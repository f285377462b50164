using QuantLab.Host.Cli;
using QuantLab.Host.Configuration;

namespace QuantLab.Tests.Host;

/// <summary>Runs the quantlab command line in-process with captured stdout and stderr.</summary>
public static class CliRunner
{
    public sealed record Result(int ExitCode, string Out, string Err)
    {
        public override string ToString() => $"exit {ExitCode}\nstdout:\n{Out}\nstderr:\n{Err}";
    }

    public static Result Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = QuantLabCli.Run(args, output, error, AppConfiguration.Build());
        return new Result(code, output.ToString(), error.ToString());
    }
}
