using System.Reflection;
using QuantLab.Engine;
using QuantLab.Engine.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace QuantLab.Tests.Training;

/// <summary>
/// No project code hands TorchSharp a temporary Scalar (a number converted for a tensor op, or the implicit
/// alpha of tensor + tensor): a collection can finalize it while libtorch reads it (<see cref="ScalarOps"/>).
/// Read from the compiled IL of every project assembly, so a new <c>t * 2.0</c> anywhere fails here.
/// </summary>
public sealed class TorchScalarLifetimeTests
{
    private static readonly Type[] Allowed = [typeof(ScalarOps), typeof(MomentumSgd), typeof(TorchScalarLifetimeTests)];

    [Fact]
    public void Project_code_passes_numbers_to_tensor_ops_only_through_ScalarOps()
    {
        var assemblies = new[] { typeof(ScalarOps).Assembly, typeof(QuantLab.Host.Cli.QuantLabCli).Assembly, typeof(QuantLab.Actors.Workers.EngineJobExecutor).Assembly, typeof(TorchScalarLifetimeTests).Assembly };
        var offenders = assemblies.SelectMany(a => a.GetTypes())
            .Where(t => !Allowed.Contains(Outermost(t)))
            .SelectMany(t => t.GetMethods(All).Cast<MethodBase>().Concat(t.GetConstructors(All)).Where(m => m.DeclaringType == t))
            .SelectMany(m => Calls(m).Where(IsTemporaryScalar).Select(c => $"{m.DeclaringType!.FullName}.{m.Name} calls {c.DeclaringType!.Name}.{c.Name}({string.Join(", ", c.GetParameters().Select(p => p.ParameterType.Name))})"))
            .Distinct().ToList();
        Assert.True(offenders.Count == 0, "temporary Scalars handed to TorchSharp:\n" + string.Join("\n", offenders));
    }

    [Fact]
    public void The_scan_finds_a_temporary_Scalar()
    {
        var method = typeof(TorchScalarLifetimeTests).GetMethod(nameof(Doubles), All)!;
        Assert.Contains(Calls(method), IsTemporaryScalar);
        var plus = typeof(TorchScalarLifetimeTests).GetMethod(nameof(Adds), All)!;
        Assert.Contains(Calls(plus), IsTemporaryScalar);
        var safe = typeof(TorchScalarLifetimeTests).GetMethod(nameof(AddsSafely), All)!;
        Assert.DoesNotContain(Calls(safe), IsTemporaryScalar);
    }

    private static Tensor Doubles(Tensor t) => t * 2.0;
    private static Tensor Adds(Tensor a, Tensor b) => a + b;
    private static Tensor AddsSafely(Tensor a, Tensor b) => a.Plus(b).Times(2.0);

    private const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    private static Type Outermost(Type t) => t.DeclaringType is { } d ? Outermost(d) : t;

    /// <summary>A conversion to Scalar; a Tensor operator with a number operand (it converts inside TorchSharp);
    /// tensor + tensor and add(tensor), whose alpha 1 TorchSharp converts.</summary>
    private static bool IsTemporaryScalar(MethodBase call)
    {
        if (call.DeclaringType == typeof(Scalar)) return call.Name == "op_Implicit";
        if (call.DeclaringType != typeof(Tensor)) return false;
        var parameters = call.GetParameters();
        if (call.Name.StartsWith("op_", StringComparison.Ordinal))
            return parameters.Any(p => p.ParameterType != typeof(Tensor)) || call.Name == "op_Addition";
        return call.Name is "add" or "add_" && parameters.Length == 1 && parameters[0].ParameterType == typeof(Tensor);
    }

    private static IEnumerable<MethodBase> Calls(MethodBase method) => IlTokens.Of(method).OfType<MethodBase>();
}
