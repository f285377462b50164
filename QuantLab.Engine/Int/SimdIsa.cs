using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using QuantLab.Engine.Quantization;

namespace QuantLab.Engine.Int;

/// <summary>The vector operations the micro-kernel needs, for one vector width (int32 lanes = images per block).</summary>
internal interface ISimd<TV> where TV : struct
{
    static abstract int Lanes { get; }
    static abstract TV Zero { get; }
    static abstract TV Load(ref int source);
    static abstract void Store(TV value, ref int destination);
    /// <summary>The weight pair in every lane.</summary>
    static abstract TV Broadcast(int pair);
    /// <summary>acc + vpmaddwd(x, pairs): per int32 lane, x_low·w_low + x_high·w_high added to acc.</summary>
    static abstract TV MultiplyAdd(TV acc, TV x, TV pairs);
    static abstract TV Max(TV a, TV b);
    /// <summary>Per lane, the low int16 halves of a and b as one pair (a's low, b's high).</summary>
    static abstract TV PairLowHalves(TV a, TV b);
    /// <summary>Per int16 half: a + b and a − b (wrapping; callers prove they fit).</summary>
    static abstract TV AddHalves(TV a, TV b);
    static abstract TV SubtractHalves(TV a, TV b);
    /// <summary>Per int32 lane: a + b, a − b (wrapping), and x / 2 for an even x (arithmetic shift).</summary>
    static abstract TV Add(TV a, TV b);
    static abstract TV Subtract(TV a, TV b);
    static abstract TV HalveEven(TV x);
    /// <summary>Per int16 half x: lo = x &amp; 255 and hi = x &gt;&gt; 8 (arithmetic), so x = 256·hi + lo.</summary>
    static abstract (TV Low, TV High) SplitBytes(TV x);
    /// <summary>Per lane, max(256·high0 + low0, 256·high1 + low1) in int64 (|256·high| &lt; 2^39: no overflow),
    /// stored to into[0 .. Lanes) or max-combined with what is there.</summary>
    static abstract void WidenMax(TV low0, TV high0, TV low1, TV high1, ref long into, bool max);
    /// <summary>Per lane, the int32 sum widened to int64, stored to into[0 .. Lanes) or added to what is there.</summary>
    static abstract void WidenAdd(TV sums, ref long into, bool add);
    static abstract TV Xor(TV a, TV b);
    /// <summary>The channel's requantizer on int32 accumulators (<see cref="VectorRequantizer.Apply(Vector256{int})"/>).</summary>
    static abstract TV Requantize(in VectorRequantizer requantizer, TV acc);
}

