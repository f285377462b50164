using System.Runtime.Intrinsics.X86;

namespace QuantLab.Engine.Int;

/// <summary>Which implementation of the integer kernels runs a <see cref="CompiledModel"/>.</summary>
public enum KernelPath
{
    /// <summary><see cref="ReferenceKernels"/>: plain loops, int64 accumulators, one image at a time.</summary>
    Scalar,

    /// <summary><see cref="SimdKernels"/> with 256-bit vectors: 8 images per block (vpmaddwd ymm).</summary>
    Avx2,

    /// <summary><see cref="SimdKernels"/> with 512-bit vectors: 16 images per block (vpmaddwd zmm).</summary>
    Avx512,
}

public static class KernelPaths
{
    /// <summary>Whether this machine runs <paramref name="path"/> (AVX-512 needs F and BW; the requantizer uses AVX2).</summary>
    public static bool IsSupported(KernelPath path) => path switch
    {
        KernelPath.Scalar => true,
        KernelPath.Avx2 => Avx2.IsSupported,
        KernelPath.Avx512 => Avx512F.IsSupported && Avx512BW.IsSupported && Avx2.IsSupported,
        _ => false,
    };

    /// <summary>The fastest path this machine supports: the default.</summary>
    public static KernelPath Best =>
        IsSupported(KernelPath.Avx512) ? KernelPath.Avx512 : IsSupported(KernelPath.Avx2) ? KernelPath.Avx2 : KernelPath.Scalar;

    /// <summary>Every path this machine supports, slowest first.</summary>
    public static IReadOnlyList<KernelPath> Supported => Enum.GetValues<KernelPath>().Where(IsSupported).ToArray();

    /// <summary>
    /// Tests only: lets the AVX-512 kernels run on a machine without AVX-512 (Vector512 in software, the
    /// multiply-add on two 256-bit halves), so their indexing is checked on every test machine. Slow.
    /// </summary>
    internal static bool EmulateAvx512 { get; set; }

    public static string ToOption(this KernelPath path) => path switch
    {
        KernelPath.Scalar => "scalar",
        KernelPath.Avx2 => "avx2",
        KernelPath.Avx512 => "avx512",
        _ => throw new ArgumentOutOfRangeException(nameof(path), path, null),
    };
}
