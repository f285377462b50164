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
}

internal struct Avx2Simd : ISimd<Vector256<int>>
{
    public static int Lanes => 8;
    public static Vector256<int> Zero => Vector256<int>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<int> Load(ref int source) => Vector256.LoadUnsafe(ref source);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector256<int> value, ref int destination) => value.StoreUnsafe(ref destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<int> Max(Vector256<int> a, Vector256<int> b) => Avx2.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<int> Broadcast(int pair) => Vector256.Create(pair);
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
    static abstract void Load(ref int x0, ref int x1, ref int x2, ref int x3, nint offset, out TV v0, out TV v1, out TV v2, out TV v3);
    static abstract void Finish(TV s0, TV s1, TV s2, TV s3, ref int acc, int c, bool max);
}

/// <summary>Four positions of a pool window, in int32 sums: their max, into int32 lanes acc[c·L ..].</summary>
internal struct MaxOfFour<TS, TV> : IWindowKind<TS, TV> where TS : struct, ISimd<TV> where TV : struct
{
    public static int Positions => 4;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Load(ref int x0, ref int x1, ref int x2, ref int x3, nint offset, out TV v0, out TV v1, out TV v2, out TV v3)
    {
        v0 = TS.Load(ref Unsafe.Add(ref x0, offset));
        v1 = TS.Load(ref Unsafe.Add(ref x1, offset));
        v2 = TS.Load(ref Unsafe.Add(ref x2, offset));
        v3 = TS.Load(ref Unsafe.Add(ref x3, offset));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Finish(TV s0, TV s1, TV s2, TV s3, ref int acc, int c, bool max)
    {
        ref int to = ref Unsafe.Add(ref acc, c * TS.Lanes);
        var best = TS.Max(TS.Max(s0, s1), TS.Max(s2, s3));
        TS.Store(max ? TS.Max(best, TS.Load(ref to)) : best, ref to);
    }
}

/// <summary>Four positions of a pool window, in int32 sums over one chunk of taps (<see cref="AccumulatorKind.ChunkedInt32"/>):
/// each position's sums widened to int64 and stored apart (or, with <c>max</c>, added to what is there: a later chunk),
/// position p of channel c at int64 lanes [(p·<see cref="PackedDot.GroupWidth"/> + c)·L ..] of acc (a long[] seen as int).</summary>
internal struct FourSums<TS, TV> : IWindowKind<TS, TV> where TS : struct, ISimd<TV> where TV : struct
{
    public static int Positions => 4;

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

/// <summary>
/// The SIMD integer path: L images per block (batch-major: a vector lane is an image), each op one short
/// function over its typed parameters. The micro-kernel keeps up to 8 output channels' accumulators in
/// registers, loads one pair vector per tap and multiplies it by each channel's broadcast weight pair
/// (vpmaddwd: int16·int16 pairs summed into int32). Requantization (<see cref="VectorRequantizer"/>) runs
/// on the accumulators after a fused max-pool, so a pooled conv requantizes a quarter of its outputs.
/// On AVX-512 a conv with a 2×2 pool computes each window's two columns by minimal filtering instead
/// (<see cref="ColumnPairDot"/>, <see cref="ColumnPairWindow{TS, TV, TG}"/>): a third fewer multiplies.
/// Bit-exact with <see cref="ReferenceKernels"/>: the integers are the exact Σ wq·xq (bounds checked by
/// <see cref="CompiledModel"/>), and the requantizer is proven identical to <see cref="Requantizer"/>.
/// </summary>
internal static class SimdKernels
{
    /// <summary>Per-thread scratch space: two activation buffers and the accumulators of one channel group.</summary>
    internal sealed class Workspace(CompiledModel model)
    {
        public readonly int[] A = new int[model.MaxBlockElements];
        public readonly int[] B = new int[model.MaxBlockElements];
        /// <summary>One channel group's accumulators for a row of output positions, [x][channel][lane].</summary>
        public readonly int[] RowAcc = new int[PackedDot.GroupWidth * model.Lanes * model.MaxOutputWidth];
        public readonly long[] RowAcc64 = new long[PackedDot.GroupWidth * model.Lanes * model.MaxOutputWidth];
        public readonly int[] Acc = new int[PackedDot.GroupWidth * model.Lanes];
        public readonly int[] AccHigh = new int[PackedDot.GroupWidth * model.Lanes];
        /// <summary>A SplitInt64 layer's input split into low bytes (from 0) and high bytes (from <see cref="HighBytes"/>),
        /// sized by the layers that read it (<see cref="ReadsSplitInput"/>; none at 8/8).</summary>
        public readonly int[] Split = new int[2 * SplitInputElements(model)];
        public int HighBytes => Split.Length / 2;
        public readonly long[] Chunk64 = new long[PackedDot.GroupWidth * model.Lanes];
        /// <summary>A ChunkedInt32 layer's int64 sums at up to 4 positions of a pool window, [position][channel][lane].</summary>
        public readonly long[] Sum4 = new long[4 * PackedDot.GroupWidth * model.Lanes];
        /// <summary>Row-paired input of 8 images, image-major, before the transpose into lanes (<see cref="StageRows"/>;
        /// AVX-512's <see cref="StageRowsSixteen"/> transposes in registers and needs none).</summary>
        public readonly int[] Pairs = model.InputLayout.Kind == PairLayout.Rows && !StagesInRegisters(model.Lanes)
            ? new int[8 * model.InputLayout.Height * model.InputLayout.Width] : [];

        private static int SplitInputElements(CompiledModel model) =>
            model.Ops.Select(op => op switch
            {
                ConvParams conv when ReadsSplitInput(conv.Dot, conv.Pool * conv.Pool) => conv.Input.Vectors,
                LinearParams linear when ReadsSplitInput(linear.Dot, 1) => linear.Input.Vectors,
                _ => 0,
            }).Append(0).Max() * model.Lanes;
    }

    /// <summary>Runs <paramref name="count"/> ≤ L images (the rest of the block is zero padding) and writes their logits.</summary>
    public static void RunBlock<TS, TV>(CompiledModel model, ReadOnlySpan<short> images, int count, Span<int> logits, Workspace ws)
        where TS : struct, ISimd<TV> where TV : struct
    {
        if (model.InputLayout.Kind == PairLayout.Rows && StagesInRegisters(TS.Lanes)) StageRowsSixteen(model.InputLayout, images, count, ws.A);
        else if (model.InputLayout.Kind == PairLayout.Rows) StageRows(model.InputLayout, images, count, TS.Lanes, ws);
        else Stage(model.InputLayout, images, count, TS.Lanes, ws.A);
        if (model.InputLayout.ColumnPlane) PairColumns<TS, TV>(model.InputLayout, ws.A);
        int[] x = ws.A, y = ws.B;
        foreach (var op in model.Ops)
        {
            switch (op)
            {
                case ConvParams conv: Conv<TS, TV>(conv, x, y, ws); break;
                case LinearParams linear: Linear<TS, TV>(linear, x, y, ws); break;
                case PoolParams pool: MaxPool(pool, TS.Lanes, x, y); break;
            }
            (x, y) = (y, x);
        }
        var output = model.OutputLayout;
        var halves = MemoryMarshal.Cast<int, short>(x.AsSpan());
        int classes = output.Elements;
        for (int c = 0, e = 0; c < output.Channels; c++)
        for (int yy = 0; yy < output.Height; yy++)
        for (int xx = 0; xx < output.Width; xx++, e++)
        {
            var (vector, half) = output.Locate(c, yy, xx);
            for (int i = 0; i < count; i++) logits[i * classes + e] = halves[(vector * TS.Lanes + i) * 2 + half] + output.ValueOffset;
        }
    }

    private static bool StagesInRegisters(int lanes) => lanes == 16 && Avx512F.IsSupported;

