using System.Runtime.InteropServices;
using System.Security.Cryptography;
using QuantLab.Engine;

namespace QuantLab.Tests.Host;

/// <summary>
/// libtorch picks float kernels by CPU, and trained weights follow them. QuantLab pins them to AVX2 (TorchRuntime)
/// so AVX2 and AVX-512 machines run the same kernels; these tests check the pin reaches libtorch and what it does here.
/// </summary>
public class TorchKernelsTests
{
    [DllImport("libc", EntryPoint = "getenv")]
    private static extern IntPtr getenv(string name);

    /// <summary>What the pin leaves libtorch on here: AVX2 wherever the CPU has it, unless the user asked for native kernels.</summary>
    private static string ExpectedKernels =>
        System.Runtime.Intrinsics.X86.Avx2.IsSupported && Environment.GetEnvironmentVariable(TorchRuntime.KernelsVariable) != "native" ? "avx2" : "native";

    [Fact]
    public void On_an_avx2_cpu_libtorch_is_pinned_to_avx2_kernels_in_the_native_environment()
    {
        TorchRuntime.EnsureInitialized();
        Assert.Equal(ExpectedKernels, TorchRuntime.Kernels);
        if (ExpectedKernels == "native") return;
        foreach (var (name, value) in new[] { ("ATEN_CPU_CAPABILITY", "avx2"), ("DNNL_MAX_CPU_ISA", "AVX2"), ("MKL_CBWR", "AVX2") })
            Assert.Equal(Environment.GetEnvironmentVariable(name) ?? value, Marshal.PtrToStringUTF8(getenv(name)));
        Assert.Contains(System.Runtime.Intrinsics.X86.Avx512BW.IsSupported ? "(avx512)" : "(avx2)", TorchRuntime.CpuDescription);
    }

    [Fact]
    public void The_test_process_is_pinned_before_any_test_runs()
    {
        // No EnsureInitialized here: TorchKernelsPin ran it when the assembly loaded, whichever test started first.
        Assert.Equal(ExpectedKernels, TorchRuntime.Kernels);
    }

    private static async Task<string> TrainedWeights(string dir, params (string, string)[] environment)
    {
        using var train = new QuantlabProcess(environment.ToDictionary(e => e.Item1, e => e.Item2),
            "train", "--out", dir, "--train-limit", "1000", "--epochs", "1");
        Assert.True(await train.WaitAsync(TimeSpan.FromMinutes(3)) == 0, train.Err);
        return Convert.ToHexString(SHA256.HashData(Directory.GetFiles(dir, "*.npy").Order(StringComparer.Ordinal).SelectMany(File.ReadAllBytes).ToArray()));
    }

    [Fact]
    public async Task The_kernel_choice_changes_trained_weights_and_the_pin_changes_nothing_on_an_avx2_machine()
    {
        using var temp = new TempDirectory();
        var pinned = await TrainedWeights(Path.Combine(temp.Path, "pinned"));
        var scalar = await TrainedWeights(Path.Combine(temp.Path, "scalar"), ("ATEN_CPU_CAPABILITY", "default"));
        Assert.NotEqual(pinned, scalar);   // the kernels matter, and a variable the user set wins over the pin
        if (System.Runtime.Intrinsics.X86.Avx2.IsSupported && !System.Runtime.Intrinsics.X86.Avx512BW.IsSupported)
            Assert.Equal(pinned, await TrainedWeights(Path.Combine(temp.Path, "native"), (TorchRuntime.KernelsVariable, "native")));
    }

    [Fact]
    public async Task An_unknown_kernel_choice_is_refused_naming_the_variable()
    {
        using var temp = new TempDirectory();
        using var train = new QuantlabProcess(new Dictionary<string, string> { [TorchRuntime.KernelsVariable] = "fast" },
            "train", "--out", Path.Combine(temp.Path, "m"), "--train-limit", "100", "--epochs", "1");
        Assert.Equal(2, await train.WaitAsync(TimeSpan.FromMinutes(2)));
        Assert.Contains("QUANTLAB_TORCH_KERNELS=fast: allowed: avx2, native", train.Err);
        Assert.False(Directory.Exists(Path.Combine(temp.Path, "m")));
    }
}
