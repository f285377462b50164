using System.Runtime.CompilerServices;
using QuantLab.Engine;

namespace QuantLab.Tests;

/// <summary>
/// Pins libtorch's kernels (<see cref="TorchRuntime.EnsureInitialized"/>) when the test assembly loads, before any test.
/// libtorch reads the pin (ATEN_CPU_CAPABILITY, DNNL_MAX_CPU_ISA, MKL_CBWR) once, at its first kernel call, and xunit runs
/// test classes in parallel in no fixed order: a test whose first tensor op ran before any engine code had pinned them
/// left the whole test process on the CPU's native kernels. On an AVX-512 machine the shared trainings then gave other
/// weights; on a Zen 5 EPYC the LSQ W2/A2 fine-tuning (SharedQatModels.LsqTwoBitUnsigned) diverged to a NaN step within a
/// few mini-batches and failed two tests, where pinned it reaches 82.49 % (QUANTLAB_TORCH_KERNELS=native reproduces both).
/// </summary>
internal static class TorchKernelsPin
{
#pragma warning disable CA2255 // a module initializer is what runs before the first test, whichever xunit starts first
    [ModuleInitializer]
    internal static void Pin() => TorchRuntime.EnsureInitialized();
#pragma warning restore CA2255
}
