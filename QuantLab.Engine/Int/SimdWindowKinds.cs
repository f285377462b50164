using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using QuantLab.Engine.Quantization;

namespace QuantLab.Engine.Int;

/// <summary>Compile-time group sizes (1..8 output channels per micro-kernel call): the JIT removes the unused accumulators.</summary>
internal interface IGroupSize { static abstract int Value { get; } }
internal struct G1 : IGroupSize { public static int Value => 1; }
internal struct G2 : IGroupSize { public static int Value => 2; }
internal struct G3 : IGroupSize { public static int Value => 3; }
internal struct G4 : IGroupSize { public static int Value => 4; }
internal struct G5 : IGroupSize { public static int Value => 5; }
internal struct G6 : IGroupSize { public static int Value => 6; }
internal struct G7 : IGroupSize { public static int Value => 7; }
internal struct G8 : IGroupSize { public static int Value => 8; }

/// <summary>A kind of pool-window micro-kernel call: how its four input streams are loaded at a tap (from the first
/// input vectors x0..x3 plus the tap's offset), and what it does with a channel's four sums s0..s3: reduce them and
/// write channel <c>c</c>'s result from <c>acc</c> on, or with <c>max</c> combine it with what is there (the max of a
/// pool window's positions; <see cref="FourSums{TS, TV}"/>: the sum of a layer's chunks).</summary>
internal interface IWindowKind<TS, TV> where TS : struct, ISimd<TV> where TV : struct
{
    /// <summary>Output positions per call (4 or 2): the first input vectors x0.. come from that many window entries.</summary>
    static abstract int Positions { get; }
    /// <summary>Input streams per tap: 4, or 2 (v0, v1; the kernel then computes no s2, s3 and passes zeros).</summary>
    static abstract int Streams { get; }
    static abstract void Load(ref int x0, ref int x1, ref int x2, ref int x3, nint offset, out TV v0, out TV v1, out TV v2, out TV v3);
    static abstract void Finish(TV s0, TV s1, TV s2, TV s3, ref int acc, int c, bool max);
}