    /// <summary>
    /// The row layout of a one-channel input: per group of 8 images, each image's vectors (pixel (y, x) low,
    /// (y + 1, x) high; the last row's high half zero) formed 8 at a time (vpunpcklwd), then 8×8 blocks of
    /// (image, position) transposed into lanes. Lanes beyond <paramref name="count"/> are zero.
    /// </summary>
    private static void StageRows(TensorLayout layout, ReadOnlySpan<short> images, int count, int lanes, Workspace ws)
    {
        int width = layout.Width, plane = layout.Height * width, below = plane - width;
        var pairs = ws.Pairs;
        for (int group = 0; group < lanes; group += 8)
        {
            for (int k = 0; k < 8; k++)
            {
                var row = pairs.AsSpan(k * plane, plane);
                int image = group + k;
                if (image >= count)
                {
                    row.Clear();
                    continue;
                }
                var pixels = images.Slice(image * plane, plane);
                int p = 0;
                for (; p + 8 <= below; p += 8)
                {
                    var low = Vector128.Create(pixels.Slice(p, 8));
                    var high = Vector128.Create(pixels.Slice(p + width, 8));
                    Sse2.UnpackLow(low, high).AsInt32().StoreUnsafe(ref row[p]);
                    Sse2.UnpackHigh(low, high).AsInt32().StoreUnsafe(ref row[p + 4]);
                }
                for (; p < below; p++) row[p] = (ushort)pixels[p] | (pixels[p + width] << 16);
                for (; p < plane; p++) row[p] = (ushort)pixels[p];
            }
            int q = 0;
            for (; q + 8 <= plane; q += 8)
            {
                ref int source = ref pairs[q];
                var t0 = Avx2.UnpackLow(Vector256.LoadUnsafe(ref source), Vector256.LoadUnsafe(ref source, (nuint)plane));
                var t1 = Avx2.UnpackHigh(Vector256.LoadUnsafe(ref source), Vector256.LoadUnsafe(ref source, (nuint)plane));
                var t2 = Avx2.UnpackLow(Vector256.LoadUnsafe(ref source, (nuint)(2 * plane)), Vector256.LoadUnsafe(ref source, (nuint)(3 * plane)));
                var t3 = Avx2.UnpackHigh(Vector256.LoadUnsafe(ref source, (nuint)(2 * plane)), Vector256.LoadUnsafe(ref source, (nuint)(3 * plane)));
                var t4 = Avx2.UnpackLow(Vector256.LoadUnsafe(ref source, (nuint)(4 * plane)), Vector256.LoadUnsafe(ref source, (nuint)(5 * plane)));
                var t5 = Avx2.UnpackHigh(Vector256.LoadUnsafe(ref source, (nuint)(4 * plane)), Vector256.LoadUnsafe(ref source, (nuint)(5 * plane)));
                var t6 = Avx2.UnpackLow(Vector256.LoadUnsafe(ref source, (nuint)(6 * plane)), Vector256.LoadUnsafe(ref source, (nuint)(7 * plane)));
                var t7 = Avx2.UnpackHigh(Vector256.LoadUnsafe(ref source, (nuint)(6 * plane)), Vector256.LoadUnsafe(ref source, (nuint)(7 * plane)));
                var u0 = Avx2.UnpackLow(t0.AsInt64(), t2.AsInt64()).AsInt32();
                var u1 = Avx2.UnpackHigh(t0.AsInt64(), t2.AsInt64()).AsInt32();
                var u2 = Avx2.UnpackLow(t1.AsInt64(), t3.AsInt64()).AsInt32();
                var u3 = Avx2.UnpackHigh(t1.AsInt64(), t3.AsInt64()).AsInt32();
                var u4 = Avx2.UnpackLow(t4.AsInt64(), t6.AsInt64()).AsInt32();
                var u5 = Avx2.UnpackHigh(t4.AsInt64(), t6.AsInt64()).AsInt32();
                var u6 = Avx2.UnpackLow(t5.AsInt64(), t7.AsInt64()).AsInt32();
                var u7 = Avx2.UnpackHigh(t5.AsInt64(), t7.AsInt64()).AsInt32();
                ref int target = ref ws.A[q * lanes + group];
                Avx2.Permute2x128(u0, u4, 0x20).StoreUnsafe(ref target);
                Avx2.Permute2x128(u1, u5, 0x20).StoreUnsafe(ref target, (nuint)lanes);
                Avx2.Permute2x128(u2, u6, 0x20).StoreUnsafe(ref target, (nuint)(2 * lanes));
                Avx2.Permute2x128(u3, u7, 0x20).StoreUnsafe(ref target, (nuint)(3 * lanes));
                Avx2.Permute2x128(u0, u4, 0x31).StoreUnsafe(ref target, (nuint)(4 * lanes));
                Avx2.Permute2x128(u1, u5, 0x31).StoreUnsafe(ref target, (nuint)(5 * lanes));
                Avx2.Permute2x128(u2, u6, 0x31).StoreUnsafe(ref target, (nuint)(6 * lanes));
                Avx2.Permute2x128(u3, u7, 0x31).StoreUnsafe(ref target, (nuint)(7 * lanes));
            }
            for (; q < plane; q++)
                for (int k = 0; k < 8; k++) ws.A[q * lanes + group + k] = pairs[k * plane + q];
        }
    }

    /// <summary>
    /// <see cref="StageRows"/> for 16 lanes on AVX-512, without the image-major pass: per 16 positions, each image's
    /// pixels (y, x) and (y + 1, x) interleaved into one 512-bit row (vpunpcklwd / vpunpckhwd), then the 16 rows
    /// (images) transposed into 16 vectors (positions) in registers. Lanes beyond <paramref name="count"/> are zero.
    /// </summary>
    private static void StageRowsSixteen(TensorLayout layout, ReadOnlySpan<short> images, int count, int[] into)
    {
        int width = layout.Width, plane = layout.Height * width, below = plane - width;
        ref short first = ref MemoryMarshal.GetReference(images);
        int q = 0;
        // Blocks of 16 positions wholly above the last row, or wholly in it (partner: the zero row H); a block
        // straddling the two, and the last few positions, take the scalar tail.
        for (; q + 16 <= plane && !(q < below && q + 16 > below); q += 16)
        {
            ref short at = ref Unsafe.Add(ref first, q);
            int partner = q < below ? width : -1;
            Transpose16(
                Row(ref at, 0, plane, partner, count), Row(ref at, 1, plane, partner, count), Row(ref at, 2, plane, partner, count), Row(ref at, 3, plane, partner, count),
                Row(ref at, 4, plane, partner, count), Row(ref at, 5, plane, partner, count), Row(ref at, 6, plane, partner, count), Row(ref at, 7, plane, partner, count),
                Row(ref at, 8, plane, partner, count), Row(ref at, 9, plane, partner, count), Row(ref at, 10, plane, partner, count), Row(ref at, 11, plane, partner, count),
                Row(ref at, 12, plane, partner, count), Row(ref at, 13, plane, partner, count), Row(ref at, 14, plane, partner, count), Row(ref at, 15, plane, partner, count),
                ref into[q * 16]);
        }
        for (; q < plane; q++)
            for (int k = 0; k < 16; k++)
            {
                int value = 0;
                if (k < count)
                {
                    var image = images.Slice(k * plane, plane);
                    value = q < below ? (ushort)image[q] | (image[q + width] << 16) : (ushort)image[q];
                }
                into[q * 16 + k] = value;
            }
    }

    /// <summary>Image k's 16 pixel pairs (x, x + partner) from <paramref name="at"/> on (partner −1: the zero row),
    /// positions in the order 0–3, 8–11, 4–7, 12–15 (vpunpcklwd / vpunpckhwd work per 128 bits); zero for an unused lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Row(ref short at, int k, int plane, int partner, int count)
    {
        if (k >= count) return Vector512<int>.Zero;
        ref short pixels = ref Unsafe.Add(ref at, k * plane);
        var low = Vector256.LoadUnsafe(ref pixels);
        var high = partner > 0 ? Vector256.LoadUnsafe(ref pixels, (nuint)partner) : Vector256<short>.Zero;
        return Vector512.Create(Avx2.UnpackLow(low, high).AsInt32(), Avx2.UnpackHigh(low, high).AsInt32());
    }

