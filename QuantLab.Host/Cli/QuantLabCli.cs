using System.CommandLine;
using System.CommandLine.Invocation;
using System.Reflection;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Configuration;
using QuantLab.Engine;
using QuantLab.Engine.Training;
using QuantLab.Host.Configuration;

namespace QuantLab.Host.Cli;

/// <summary>The <c>quantlab</c> command line: builds the verbs, runs one, and maps errors to the
/// documented exit codes (0 done, 1 finished with failed jobs, 2 bad input or usage, 3 infrastructure,
/// 130 interrupted by Ctrl+C / SIGINT, 143 terminated by SIGTERM).</summary>
public static class QuantLabCli
{
    public const int Ok = 0, Failed = 1, BadInput = 2, Infrastructure = 3, Interrupted = 130, Terminated = 143;

    /// <summary>Every verb's <c>--verbose</c>: stack traces of logged and reported errors (for debugging QuantLab itself).</summary>
    public static readonly Option<bool> Verbose = new("--verbose") { Description = "Show errors with their stack traces", Recursive = true };

    public static RootCommand Build(Func<CliContext> context)
    {
        var root = Verbs(context);
        root.Options.OfType<VersionOption>().Single().Action = new PrintVersion();
        return root;
    }

    private static RootCommand Verbs(Func<CliContext> context) => new("QuantLab: quantization studies of LeNet-5 on MNIST, from FP32 training to a bit-exact integer engine")
    {
        Verbose,
        DataCommand.Create(context),
        ModelCommand.Create(context),
        TrainCommand.Create(context),
        QuantizeCommand.Create(context),
        InferCommand.Create(context),
        BenchCommand.Create(context),
        RunCommand.Create(context),
        RetryCommand.Create(context),
        NodeCommand.Create(context),
        SubmitCommand.Create(context),
        StatusCommand.Create(context),
        ReportCommand.Create(context),
        ExportCommand.Create(context),
        DbCommand.Create(context),
        TlsCommand.Create(context),
    };

    public static int Run(string[] args, TextWriter? output = null, TextWriter? error = null, IConfiguration? configuration = null)
    {
        output ??= Console.Out;
        error ??= Console.Error;
        // This process's one place for SIGINT and SIGTERM (a lab host does not handle them, see LabHost): the
        // first asks the verb to stop cleanly through its cancellation token, with no deadline, since a clean
        // stop may wait for a worker; a second one gets the default action and ends the process at once.
        using var stop = new CancellationTokenSource();
        var stoppedWith = Interrupted;
        void OnSignal(PosixSignalContext signal)
        {
            if (stop.IsCancellationRequested) return;
            signal.Cancel = true;
            stoppedWith = signal.Signal == PosixSignal.SIGTERM ? Terminated : Interrupted;
            stop.Cancel();
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        CliContext? ctx = null;
        CliContext Context() => ctx ??= new CliContext(configuration ?? AppConfiguration.Build(), output, error);
        try
        {
            var root = Build(Context);
            var parse = root.Parse(args);
            if (parse.Errors.Count > 0)
            {
                foreach (var e in parse.Errors) error.WriteLine($"error: {e.Message}");
                var verb = parse.CommandResult.Command;
                error.WriteLine($"Run 'quantlab{(verb == root ? "" : " " + string.Join(' ', Path(verb, root)))} --help' for usage.");
                return BadInput;
            }
            var invocation = new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null };
            return parse.InvokeAsync(invocation, stop.Token).GetAwaiter().GetResult();
        }
        catch (QuantLabException e)
        {
            error.WriteLine($"error: {e.Message}");
            if (args.Contains(Verbose.Name) && e.InnerException is { } cause) error.WriteLine(cause);
            return e.ExitCode;
        }
        catch (TrainingDivergedException e)
        {
            // A failure of the configuration (DESIGN.md §5, invariant 3), not of the input or the machine.
            error.WriteLine($"error: {e.Message}; nothing was written");
            return Failed;
        }
        catch (OperationCanceledException)
        {
            error.WriteLine($"{(stoppedWith == Terminated ? "terminated" : "interrupted")}: nothing was written for the unfinished work");
            return stoppedWith;
        }
    }

    /// <summary><c>--version</c>: the build, and the engine version that is part of every job key (a database's results
    /// are only ever compared within one engine version), which the build number alone does not tell.</summary>
    private sealed class PrintVersion : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parse)
        {
            var build = typeof(QuantLabCli).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
            parse.InvocationConfiguration.Output.WriteLine($"quantlab {build} (engine {EngineInfo.Version})");
            return Ok;
        }
    }

    private static IEnumerable<string> Path(Command command, Command root)
    {
        var names = new List<string>();
        for (Symbol? s = command; s is Command c && c != root; s = c.Parents.FirstOrDefault())
            names.Insert(0, c.Name);
        return names;
    }
}
