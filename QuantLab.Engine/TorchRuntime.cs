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

    public static void EnsureInitialized()
    {
        lock (Gate)
        {
            if (_initialized) return;
            if (OperatingSystem.IsLinux())
            {
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

    [DllImport("libc", EntryPoint = "dlerror")]
    private static extern IntPtr dlerror();
}