    /// <summary>
    /// Transposes 16 rows of 16 int32 (row k = image k; element e = position p(e), where p swaps e = 4–7 with 8–11,
    /// the order <see cref="Row"/> builds) into 16 vectors, vector p holding position p of every image, stored at
    /// <paramref name="into"/> + 16·p: vpunpck{l,h}dq, vpunpck{l,h}qdq, then two rounds of vshufi32x4.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose16(Vector512<int> r0, Vector512<int> r1, Vector512<int> r2, Vector512<int> r3,
        Vector512<int> r4, Vector512<int> r5, Vector512<int> r6, Vector512<int> r7, Vector512<int> r8, Vector512<int> r9,
        Vector512<int> r10, Vector512<int> r11, Vector512<int> r12, Vector512<int> r13, Vector512<int> r14, Vector512<int> r15, ref int into)
    {
        // Per group of 4 rows: u_j holds, in 128-bit chunk L, the group's rows at element 4L + j.
        var (a0, a1, a2, a3) = Quad(r0, r1, r2, r3);
        var (b0, b1, b2, b3) = Quad(r4, r5, r6, r7);
        var (c0, c1, c2, c3) = Quad(r8, r9, r10, r11);
        var (d0, d1, d2, d3) = Quad(r12, r13, r14, r15);
        Gather(a0, b0, c0, d0, ref into);
        Gather(a1, b1, c1, d1, ref Unsafe.Add(ref into, 16));
        Gather(a2, b2, c2, d2, ref Unsafe.Add(ref into, 32));
        Gather(a3, b3, c3, d3, ref Unsafe.Add(ref into, 48));

        static (Vector512<int>, Vector512<int>, Vector512<int>, Vector512<int>) Quad(Vector512<int> r0, Vector512<int> r1, Vector512<int> r2, Vector512<int> r3)
        {
            var t0 = Avx512F.UnpackLow(r0, r1);
            var t1 = Avx512F.UnpackHigh(r0, r1);
            var t2 = Avx512F.UnpackLow(r2, r3);
            var t3 = Avx512F.UnpackHigh(r2, r3);
            return (Avx512F.UnpackLow(t0.AsInt64(), t2.AsInt64()).AsInt32(), Avx512F.UnpackHigh(t0.AsInt64(), t2.AsInt64()).AsInt32(),
                Avx512F.UnpackLow(t1.AsInt64(), t3.AsInt64()).AsInt32(), Avx512F.UnpackHigh(t1.AsInt64(), t3.AsInt64()).AsInt32());
        }

        // Element 4L + j of all 16 rows, from chunk L of each group's u_j: elements j, 4 + j, 8 + j, 12 + j are
        // positions j, 8 + j, 4 + j, 12 + j.
        static void Gather(Vector512<int> a, Vector512<int> b, Vector512<int> c, Vector512<int> d, ref int into)
        {
            var v0 = Avx512F.Shuffle4x128(a, b, 0x88);
            var v1 = Avx512F.Shuffle4x128(a, b, 0xDD);
            var v2 = Avx512F.Shuffle4x128(c, d, 0x88);
            var v3 = Avx512F.Shuffle4x128(c, d, 0xDD);
            Avx512F.Shuffle4x128(v0, v2, 0x88).StoreUnsafe(ref into);
            Avx512F.Shuffle4x128(v0, v2, 0xDD).StoreUnsafe(ref into, 16 * 4);
            Avx512F.Shuffle4x128(v1, v3, 0x88).StoreUnsafe(ref into, 16 * 8);
            Avx512F.Shuffle4x128(v1, v3, 0xDD).StoreUnsafe(ref into, 16 * 12);
        }
    }

    /// <summary>The column plane of the row layout from its row plane: vector (y, x) holds pixels (y, x) and (y, x + 1)
    /// (the low halves of row-plane vectors (y, x) and (y, x + 1)); the last column's high half is zero.</summary>
    private static void PairColumns<TS, TV>(TensorLayout layout, int[] block) where TS : struct, ISimd<TV> where TV : struct
    {
        int lanes = TS.Lanes, rowLength = layout.Width * lanes, plane = layout.Height * rowLength;
        for (int row = 0; row < plane; row += rowLength)
        {
            int last = row + rowLength - lanes;
            for (int i = row; i < last; i += lanes)
                TS.Store(TS.PairLowHalves(TS.Load(ref block[i]), TS.Load(ref block[i + lanes])), ref block[plane + i]);
            TS.Store(TS.PairLowHalves(TS.Load(ref block[last]), TS.Zero), ref block[plane + last]);
        }
    }

    /// <summary>Transposes the block's images into the channel-pair layout (batch-major); unused lanes and the padding halves are zero.</summary>
    private static void Stage(TensorLayout layout, ReadOnlySpan<short> images, int count, int lanes, int[] into)
    {
        var halves = MemoryMarshal.Cast<int, short>(into.AsSpan(0, layout.Vectors * lanes));
        halves.Clear();
        int size = layout.Elements, plane = layout.Height * layout.Width;
        for (int i = 0; i < count; i++)
        {
            var image = images.Slice(i * size, size);
            for (int c = 0; c < layout.Channels; c++)
            for (int p = 0; p < plane; p++)
                halves[((((c >> 1) * plane) + p) * lanes + i) * 2 + (c & 1)] = image[c * plane + p];
        }
    }

    /// <summary>conv2d (+ fused max-pool): per channel group and pooled output position, the max of the
    /// window's accumulators, requantized.</summary>
    private static void Conv<TS, TV>(ConvParams p, int[] input, int[] output, Workspace ws) where TS : struct, ISimd<TV> where TV : struct
    {
        int pool = p.Pool, width = p.Input.Width;
        if (ReadsSplitInput(p.Dot, pool * pool)) Split<TS, TV>(input, p.Input.Vectors * TS.Lanes, ws);
        Span<int> window = stackalloc int[pool * pool];
        int stride = PackedDot.GroupWidth * TS.Lanes;
        for (int g = 0; g < p.Dot.Groups; g++)
        for (int py = 0; py < p.Output.Height; py++)
        {
            // A row of output positions, then one requantization pass over it.
            for (int px = 0; px < p.Output.Width; px++)
            {
                for (int dy = 0, j = 0; dy < pool; dy++)
                for (int dx = 0; dx < pool; dx++, j++)
                    window[j] = ((py * pool + dy) * width + px * pool + dx) * TS.Lanes;
                if (p.ColumnPairs is { } pairs) AccumulateColumnPairs<TS, TV>(pairs, p.Dot.GroupSize(g), g, window, input, ws, px * stride);
                else Accumulate<TS, TV>(p.Dot, p.TapOffsets, g, window, input, ws, px * stride);
            }
            Requantize(p.Dot, p.Requant, g, p.Output, py, p.Output.Width, TS.Lanes, output, ws);
        }
    }

    /// <summary>Fully connected: one output position, every input vector a tap.</summary>
    private static void Linear<TS, TV>(LinearParams p, int[] input, int[] output, Workspace ws) where TS : struct, ISimd<TV> where TV : struct
    {
        ReadOnlySpan<int> position = [0];
        if (ReadsSplitInput(p.Dot, 1)) Split<TS, TV>(input, p.Input.Vectors * TS.Lanes, ws);
        for (int g = 0; g < p.Dot.Groups; g++)
        {
            Accumulate<TS, TV>(p.Dot, p.TapOffsets, g, position, input, ws, 0);
            Requantize(p.Dot, p.Requant, g, p.Output, 0, 1, TS.Lanes, output, ws);
        }
    }

    /// <summary>Max-pool on int16 elements (both halves of each pair at once).</summary>
    private static void MaxPool(PoolParams p, int lanes, int[] input, int[] output)
    {
        int k = p.Kernel, ih = p.Input.Height, iw = p.Input.Width, oh = p.Output.Height, ow = p.Output.Width;
        for (int q = 0; q < p.Output.Pairs; q++)
        for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++)
        for (int j = 0; j < lanes; j += 8)
        {
            var best = Vector256.Create(short.MinValue);
            for (int dy = 0; dy < k; dy++)
            for (int dx = 0; dx < k; dx++)
                best = Vector256.Max(best, Vector256.LoadUnsafe(ref input[((q * ih + y * k + dy) * iw + x * k + dx) * lanes + j]).AsInt16());
            best.AsInt32().StoreUnsafe(ref output[((q * oh + y) * ow + x) * lanes + j]);
        }
    }

