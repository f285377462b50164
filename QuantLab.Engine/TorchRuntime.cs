using System.Runtime.InteropServices;
using TorchSharp;

namespace QuantLab.Engine;

/// <summary>
/// Prepares TorchSharp's native libraries. Every engine entry point that touches TorchSharp calls
/// <see cref="EnsureInitialized"/> first.
/// </summary>
/// <remarks>
/// On systems whose libstdc++ predates GCC 13 (Debian 12, Ubuntu 22.04) the build writes
/// <c>libquantlab_iosinit.so</c> beside TorchSharp's native libraries and marks the GLIBCXX_3.4.32
/// requirement of the output's <c>libLibTorchSharp.so</c> weak (build/TorchSharpFix.targets).
/// The one symbol of that version TorchSharp uses, <c>std::ios_base_library_init()</c>, must then be
/// in the global symbol scope before TorchSharp loads: .NET's NativeLibrary.Load uses RTLD_LOCAL,
/// so the shim is opened with dlopen(RTLD_NOW | RTLD_GLOBAL) directly.
/// </remarks>
public static class TorchRuntime
{
    public const string ShimFileName = "libquantlab_iosinit.so";
    private const int RtldNow = 0x2, RtldGlobal = 0x100;
    private static readonly Lock Gate = new();
    private static bool _initialized;

    /// <summary>Where the shim was loaded from, or null where the system needed none.</summary>
    public static string? LoadedShim { get; private set; }

    /// <summary>Chooses libtorch's CPU kernels: <c>avx2</c> (default) or <c>native</c>.</summary>
    public const string KernelsVariable = "QUANTLAB_TORCH_KERNELS";

    /// <summary>
    /// What libtorch's float kernels were pinned to: <c>avx2</c>, or <c>native</c> (libtorch's own choice for this CPU).
    /// Its vectorized ops (ATen), convolutions (oneDNN) and matrix products (MKL) each pick kernels by CPU, and their
    /// results differ in the last bits, so the same seed trains different weights on an AVX2 and an AVX-512 machine.
    /// Pinned to AVX2 wherever the CPU has it, every such machine runs the same kernels (measured on an AVX2 machine:
    /// pinned and unpinned trainings are bit-identical, and unpinning each of the three changes the weights).
    /// A variable already set in the environment (ATEN_CPU_CAPABILITY, DNNL_MAX_CPU_ISA, MKL_CBWR) is left as it is.
    /// </summary>
    public static string Kernels { get; private set; } = "native";

    /// <summary>The CPU model and its widest vector extension, as recorded with every training.</summary>
    public static string CpuDescription
    {
        get
        {
            string model = "unknown CPU";
            try
            {
                model = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? model;
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
            var vectors = System.Runtime.Intrinsics.X86.Avx512BW.IsSupported ? "avx512" : System.Runtime.Intrinsics.X86.Avx2.IsSupported ? "avx2" : "no avx2";
            return $"{model} ({vectors})";
        }
    }

    public static void EnsureInitialized()
    {
        lock (Gate)
        {
            if (_initialized) return;
            if (OperatingSystem.IsLinux())
            {
                PinKernels();
                var shim = FindShim();
                if (shim is not null)
                {
                    if (dlopen(shim, RtldNow | RtldGlobal) == IntPtr.Zero)
                        throw new InvalidOperationException($"Could not load the libstdc++ compatibility shim '{shim}': {Marshal.PtrToStringUTF8(dlerror())}");
                    LoadedShim = shim;
                }
            }
            _initialized = true;
        }
    }

    /// <summary>Caps TorchSharp's intra-op threads (deterministic results need a fixed count).</summary>
    public static void SetThreads(int threads)
    {
        EnsureInitialized();
        if (threads <= 0) threads = Environment.ProcessorCount;
        torch.set_num_threads(threads);
    }

    /// <summary>Before libtorch runs anything: the native environment is what ATen, oneDNN and MKL read.</summary>
    private static void PinKernels()
    {
        var asked = Environment.GetEnvironmentVariable(KernelsVariable) ?? "avx2";
        if (asked is not ("avx2" or "native"))
            throw new BadInputException($"{KernelsVariable}={asked}: allowed: avx2, native");
        if (asked == "native" || !System.Runtime.Intrinsics.X86.Avx2.IsSupported) return;
        // overwrite = 0: what the user set in the environment wins. (.NET's SetEnvironmentVariable would not reach native code.)
        setenv("ATEN_CPU_CAPABILITY", "avx2", 0);
        setenv("DNNL_MAX_CPU_ISA", "AVX2", 0);
        setenv("MKL_CBWR", "AVX2", 0);
        Kernels = "avx2";
    }

    private static string? FindShim()
    {
        var baseDir = AppContext.BaseDirectory;
        foreach (var candidate in new[]
                 {
                     Path.Combine(baseDir, "runtimes", "linux-x64", "native", ShimFileName),
                     Path.Combine(baseDir, ShimFileName),
                 })
        {
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    [DllImport("libc", EntryPoint = "dlopen")]
    private static extern IntPtr dlopen(string fileName, int flags);

    [DllImport("libc", EntryPoint = "setenv")]
    private static extern int setenv(string name, string value, int overwrite);

    [DllImport("libc", EntryPoint = "dlerror")]
    private static extern IntPtr dlerror();
}