internal struct Avx2Simd : ISimd<Vector256<int>>
{
    public static int Lanes => 8;
    public static Vector256<int> Zero => Vector256<int>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<int> Load(ref int source) => Vector256.LoadUnsafe(ref source);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector256<int> value, ref int destination) => value.StoreUnsafe(ref destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<int> Max(Vector256<int> a, Vector256<int> b) => Avx2.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<int> Broadcast(int pair) => Vector256.Create(pair);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<int> Xor(Vector256<int> a, Vector256<int> b) => a ^ b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<int> Requantize(in VectorRequantizer requantizer, Vector256<int> acc) => requantizer.Apply(acc);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<int> PairLowHalves(Vector256<int> a, Vector256<int> b) => (a & Vector256.Create(0xFFFF)) | (b << 16);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<int> AddHalves(Vector256<int> a, Vector256<int> b) => (a.AsInt16() + b.AsInt16()).AsInt32();
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<int> SubtractHalves(Vector256<int> a, Vector256<int> b) => (a.AsInt16() - b.AsInt16()).AsInt32();
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<int> Add(Vector256<int> a, Vector256<int> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<int> Subtract(Vector256<int> a, Vector256<int> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<int> HalveEven(Vector256<int> x) => Vector256.ShiftRightArithmetic(x, 1);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (Vector256<int>, Vector256<int>) SplitBytes(Vector256<int> x) =>
        (x & Vector256.Create(0x00FF00FF), Vector256.ShiftRightArithmetic(x.AsInt16(), 8).AsInt32());
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> MultiplyAdd(Vector256<int> acc, Vector256<int> x, Vector256<int> pairs) =>
        Avx2.Add(acc, Avx2.MultiplyAddAdjacent(x.AsInt16(), pairs.AsInt16()));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void WidenMax(Vector256<int> low0, Vector256<int> high0, Vector256<int> low1, Vector256<int> high1, ref long into, bool max)
    {
        var (l0, u0) = Vector256.Widen(low0);
        var (l1, u1) = Vector256.Widen(low1);
        var (hl0, hu0) = Vector256.Widen(high0);
        var (hl1, hu1) = Vector256.Widen(high1);
        var lower = Vector256.Max((hl0 << 8) + l0, (hl1 << 8) + l1);
        var upper = Vector256.Max((hu0 << 8) + u0, (hu1 << 8) + u1);
        if (max)
        {
            lower = Vector256.Max(lower, Vector256.LoadUnsafe(ref into));
            upper = Vector256.Max(upper, Vector256.LoadUnsafe(ref into, 4));
        }
        lower.StoreUnsafe(ref into);
        upper.StoreUnsafe(ref into, 4);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void WidenAdd(Vector256<int> sums, ref long into, bool add)
    {
        var (lower, upper) = Vector256.Widen(sums);
        if (add)
        {
            lower += Vector256.LoadUnsafe(ref into);
            upper += Vector256.LoadUnsafe(ref into, 4);
        }
        lower.StoreUnsafe(ref into);
        upper.StoreUnsafe(ref into, 4);
    }
}

internal struct Avx512Simd : ISimd<Vector512<int>>
{
    public static int Lanes => 16;
    public static Vector512<int> Zero => Vector512<int>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<int> Load(ref int source) => Vector512.LoadUnsafe(ref source);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector512<int> value, ref int destination) => value.StoreUnsafe(ref destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<int> Max(Vector512<int> a, Vector512<int> b) => Vector512.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<int> Broadcast(int pair) => Vector512.Create(pair);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<int> Xor(Vector512<int> a, Vector512<int> b) => a ^ b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<int> Requantize(in VectorRequantizer requantizer, Vector512<int> acc) => requantizer.Apply(acc);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<int> PairLowHalves(Vector512<int> a, Vector512<int> b) => (a & Vector512.Create(0xFFFF)) | (b << 16);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<int> AddHalves(Vector512<int> a, Vector512<int> b) => (a.AsInt16() + b.AsInt16()).AsInt32();
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<int> SubtractHalves(Vector512<int> a, Vector512<int> b) => (a.AsInt16() - b.AsInt16()).AsInt32();
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<int> Add(Vector512<int> a, Vector512<int> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<int> Subtract(Vector512<int> a, Vector512<int> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<int> HalveEven(Vector512<int> x) => Vector512.ShiftRightArithmetic(x, 1);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (Vector512<int>, Vector512<int>) SplitBytes(Vector512<int> x) =>
        (x & Vector512.Create(0x00FF00FF), Vector512.ShiftRightArithmetic(x.AsInt16(), 8).AsInt32());
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> MultiplyAdd(Vector512<int> acc, Vector512<int> x, Vector512<int> pairs)
    {
        if (Avx512BW.IsSupported)
            return Avx512F.Add(acc, Avx512BW.MultiplyAddAdjacent(x.AsInt16(), pairs.AsInt16()));
        // Emulation for tests on machines without AVX-512 (KernelPaths.EmulateAvx512): the same
        // instruction on the two 256-bit halves.
        return acc + Vector512.Create(Avx2.MultiplyAddAdjacent(x.GetLower().AsInt16(), pairs.GetLower().AsInt16()),
            Avx2.MultiplyAddAdjacent(x.GetUpper().AsInt16(), pairs.GetUpper().AsInt16()));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void WidenMax(Vector512<int> low0, Vector512<int> high0, Vector512<int> low1, Vector512<int> high1, ref long into, bool max)
    {
        var (l0, u0) = Vector512.Widen(low0);
        var (l1, u1) = Vector512.Widen(low1);
        var (hl0, hu0) = Vector512.Widen(high0);
        var (hl1, hu1) = Vector512.Widen(high1);
        var lower = Vector512.Max((hl0 << 8) + l0, (hl1 << 8) + l1);
        var upper = Vector512.Max((hu0 << 8) + u0, (hu1 << 8) + u1);
        if (max)
        {
            lower = Vector512.Max(lower, Vector512.LoadUnsafe(ref into));
            upper = Vector512.Max(upper, Vector512.LoadUnsafe(ref into, 8));
        }
        lower.StoreUnsafe(ref into);
        upper.StoreUnsafe(ref into, 8);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void WidenAdd(Vector512<int> sums, ref long into, bool add)
    {
        var (lower, upper) = Vector512.Widen(sums);
        if (add)
        {
            lower += Vector512.LoadUnsafe(ref into);
            upper += Vector512.LoadUnsafe(ref into, 8);
        }
        lower.StoreUnsafe(ref into);
        upper.StoreUnsafe(ref into, 8);
    }
}