    /// <summary>
    /// The accumulators of group <paramref name="g"/> at the output positions whose first input vectors are
    /// <paramref name="window"/> (the fused pool window), max-reduced: into ws.RowAcc (Int32) or ws.RowAcc64
    /// from element <paramref name="at"/> on, [channel][lane].
    /// </summary>
    private static void Accumulate<TS, TV>(PackedDot dot, int[] offsets, int g, ReadOnlySpan<int> window, int[] input, Workspace ws, int at)
        where TS : struct, ISimd<TV> where TV : struct
    {
        int size = dot.GroupSize(g), lanes = TS.Lanes;
        ref int weights = ref dot.Weights[g * dot.Taps * PackedDot.GroupWidth];
        switch (dot.Kind)
        {
            case AccumulatorKind.Int32:
                // Pool windows 4 positions at a time, max-reduced in registers (DotWindow, 2 channels per call);
                // a larger window's calls and its last position (square windows: 4k + 1) max-combine in memory.
                // One position (no pool) keeps 8 channels' accumulators in registers (Dot).
                for (int j = 0; j < window.Length;)
                {
                    if (window.Length - j >= 4)
                    {
                        // AVX-512's 32 registers hold up to 6 channels' accumulators (24) beside the 4 inputs and a
                        // weight, so each input vector loaded serves up to 6 channels; AVX2's 16 hold 2 channels'.
                        int step = lanes == 16 ? (size <= 6 ? size : (size + 1) / 2) : 2;
                        for (int c = 0; c < size; c += step)
                            DotWindow<TS, TV, MaxOfFour<TS, TV>>(Math.Min(step, size - c), ref MemoryMarshal.GetArrayDataReference(input), window.Slice(j, 4),
                                offsets, 0, dot.Taps, ref Unsafe.Add(ref weights, c), ref ws.RowAcc[at + c * lanes], j > 0);
                        j += 4;
                    }
                    else
                    {
                        Dot<TS, TV>(size, ref input[window[j]], offsets, 0, dot.Taps, ref weights, ref ws.RowAcc[at], j > 0);
                        j++;
                    }
                }
                break;
            case AccumulatorKind.ChunkedInt32:
                AccumulateChunked<TS, TV>(dot, offsets, g, window, input, ws, at);
                break;
            case AccumulatorKind.SplitInt64:
                // One chunk (conv1 and conv3 of LeNet-5 at 16 bits): pool positions two at a time through the pool-window
                // kernel, its four streams being both positions' low bytes and high bytes, split from the input as it is
                // loaded, so each weight broadcast serves 4 multiply-adds; the sums are widened and max-reduced in
                // registers (SplitMaxOfTwo). The other positions (an odd window's last; every position of a layer of
                // several chunks) read the input split beforehand (Split).
                int paired = PairedPositions(dot, g, window.Length);
                for (int j = 0; j < paired; j += 2)
                {
                    // The same register budget as the Int32 case: 6 channels on AVX-512, 2 on AVX2.
                    int step = lanes == 16 ? (size <= 6 ? size : (size + 1) / 2) : 2;
                    for (int c = 0; c < size; c += step)
                        DotWindow<TS, TV, SplitMaxOfTwo<TS, TV>>(Math.Min(step, size - c), ref MemoryMarshal.GetArrayDataReference(input), window.Slice(j, 2),
                            offsets, 0, dot.Taps, ref Unsafe.Add(ref weights, c), ref Unsafe.As<long, int>(ref ws.RowAcc64[at + c * lanes]), j > 0);
                }
                for (int j = paired; j < window.Length; j++)
                {
                    var chunks = dot.ChunkEnds[g];
                    // One chunk (the usual case) combines straight into the window's running max.
                    var sum = j == 0 || chunks.Length == 1 ? ws.RowAcc64.AsSpan(at) : ws.Chunk64;
                    int start = 0;
                    for (int k = 0; k < chunks.Length; k++)
                    {
                        // Within a chunk every partial sum of Σ w·lo and Σ w·hi is proven within int32 (CompiledModel.Pack).
                        // Up to 6 channels per call (12 accumulators + 2 inputs + 1 weight fit AVX2's 16 registers): 8 = 4 + 4.
                        int step = size <= 6 ? size : (size + 1) / 2;
                        for (int c = 0; c < size; c += step)
                            DotSplit<TS, TV>(Math.Min(step, size - c), ref ws.Split[window[j]], ref ws.Split[ws.HighBytes + window[j]], offsets, start, chunks[k],
                                ref Unsafe.Add(ref weights, c), ref ws.Acc[c * lanes], ref ws.AccHigh[c * lanes]);
                        var mode = k > 0 ? CombineMode.Add : j > 0 && chunks.Length == 1 ? CombineMode.Max : CombineMode.Store;
                        Combine(ws.Acc, ws.AccHigh, sum, size * lanes, mode);
                        start = chunks[k];
                    }
                    if (j > 0 && chunks.Length > 1) Max64(ws.RowAcc64.AsSpan(at), ws.Chunk64, size * lanes);
                }
                break;
            default:
                ScalarInt64(dot, offsets, g, window, input, lanes, ws.RowAcc64.AsSpan(at));
                break;
        }
    }

    /// <summary>
    /// <see cref="Accumulate{TS, TV}"/> for <see cref="AccumulatorKind.ChunkedInt32"/>: per chunk, the sums in int32 lanes
    /// (within a chunk every partial sum is proven within int32 by <see cref="CompiledModel"/>), widened and added in int64;
    /// pool windows 4 positions at a time (<see cref="FourSums{TS, TV}"/>, widened as each chunk ends; the Int32 case's
    /// register budget), the other positions one at a time (Dot, up to 8 channels); the window's positions then
    /// max-combine in int64.
    /// </summary>
    private static void AccumulateChunked<TS, TV>(PackedDot dot, int[] offsets, int g, ReadOnlySpan<int> window, int[] input, Workspace ws, int at)
        where TS : struct, ISimd<TV> where TV : struct
    {
        int size = dot.GroupSize(g), lanes = TS.Lanes;
        ref int weights = ref dot.Weights[g * dot.Taps * PackedDot.GroupWidth];
        var chunks = dot.ChunkEnds[g];
        int length = size * lanes, stride = PackedDot.GroupWidth * lanes;
        for (int j = 0; j < window.Length;)
        {
            int positions = window.Length - j >= 4 ? 4 : 1;
            for (int k = 0, start = 0; k < chunks.Length; start = chunks[k++])
            {
                if (positions == 4)
                {
                    int step = lanes == 16 ? (size <= 6 ? size : (size + 1) / 2) : 2;
                    for (int c = 0; c < size; c += step)
                        DotWindow<TS, TV, FourSums<TS, TV>>(Math.Min(step, size - c), ref MemoryMarshal.GetArrayDataReference(input), window.Slice(j, 4),
                            offsets, start, chunks[k], ref Unsafe.Add(ref weights, c), ref Unsafe.As<long, int>(ref ws.Sum4[c * lanes]), k > 0);
                }
                else
                {
                    Dot<TS, TV>(size, ref input[window[j]], offsets, start, chunks[k], ref weights, ref ws.Acc[0], false);
                    Combine(ws.Acc, default, ws.Sum4, length, k > 0 ? CombineMode.Add : CombineMode.Store);
                }
            }
            for (int p = 0; p < positions; p++)
            {
                if (j + p == 0) ws.Sum4.AsSpan(0, length).CopyTo(ws.RowAcc64.AsSpan(at));
                else Max64(ws.RowAcc64.AsSpan(at), ws.Sum4.AsSpan(p * stride), length);
            }
            j += positions;
        }
    }

    /// <summary>
    /// <see cref="Accumulate{TS, TV}"/> for a conv computed by minimal filtering (<see cref="ColumnPairDot"/>, AVX-512 only,
    /// 2×2 windows): 8 sums per channel, 2 channels per call. Their 16 sums, a row's 4 inputs, a transformed input and a
    /// weight stay in the 32 registers; with 3 channels (30 of 32) the JIT spilled sums to the stack and the layer ran
    /// slower than the direct kernel.
    /// </summary>
    private static void AccumulateColumnPairs<TS, TV>(ColumnPairDot pairs, int size, int g, ReadOnlySpan<int> window, int[] input, Workspace ws, int at)
        where TS : struct, ISimd<TV> where TV : struct
    {
        const int step = 2;
        for (int c = 0; c < size; c += step)
            ColumnPairWindow<TS, TV>(Math.Min(step, size - c), ref MemoryMarshal.GetArrayDataReference(input), window[0], window[2], pairs,
                ref pairs.Weights[(g * pairs.Taps * PackedDot.GroupWidth) + c], ref ws.RowAcc[at + c * TS.Lanes]);
    }

    /// <summary>SplitInt64, group g: how many of a window's positions run in pairs through the pool-window kernel.</summary>
    private static int PairedPositions(PackedDot dot, int g, int windowLength) => dot.ChunkEnds[g].Length == 1 ? windowLength & ~1 : 0;