/// <summary>Four positions of a pool window, in int32 sums: their max, into int32 lanes acc[c·L ..].</summary>
internal struct MaxOfFour<TS, TV> : IWindowKind<TS, TV> where TS : struct, ISimd<TV> where TV : struct
{
    public static int Positions => 4;
    public static int Streams => 4;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Load(ref int x0, ref int x1, ref int x2, ref int x3, nint offset, out TV v0, out TV v1, out TV v2, out TV v3)
    {
        v0 = TS.Load(ref Unsafe.Add(ref x0, offset));
        v1 = TS.Load(ref Unsafe.Add(ref x1, offset));
        v2 = TS.Load(ref Unsafe.Add(ref x2, offset));
        v3 = TS.Load(ref Unsafe.Add(ref x3, offset));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Finish(TV s0, TV s1, TV s2, TV s3, ref int acc, int c, bool max) =>
        MaxOfTwo<TS, TV>.Put(TS.Max(TS.Max(s0, s1), TS.Max(s2, s3)), ref acc, c, max);
}

/// <summary>Two positions of a pool window, in int32 sums: their max, into int32 lanes acc[c·L ..]. AVX2's pool-window call:
/// up to 6 channels' 12 sums, the 2 inputs and a weight fit its 16 registers, so each input vector loaded serves 6
/// channels (4 positions of 2 channels: 2). On an AMD EPYC (Zen 3, 1 thread) a stand-alone copy of each loop issued
/// 2.1–2.9 G multiply-adds per second against 1.6–2.1 G, and LeNet-5's conv1 ran about 10 % faster, conv3 about 5 %.
/// Tried and dropped: weights stored broadcast (8 copies of each pair, read as vpmaddwd's memory operand instead of a
/// vpbroadcastd per channel): conv1 about 10 % and conv3 about 20 % slower on the same EPYC (conv3's weights then fill 38 KB).</summary>
internal struct MaxOfTwo<TS, TV> : IWindowKind<TS, TV> where TS : struct, ISimd<TV> where TV : struct
{
    public static int Positions => 2;
    public static int Streams => 2;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Load(ref int x0, ref int x1, ref int x2, ref int x3, nint offset, out TV v0, out TV v1, out TV v2, out TV v3)
    {
        v0 = TS.Load(ref Unsafe.Add(ref x0, offset));
        v1 = TS.Load(ref Unsafe.Add(ref x1, offset));
        v2 = v3 = TS.Zero;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Finish(TV s0, TV s1, TV s2, TV s3, ref int acc, int c, bool max) => Put(TS.Max(s0, s1), ref acc, c, max);

    /// <summary>Channel c's window max, stored at acc[c·L ..] or max-combined with what is there.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Put(TV best, ref int acc, int c, bool max)
    {
        ref int to = ref Unsafe.Add(ref acc, c * TS.Lanes);
        TS.Store(max ? TS.Max(best, TS.Load(ref to)) : best, ref to);
    }
}

/// <summary>Four positions of a pool window, in int32 sums over one chunk of taps (<see cref="AccumulatorKind.ChunkedInt32"/>):
/// each position's sums widened to int64 and stored apart (or, with <c>max</c>, added to what is there: a later chunk),
/// position p of channel c at int64 lanes [(p·<see cref="PackedDot.GroupWidth"/> + c)·L ..] of acc (a long[] seen as int).</summary>
internal struct FourSums<TS, TV> : IWindowKind<TS, TV> where TS : struct, ISimd<TV> where TV : struct
{
    public static int Positions => 4;
    public static int Streams => 4;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Load(ref int x0, ref int x1, ref int x2, ref int x3, nint offset, out TV v0, out TV v1, out TV v2, out TV v3) =>
        MaxOfFour<TS, TV>.Load(ref x0, ref x1, ref x2, ref x3, offset, out v0, out v1, out v2, out v3);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Finish(TV s0, TV s1, TV s2, TV s3, ref int acc, int c, bool max)
    {
        int position = PackedDot.GroupWidth * TS.Lanes;
        ref long to = ref Unsafe.Add(ref Unsafe.As<int, long>(ref acc), c * TS.Lanes);
        TS.WidenAdd(s0, ref to, max);
        TS.WidenAdd(s1, ref Unsafe.Add(ref to, position), max);
        TS.WidenAdd(s2, ref Unsafe.Add(ref to, 2 * position), max);
        TS.WidenAdd(s3, ref Unsafe.Add(ref to, 3 * position), max);
    }
}

/// <summary>Two positions (x0, x1; x2 and x3 unused) of 16-bit inputs, each split into bytes in registers (a load
/// serves two streams): low-byte sums s0, s1 and high-byte sums s2, s3, reduced to max(256·s2 + s0, 256·s3 + s1)
/// in int64, into int64 lanes (acc is a long[] seen as int) from element c·L on.</summary>
internal struct SplitMaxOfTwo<TS, TV> : IWindowKind<TS, TV> where TS : struct, ISimd<TV> where TV : struct
{
    public static int Positions => 2;
    public static int Streams => 4;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Load(ref int x0, ref int x1, ref int x2, ref int x3, nint offset, out TV v0, out TV v1, out TV v2, out TV v3)
    {
        (v0, v2) = TS.SplitBytes(TS.Load(ref Unsafe.Add(ref x0, offset)));
        (v1, v3) = TS.SplitBytes(TS.Load(ref Unsafe.Add(ref x1, offset)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Finish(TV s0, TV s1, TV s2, TV s3, ref int acc, int c, bool max) =>
        TS.WidenMax(s0, s2, s1, s3, ref Unsafe.Add(ref Unsafe.As<int, long>(ref acc), c * TS.Lanes), max);
}