    /// <summary>Whether some position of some group reads the input split beforehand (<see cref="Split"/>).</summary>
    private static bool ReadsSplitInput(PackedDot dot, int windowLength)
    {
        if (dot.Kind != AccumulatorKind.SplitInt64) return false;
        for (int g = 0; g < dot.Groups; g++)
            if (PairedPositions(dot, g, windowLength) < windowLength) return true;
        return false;
    }

    private static void Dot<TS, TV>(int size, ref int x, int[] offsets, int from, int to, ref int weights, ref int acc, bool max)
        where TS : struct, ISimd<TV> where TV : struct
    {
        switch (size)
        {
            case 8: Dot<TS, TV, G8>(ref x, offsets, from, to, ref weights, ref acc, max); break;
            case 7: Dot<TS, TV, G7>(ref x, offsets, from, to, ref weights, ref acc, max); break;
            case 6: Dot<TS, TV, G6>(ref x, offsets, from, to, ref weights, ref acc, max); break;
            case 5: Dot<TS, TV, G5>(ref x, offsets, from, to, ref weights, ref acc, max); break;
            case 4: Dot<TS, TV, G4>(ref x, offsets, from, to, ref weights, ref acc, max); break;
            case 3: Dot<TS, TV, G3>(ref x, offsets, from, to, ref weights, ref acc, max); break;
            case 2: Dot<TS, TV, G2>(ref x, offsets, from, to, ref weights, ref acc, max); break;
            default: Dot<TS, TV, G1>(ref x, offsets, from, to, ref weights, ref acc, max); break;
        }
    }

    /// <summary>
    /// The micro-kernel: taps [from, to) of TG output channels at one output position, int32 lanes, written
    /// to acc[c·L ..] (or max-combined with what is there). Exact because the caller's accumulator kind
    /// proves every partial sum over these taps within int32.
    /// </summary>
    private static void Dot<TS, TV, TG>(ref int x, int[] offsets, int from, int to, ref int weights, ref int acc, bool max)
        where TS : struct, ISimd<TV> where TV : struct where TG : struct, IGroupSize
    {
        TV a0 = TS.Zero, a1 = TS.Zero, a2 = TS.Zero, a3 = TS.Zero, a4 = TS.Zero, a5 = TS.Zero, a6 = TS.Zero, a7 = TS.Zero;
        ref int offset = ref MemoryMarshal.GetArrayDataReference(offsets);
        ref int w = ref Unsafe.Add(ref weights, from * PackedDot.GroupWidth);
        for (int t = from; t < to; t++, w = ref Unsafe.Add(ref w, PackedDot.GroupWidth))
        {
            var v = TS.Load(ref Unsafe.Add(ref x, Unsafe.Add(ref offset, t)));
            a0 = TS.MultiplyAdd(a0, v, TS.Broadcast(w));
            if (TG.Value > 1) a1 = TS.MultiplyAdd(a1, v, TS.Broadcast(Unsafe.Add(ref w, 1)));
            if (TG.Value > 2) a2 = TS.MultiplyAdd(a2, v, TS.Broadcast(Unsafe.Add(ref w, 2)));
            if (TG.Value > 3) a3 = TS.MultiplyAdd(a3, v, TS.Broadcast(Unsafe.Add(ref w, 3)));
            if (TG.Value > 4) a4 = TS.MultiplyAdd(a4, v, TS.Broadcast(Unsafe.Add(ref w, 4)));
            if (TG.Value > 5) a5 = TS.MultiplyAdd(a5, v, TS.Broadcast(Unsafe.Add(ref w, 5)));
            if (TG.Value > 6) a6 = TS.MultiplyAdd(a6, v, TS.Broadcast(Unsafe.Add(ref w, 6)));
            if (TG.Value > 7) a7 = TS.MultiplyAdd(a7, v, TS.Broadcast(Unsafe.Add(ref w, 7)));
        }
        ref int dst = ref acc;
        int l = TS.Lanes;
        Put<TS, TV>(a0, ref dst, max);
        if (TG.Value > 1) Put<TS, TV>(a1, ref Unsafe.Add(ref dst, l), max);
        if (TG.Value > 2) Put<TS, TV>(a2, ref Unsafe.Add(ref dst, 2 * l), max);
        if (TG.Value > 3) Put<TS, TV>(a3, ref Unsafe.Add(ref dst, 3 * l), max);
        if (TG.Value > 4) Put<TS, TV>(a4, ref Unsafe.Add(ref dst, 4 * l), max);
        if (TG.Value > 5) Put<TS, TV>(a5, ref Unsafe.Add(ref dst, 5 * l), max);
        if (TG.Value > 6) Put<TS, TV>(a6, ref Unsafe.Add(ref dst, 6 * l), max);
        if (TG.Value > 7) Put<TS, TV>(a7, ref Unsafe.Add(ref dst, 7 * l), max);

    }

    private static void DotWindow<TS, TV, TKind>(int size, ref int x, ReadOnlySpan<int> window, int[] offsets, int from, int to, ref int weights, ref int acc, bool max)
        where TS : struct, ISimd<TV> where TV : struct where TKind : struct, IWindowKind<TS, TV>
    {
        switch (size)
        {
            case 6: DotWindow<TS, TV, G6, TKind>(ref x, window, offsets, from, to, ref weights, ref acc, max); break;
            case 5: DotWindow<TS, TV, G5, TKind>(ref x, window, offsets, from, to, ref weights, ref acc, max); break;
            case 4: DotWindow<TS, TV, G4, TKind>(ref x, window, offsets, from, to, ref weights, ref acc, max); break;
            case 3: DotWindow<TS, TV, G3, TKind>(ref x, window, offsets, from, to, ref weights, ref acc, max); break;
            case 2: DotWindow<TS, TV, G2, TKind>(ref x, window, offsets, from, to, ref weights, ref acc, max); break;
            default: DotWindow<TS, TV, G1, TKind>(ref x, window, offsets, from, to, ref weights, ref acc, max); break;
        }
    }

    /// <summary>
    /// The pool-window micro-kernel: taps [from, to) of TG ≤ 6 channels over 4 input streams (4 output positions of one
    /// pool window, first input vectors at x + window[0..3]; or two positions' low and high bytes, split from the
    /// vectors at x + window[0..1] as they are loaded), each channel's 4 sums handed to <typeparamref name="TKind"/>,
    /// which reduces them and writes channel c's result.
    /// A broadcast serves 4 multiply-adds instead of one, and an input vector TG channels. The caller keeps TG
    /// within the registers: 2 channels on AVX2 (8 accumulators, 4 inputs and a weight in 16 registers), up to 6 on
    /// AVX-512 (24 + 4 + 1 in 32), where the conv1 of LeNet-5 then loads each input vector once instead of three times.
    /// Exact under the int32 bound of the caller's accumulator kind (Int32: <see cref="Dot{TS, TV, TG}"/>'s; SplitInt64
    /// of one chunk: Σ (|w_low| + |w_high|)·255 ≤ 2^31 − 1 for the low and the high sums; ChunkedInt32: the chunk's
    /// Σ (|w_low| + |w_high|)·xMax ≤ 2^31 − 1; checked by <see cref="CompiledModel"/>).
    /// </summary>
    private static void DotWindow<TS, TV, TG, TKind>(ref int x, ReadOnlySpan<int> window, int[] offsets, int from, int to, ref int weights, ref int acc, bool max)
        where TS : struct, ISimd<TV> where TV : struct where TG : struct, IGroupSize where TKind : struct, IWindowKind<TS, TV>
    {
        // a[c][p]: channel c at window position p.
        TV a00 = TS.Zero, a01 = TS.Zero, a02 = TS.Zero, a03 = TS.Zero, a10 = TS.Zero, a11 = TS.Zero, a12 = TS.Zero, a13 = TS.Zero;
        TV a20 = TS.Zero, a21 = TS.Zero, a22 = TS.Zero, a23 = TS.Zero, a30 = TS.Zero, a31 = TS.Zero, a32 = TS.Zero, a33 = TS.Zero;
        TV a40 = TS.Zero, a41 = TS.Zero, a42 = TS.Zero, a43 = TS.Zero, a50 = TS.Zero, a51 = TS.Zero, a52 = TS.Zero, a53 = TS.Zero;
        ref int x0 = ref Unsafe.Add(ref x, window[0]);
        ref int x1 = ref Unsafe.Add(ref x, window[1]);
        ref int x2 = ref Unsafe.Add(ref x, window[TKind.Positions > 2 ? 2 : 0]);
        ref int x3 = ref Unsafe.Add(ref x, window[TKind.Positions > 2 ? 3 : 0]);
        ref int offset = ref MemoryMarshal.GetArrayDataReference(offsets);
        ref int w = ref Unsafe.Add(ref weights, from * PackedDot.GroupWidth);
        for (int t = from; t < to; t++, w = ref Unsafe.Add(ref w, PackedDot.GroupWidth))
        {
            TKind.Load(ref x0, ref x1, ref x2, ref x3, Unsafe.Add(ref offset, t), out var v0, out var v1, out var v2, out var v3);
            var p = TS.Broadcast(w);
            (a00, a01, a02, a03) = (TS.MultiplyAdd(a00, v0, p), TS.MultiplyAdd(a01, v1, p), TS.MultiplyAdd(a02, v2, p), TS.MultiplyAdd(a03, v3, p));
            if (TG.Value > 1)
            {
                p = TS.Broadcast(Unsafe.Add(ref w, 1));
                (a10, a11, a12, a13) = (TS.MultiplyAdd(a10, v0, p), TS.MultiplyAdd(a11, v1, p), TS.MultiplyAdd(a12, v2, p), TS.MultiplyAdd(a13, v3, p));
            }
            if (TG.Value > 2)
            {
                p = TS.Broadcast(Unsafe.Add(ref w, 2));
                (a20, a21, a22, a23) = (TS.MultiplyAdd(a20, v0, p), TS.MultiplyAdd(a21, v1, p), TS.MultiplyAdd(a22, v2, p), TS.MultiplyAdd(a23, v3, p));
            }
            if (TG.Value > 3)
            {
                p = TS.Broadcast(Unsafe.Add(ref w, 3));
                (a30, a31, a32, a33) = (TS.MultiplyAdd(a30, v0, p), TS.MultiplyAdd(a31, v1, p), TS.MultiplyAdd(a32, v2, p), TS.MultiplyAdd(a33, v3, p));
            }
            if (TG.Value > 4)
            {
                p = TS.Broadcast(Unsafe.Add(ref w, 4));
                (a40, a41, a42, a43) = (TS.MultiplyAdd(a40, v0, p), TS.MultiplyAdd(a41, v1, p), TS.MultiplyAdd(a42, v2, p), TS.MultiplyAdd(a43, v3, p));
            }
            if (TG.Value > 5)
            {
                p = TS.Broadcast(Unsafe.Add(ref w, 5));
                (a50, a51, a52, a53) = (TS.MultiplyAdd(a50, v0, p), TS.MultiplyAdd(a51, v1, p), TS.MultiplyAdd(a52, v2, p), TS.MultiplyAdd(a53, v3, p));
            }
        }
        TKind.Finish(a00, a01, a02, a03, ref acc, 0, max);
        if (TG.Value > 1) TKind.Finish(a10, a11, a12, a13, ref acc, 1, max);
        if (TG.Value > 2) TKind.Finish(a20, a21, a22, a23, ref acc, 2, max);
        if (TG.Value > 3) TKind.Finish(a30, a31, a32, a33, ref acc, 3, max);
        if (TG.Value > 4) TKind.Finish(a40, a41, a42, a43, ref acc, 4, max);
        if (TG.Value > 5) TKind.Finish(a50, a51, a52, a53, ref acc, 5, max);
    }

    private static void ColumnPairWindow<TS, TV>(int size, ref int x, int row0, int row1, ColumnPairDot dot, ref int weights, ref int acc)
        where TS : struct, ISimd<TV> where TV : struct
    {
        switch (size)
        {
            case 2: ColumnPairWindow<TS, TV, G2>(ref x, row0, row1, dot, ref weights, ref acc); break;
            default: ColumnPairWindow<TS, TV, G1>(ref x, row0, row1, dot, ref weights, ref acc); break;
        }
    }

    /// <summary>
    /// The minimal-filtering micro-kernel (<see cref="ColumnPairDot"/>): a 2×2 pool window of TG ≤ 2 channels, output
    /// rows at x + row0 and x + row1, columns x0 and x0 + 1. Per segment and row, the inputs d0.. are loaded once,
    /// each transformed input serves TG channels; per channel and row the sums P, B, C, Q give 2y0 = P + B + C and
    /// 2y1 = B − C + Q, and the window's max of the four, halved, is stored at acc[c·L ..].
    /// </summary>
    private static void ColumnPairWindow<TS, TV, TG>(ref int x, int row0, int row1, ColumnPairDot dot, ref int weights, ref int acc)
        where TS : struct, ISimd<TV> where TV : struct where TG : struct, IGroupSize
    {
        // Sums of channel c (0, 1) in output row a or b.
        TV aP0 = TS.Zero, aB0 = TS.Zero, aC0 = TS.Zero, aQ0 = TS.Zero, bP0 = TS.Zero, bB0 = TS.Zero, bC0 = TS.Zero, bQ0 = TS.Zero;
        TV aP1 = TS.Zero, aB1 = TS.Zero, aC1 = TS.Zero, aQ1 = TS.Zero, bP1 = TS.Zero, bB1 = TS.Zero, bC1 = TS.Zero, bQ1 = TS.Zero;
        ref int xa = ref Unsafe.Add(ref x, row0);
        ref int xb = ref Unsafe.Add(ref x, row1);
        ref int w = ref weights;
        var kinds = dot.Kinds;
        var offsets = dot.Offsets;
        int l = TS.Lanes;
        const int G = PackedDot.GroupWidth;
        for (int s = 0; s < kinds.Length; s++)
        {
            nint offset = offsets[s];
            ref int ua = ref Unsafe.Add(ref xa, offset);
            ref int ub = ref Unsafe.Add(ref xb, offset);
            switch (kinds[s])
            {
                case SegmentKind.F3:
                {
                    var d0 = TS.Load(ref ua); var d1 = TS.Load(ref Unsafe.Add(ref ua, l));
                    var d2 = TS.Load(ref Unsafe.Add(ref ua, 2 * l)); var d3 = TS.Load(ref Unsafe.Add(ref ua, 3 * l));
                    Step<TS, TV, TG>(TS.SubtractHalves(d0, d2), ref w, ref aP0, ref aP1);
                    Step<TS, TV, TG>(TS.AddHalves(d1, d2), ref Unsafe.Add(ref w, G), ref aB0, ref aB1);
                    Step<TS, TV, TG>(TS.SubtractHalves(d2, d1), ref Unsafe.Add(ref w, 2 * G), ref aC0, ref aC1);
                    Step<TS, TV, TG>(TS.SubtractHalves(d1, d3), ref Unsafe.Add(ref w, 3 * G), ref aQ0, ref aQ1);
                    d0 = TS.Load(ref ub); d1 = TS.Load(ref Unsafe.Add(ref ub, l));
                    d2 = TS.Load(ref Unsafe.Add(ref ub, 2 * l)); d3 = TS.Load(ref Unsafe.Add(ref ub, 3 * l));
                    Step<TS, TV, TG>(TS.SubtractHalves(d0, d2), ref w, ref bP0, ref bP1);
                    Step<TS, TV, TG>(TS.AddHalves(d1, d2), ref Unsafe.Add(ref w, G), ref bB0, ref bB1);
                    Step<TS, TV, TG>(TS.SubtractHalves(d2, d1), ref Unsafe.Add(ref w, 2 * G), ref bC0, ref bC1);
                    Step<TS, TV, TG>(TS.SubtractHalves(d1, d3), ref Unsafe.Add(ref w, 3 * G), ref bQ0, ref bQ1);
                    w = ref Unsafe.Add(ref w, 4 * G);
                    break;
                }
                case SegmentKind.F2:
                {
                    var d0 = TS.Load(ref ua); var d1 = TS.Load(ref Unsafe.Add(ref ua, l)); var d2 = TS.Load(ref Unsafe.Add(ref ua, 2 * l));
                    Step<TS, TV, TG>(TS.SubtractHalves(d0, d1), ref w, ref aP0, ref aP1);
                    Step<TS, TV, TG>(d1, ref Unsafe.Add(ref w, G), ref aB0, ref aB1);
                    Step<TS, TV, TG>(TS.SubtractHalves(d2, d1), ref Unsafe.Add(ref w, 2 * G), ref aQ0, ref aQ1);
                    d0 = TS.Load(ref ub); d1 = TS.Load(ref Unsafe.Add(ref ub, l)); d2 = TS.Load(ref Unsafe.Add(ref ub, 2 * l));
                    Step<TS, TV, TG>(TS.SubtractHalves(d0, d1), ref w, ref bP0, ref bP1);
                    Step<TS, TV, TG>(d1, ref Unsafe.Add(ref w, G), ref bB0, ref bB1);
                    Step<TS, TV, TG>(TS.SubtractHalves(d2, d1), ref Unsafe.Add(ref w, 2 * G), ref bQ0, ref bQ1);
                    w = ref Unsafe.Add(ref w, 3 * G);
                    break;
                }
                default:
                {
                    Step<TS, TV, TG>(TS.Load(ref ua), ref w, ref aP0, ref aP1);
                    Step<TS, TV, TG>(TS.Load(ref Unsafe.Add(ref ua, l)), ref Unsafe.Add(ref w, G), ref aQ0, ref aQ1);
                    Step<TS, TV, TG>(TS.Load(ref ub), ref w, ref bP0, ref bP1);
                    Step<TS, TV, TG>(TS.Load(ref Unsafe.Add(ref ub, l)), ref Unsafe.Add(ref w, G), ref bQ0, ref bQ1);
                    w = ref Unsafe.Add(ref w, 2 * G);
                    break;
                }
            }
        }
        Finish(aP0, aB0, aC0, aQ0, bP0, bB0, bC0, bQ0, ref acc);
        if (TG.Value > 1) Finish(aP1, aB1, aC1, aQ1, bP1, bB1, bC1, bQ1, ref Unsafe.Add(ref acc, l));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Finish(TV aP, TV aB, TV aC, TV aQ, TV bP, TV bB, TV bC, TV bQ, ref int to)
        {
            var a = TS.Max(TS.Add(TS.Add(aP, aB), aC), TS.Add(TS.Subtract(aB, aC), aQ));
            var b = TS.Max(TS.Add(TS.Add(bP, bB), bC), TS.Add(TS.Subtract(bB, bC), bQ));
            TS.Store(TS.HalveEven(TS.Max(a, b)), ref to);
        }
    }

    /// <summary>One transformed input times each of TG channels' weights (at w, w + 1, ..), added to their sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Step<TS, TV, TG>(TV t, ref int w, ref TV s0, ref TV s1)
        where TS : struct, ISimd<TV> where TV : struct where TG : struct, IGroupSize
    {
        s0 = TS.MultiplyAdd(s0, t, TS.Broadcast(w));
        if (TG.Value > 1) s1 = TS.MultiplyAdd(s1, t, TS.Broadcast(Unsafe.Add(ref w, 1)));
    }

    /// <summary>Stores a micro-kernel's accumulator, or max-combines it with what is there (a pool window's later positions).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put<TS, TV>(TV value, ref int to, bool max) where TS : struct, ISimd<TV> where TV : struct =>
        TS.Store(max ? TS.Max(value, TS.Load(ref to)) : value, ref to);

    private static void DotSplit<TS, TV>(int size, ref int low, ref int high, int[] offsets, int from, int to, ref int weights, ref int accLow, ref int accHigh)
        where TS : struct, ISimd<TV> where TV : struct
    {
        switch (size)
        {
            case 6: DotSplit<TS, TV, G6>(ref low, ref high, offsets, from, to, ref weights, ref accLow, ref accHigh); break;
            case 5: DotSplit<TS, TV, G5>(ref low, ref high, offsets, from, to, ref weights, ref accLow, ref accHigh); break;
            case 4: DotSplit<TS, TV, G4>(ref low, ref high, offsets, from, to, ref weights, ref accLow, ref accHigh); break;
            case 3: DotSplit<TS, TV, G3>(ref low, ref high, offsets, from, to, ref weights, ref accLow, ref accHigh); break;
            case 2: DotSplit<TS, TV, G2>(ref low, ref high, offsets, from, to, ref weights, ref accLow, ref accHigh); break;
            default: DotSplit<TS, TV, G1>(ref low, ref high, offsets, from, to, ref weights, ref accLow, ref accHigh); break;
        }
    }

    /// <summary>
    /// The SplitInt64 micro-kernel: taps [from, to) of TG ≤ 6 channels (weights at stride
    /// <see cref="PackedDot.GroupWidth"/>), Σ w·lo and Σ w·hi in int32 lanes, exact within a chunk
    /// (|Σ| ≤ Σ (|w_low| + |w_high|)·255 ≤ 2^31 − 1, checked by <see cref="CompiledModel"/>).
    /// </summary>
    private static void DotSplit<TS, TV, TG>(ref int low, ref int high, int[] offsets, int from, int to, ref int weights, ref int accLow, ref int accHigh)
        where TS : struct, ISimd<TV> where TV : struct where TG : struct, IGroupSize
    {
        TV l0 = TS.Zero, l1 = TS.Zero, l2 = TS.Zero, l3 = TS.Zero, l4 = TS.Zero, l5 = TS.Zero;
        TV h0 = TS.Zero, h1 = TS.Zero, h2 = TS.Zero, h3 = TS.Zero, h4 = TS.Zero, h5 = TS.Zero;
        ref int offset = ref MemoryMarshal.GetArrayDataReference(offsets);
        for (int t = from; t < to; t++)
        {
            int at = Unsafe.Add(ref offset, t);
            var vl = TS.Load(ref Unsafe.Add(ref low, at));
            var vh = TS.Load(ref Unsafe.Add(ref high, at));
            ref int w = ref Unsafe.Add(ref weights, t * PackedDot.GroupWidth);
            l0 = TS.MultiplyAdd(l0, vl, TS.Broadcast(w));
            h0 = TS.MultiplyAdd(h0, vh, TS.Broadcast(w));
            if (TG.Value > 1) { l1 = TS.MultiplyAdd(l1, vl, TS.Broadcast(Unsafe.Add(ref w, 1))); h1 = TS.MultiplyAdd(h1, vh, TS.Broadcast(Unsafe.Add(ref w, 1))); }
            if (TG.Value > 2) { l2 = TS.MultiplyAdd(l2, vl, TS.Broadcast(Unsafe.Add(ref w, 2))); h2 = TS.MultiplyAdd(h2, vh, TS.Broadcast(Unsafe.Add(ref w, 2))); }
            if (TG.Value > 3) { l3 = TS.MultiplyAdd(l3, vl, TS.Broadcast(Unsafe.Add(ref w, 3))); h3 = TS.MultiplyAdd(h3, vh, TS.Broadcast(Unsafe.Add(ref w, 3))); }
            if (TG.Value > 4) { l4 = TS.MultiplyAdd(l4, vl, TS.Broadcast(Unsafe.Add(ref w, 4))); h4 = TS.MultiplyAdd(h4, vh, TS.Broadcast(Unsafe.Add(ref w, 4))); }
            if (TG.Value > 5) { l5 = TS.MultiplyAdd(l5, vl, TS.Broadcast(Unsafe.Add(ref w, 5))); h5 = TS.MultiplyAdd(h5, vh, TS.Broadcast(Unsafe.Add(ref w, 5))); }
        }
        int l = TS.Lanes;
        TS.Store(l0, ref accLow);
        TS.Store(h0, ref accHigh);
        if (TG.Value > 1) { TS.Store(l1, ref Unsafe.Add(ref accLow, l)); TS.Store(h1, ref Unsafe.Add(ref accHigh, l)); }
        if (TG.Value > 2) { TS.Store(l2, ref Unsafe.Add(ref accLow, 2 * l)); TS.Store(h2, ref Unsafe.Add(ref accHigh, 2 * l)); }
        if (TG.Value > 3) { TS.Store(l3, ref Unsafe.Add(ref accLow, 3 * l)); TS.Store(h3, ref Unsafe.Add(ref accHigh, 3 * l)); }
        if (TG.Value > 4) { TS.Store(l4, ref Unsafe.Add(ref accLow, 4 * l)); TS.Store(h4, ref Unsafe.Add(ref accHigh, 4 * l)); }
        if (TG.Value > 5) { TS.Store(l5, ref Unsafe.Add(ref accLow, 5 * l)); TS.Store(h5, ref Unsafe.Add(ref accHigh, 5 * l)); }
    }

    /// <summary>Splits every int16 x of the input into lo = x &amp; 255 and hi = x &gt;&gt; 8 (arithmetic): x = 256·hi + lo.</summary>
    private static void Split<TS, TV>(int[] input, int length, Workspace ws) where TS : struct, ISimd<TV> where TV : struct
    {
        int highBytes = ws.HighBytes;
        for (int i = 0; i < length; i += TS.Lanes)
        {
            var (low, high) = TS.SplitBytes(TS.Load(ref input[i]));
            TS.Store(low, ref ws.Split[i]);
            TS.Store(high, ref ws.Split[highBytes + i]);
        }
    }

    private enum CombineMode { Store, Add, Max }

    /// <summary>v = 256·high[i] + low[i] in int64 (|256·high| &lt; 2^39, no overflow), or v = low[i] where
    /// <paramref name="high"/> is empty, stored into, added to or max-combined with sum[i].</summary>
    private static void Combine(ReadOnlySpan<int> low, ReadOnlySpan<int> high, Span<long> sum, int length, CombineMode mode)
    {
        for (int i = 0; i < length; i += 4)
        {
            var v = Avx2.ConvertToVector256Int64(Vector128.Create(low.Slice(i, 4)));
            if (!high.IsEmpty) v += Avx2.ConvertToVector256Int64(Vector128.Create(high.Slice(i, 4))) << 8;
            if (mode != CombineMode.Store)
            {
                var old = Vector256.LoadUnsafe(ref sum[i]);
                v = mode == CombineMode.Add ? v + old : Avx2.BlendVariable(old, v, Avx2.CompareGreaterThan(v, old));
            }
            v.StoreUnsafe(ref sum[i]);
        }
    }

    private static void Max64(Span<long> best, ReadOnlySpan<long> other, int length)
    {
        for (int i = 0; i < length; i += 4)
        {
            var a = Vector256.LoadUnsafe(ref best[i]);
            var b = Vector256.Create(other.Slice(i, 4));
            Avx2.BlendVariable(a, b, Avx2.CompareGreaterThan(b, a)).StoreUnsafe(ref best[i]);
        }
    }

    /// <summary>Plain int64 sums per lane, for layers where even one weight pair may exceed int32.</summary>
    private static void ScalarInt64(PackedDot dot, int[] offsets, int g, ReadOnlySpan<int> window, int[] input, int lanes, Span<long> acc)
    {
        int size = dot.GroupSize(g);
        for (int c = 0; c < size; c++)
        for (int i = 0; i < lanes; i++)
        {
            long best = long.MinValue;
            foreach (int position in window)
            {
                long sum = 0;
                for (int t = 0; t < dot.Taps; t++)
                {
                    int w = dot.Weights[(g * dot.Taps + t) * PackedDot.GroupWidth + c], v = input[position + offsets[t] + i];
                    sum += (long)(short)w * (short)v + (long)(w >> 16) * (v >> 16);
                }
                best = Math.Max(best, sum);
            }
            acc[c * lanes + i] = best;
        }
    }

    /// <summary>Requantizes group <paramref name="g"/>'s accumulators of output positions (y, 0 .. count − 1)
    /// and stores them as channel pairs; one channel pair at a time, so its requantizers stay at hand.</summary>
    private static void Requantize(PackedDot dot, VectorRequantizer[] requant, int g, TensorLayout output, int y, int count, int lanes, int[] into, Workspace ws)
    {
        int size = dot.GroupSize(g), first = g * PackedDot.GroupWidth, stride = PackedDot.GroupWidth * lanes;
        // An offset layout stores y − 32768 for y in 0 .. 65,535: in 16 bits, y with its top bit flipped.
        int flip = output.Offset ? unchecked((int)0x80008000) : 0;
        bool wide = dot.Kind != AccumulatorKind.Int32;
        // int64 accumulators: float mode converts them to double exactly below 2^51; fixed-point mode takes any int64.
        bool wideVector = requant[first].Scalar.Mode == RequantMode.FixedPoint || dot.Bound < PackedDot.DoubleConversionLimit;
        for (int c = 0; c < size; c += 2)
        {
            int channel = first + c;
            bool second = c + 1 < size;
            ref readonly var r0 = ref requant[channel];
            ref readonly var r1 = ref requant[second ? channel + 1 : channel];
            int row = output.Locate(channel, y, 0).Vector * lanes;
            if (lanes == 16 && !wide && r0.SixteenLanesAtOnce)
            {
                RequantizeSixteen(r0, r1, second, count, c * lanes, stride, ws.RowAcc, into, row, flip);
                continue;
            }
            if (lanes == 16 && wide && wideVector && r0.SixteenWideLanesAtOnce)
            {
                RequantizeSixteenWide(r0, r1, second, count, c * lanes, stride, ws.RowAcc64, into, row, flip);
                continue;
            }
            for (int x = 0; x < count; x++)
            for (int j = 0; j < lanes; j += 8)
            {
                int at = x * stride + c * lanes + j;
                Vector256<int> low, high = Vector256<int>.Zero;
                if (!wide)
                {
                    low = r0.Apply(Vector256.LoadUnsafe(ref ws.RowAcc[at]));
                    if (second) high = r1.Apply(Vector256.LoadUnsafe(ref ws.RowAcc[at + lanes]));
                }
                else
                {
                    low = Wide(r0, ws.RowAcc64, at, wideVector);
                    if (second) high = Wide(r1, ws.RowAcc64, at + lanes, wideVector);
                }
                // Both fit 16 bits (2..16-bit signed grids, unsigned ones up to 65,535): pack channel c low, c + 1 high.
                (((low & Vector256.Create(0xFFFF)) | (high << 16)) ^ Vector256.Create(flip)).StoreUnsafe(ref into[row + x * lanes + j]);
            }
        }
    }

    /// <summary>A channel pair's row with a whole block's 16 lanes per call: the AVX-512 requantizer.
    /// A method of its own, so the 8-lane loop beside it compiles as it did without it (measured: float
    /// evaluations ran up to 15 % slower when both loops shared one method).</summary>
    private static void RequantizeSixteen(in VectorRequantizer r0, in VectorRequantizer r1, bool second, int count, int first, int stride,
        int[] acc, int[] into, int row, int flip)
    {
        for (int x = 0; x < count; x++)
        {
            int at = x * stride + first;
            var low = r0.Apply(Vector512.LoadUnsafe(ref acc[at]));
            var high = second ? r1.Apply(Vector512.LoadUnsafe(ref acc[at + 16])) : Vector512<int>.Zero;
            (((low & Vector512.Create(0xFFFF)) | (high << 16)) ^ Vector512.Create(flip)).StoreUnsafe(ref into[row + x * 16]);
        }
    }

    /// <summary><see cref="RequantizeSixteen"/> for int64 accumulators (float mode: below 2^51).</summary>
    private static void RequantizeSixteenWide(in VectorRequantizer r0, in VectorRequantizer r1, bool second, int count, int first, int stride,
        long[] acc, int[] into, int row, int flip)
    {
        for (int x = 0; x < count; x++)
        {
            int at = x * stride + first;
            var low = r0.Apply(Vector512.LoadUnsafe(ref acc[at]), Vector512.LoadUnsafe(ref acc[at + 8]));
            var high = second ? r1.Apply(Vector512.LoadUnsafe(ref acc[at + 16]), Vector512.LoadUnsafe(ref acc[at + 24])) : Vector512<int>.Zero;
            (((low & Vector512.Create(0xFFFF)) | (high << 16)) ^ Vector512.Create(flip)).StoreUnsafe(ref into[row + x * 16]);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Wide(in VectorRequantizer requant, long[] acc, int at, bool vector) =>
        vector ? requant.Apply(Vector256.LoadUnsafe(ref acc[at]), Vector256.LoadUnsafe(ref acc[at + 4])) : WideScalar(requant, acc, at);

    /// <summary>Float mode beyond 2^51, where the int64 → double step is not exact: the scalar requantizer, per lane.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Vector256<int> WideScalar(in VectorRequantizer requant, long[] acc, int at)
    {
        Span<int> lanes = stackalloc int[8];
        for (int i = 0; i < 8; i++) lanes[i] = requant.Scalar.Apply(acc[at + i] + requant.Bias);
        return Vector256.Create<int>(lanes);
    }
}
