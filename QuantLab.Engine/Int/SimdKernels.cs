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
    /// <summary>acc + vpmaddwd(x, broadcast(pair)): per int32 lane, x_low·w_low + x_high·w_high added to acc.</summary>
    static abstract TV MultiplyAdd(TV acc, TV x, int pair);
    static abstract TV Max(TV a, TV b);
}

internal struct Avx2Simd : ISimd<Vector256<int>>
{
    public static int Lanes => 8;
    public static Vector256<int> Zero => Vector256<int>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<int> Load(ref int source) => Vector256.LoadUnsafe(ref source);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector256<int> value, ref int destination) => value.StoreUnsafe(ref destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> MultiplyAdd(Vector256<int> acc, Vector256<int> x, int pair) =>
        Avx2.Add(acc, Avx2.MultiplyAddAdjacent(x.AsInt16(), Vector256.Create(pair).AsInt16()));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<int> Max(Vector256<int> a, Vector256<int> b) => Avx2.Max(a, b);
}

internal struct Avx512Simd : ISimd<Vector512<int>>
{
    public static int Lanes => 16;
    public static Vector512<int> Zero => Vector512<int>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<int> Load(ref int source) => Vector512.LoadUnsafe(ref source);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector512<int> value, ref int destination) => value.StoreUnsafe(ref destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> MultiplyAdd(Vector512<int> acc, Vector512<int> x, int pair)
    {
        if (Avx512BW.IsSupported)
            return Avx512F.Add(acc, Avx512BW.MultiplyAddAdjacent(x.AsInt16(), Vector512.Create(pair).AsInt16()));
        // Emulation for tests on machines without AVX-512 (KernelPaths.EmulateAvx512): the same
        // instruction on the two 256-bit halves.
        var w = Vector256.Create(pair).AsInt16();
        return acc + Vector512.Create(Avx2.MultiplyAddAdjacent(x.GetLower().AsInt16(), w), Avx2.MultiplyAddAdjacent(x.GetUpper().AsInt16(), w));
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<int> Max(Vector512<int> a, Vector512<int> b) => Vector512.Max(a, b);
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

/// <summary>
/// The SIMD integer path: L images per block (batch-major: a vector lane is an image), each op one short
/// function over its typed parameters. The micro-kernel keeps up to 8 output channels' accumulators in
/// registers, loads one pair vector per tap and multiplies it by each channel's broadcast weight pair
/// (vpmaddwd: int16·int16 pairs summed into int32). Requantization (<see cref="VectorRequantizer"/>) runs
/// on the accumulators after a fused max-pool, so a pooled conv requantizes a quarter of its outputs.
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
        public readonly int[] Acc = new int[PackedDot.GroupWidth * model.Lanes];
        public readonly long[] Acc64 = new long[PackedDot.GroupWidth * model.Lanes];
        public readonly long[] Chunk64 = new long[PackedDot.GroupWidth * model.Lanes];
    }

    /// <summary>Runs <paramref name="count"/> ≤ L images (the rest of the block is zero padding) and writes their logits.</summary>
    public static void RunBlock<TS, TV>(CompiledModel model, ReadOnlySpan<short> images, int count, Span<int> logits, Workspace ws)
        where TS : struct, ISimd<TV> where TV : struct
    {
        Stage(model.InputLayout, images, count, TS.Lanes, ws.A);
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
            for (int i = 0; i < count; i++) logits[i * classes + e] = halves[(vector * TS.Lanes + i) * 2 + half];
        }
    }

    /// <summary>Transposes the block's images into the pair layout (batch-major); unused lanes and the padding halves are zero.</summary>
    private static void Stage(TensorLayout layout, ReadOnlySpan<short> images, int count, int lanes, int[] into)
    {
        var halves = MemoryMarshal.Cast<int, short>(into.AsSpan(0, layout.Vectors * lanes));
        halves.Clear();
        int size = layout.Elements, plane = layout.Height * layout.Width;
        for (int i = 0; i < count; i++)
        {
            var image = images.Slice(i * size, size);
            if (layout.Kind == PairLayout.Rows)
            {
                // Pixel (y, x) is the low half of vector (y, x) and the high half of vector (y − 1, x).
                for (int p = 0; p < plane; p++)
                {
                    halves[(p * lanes + i) * 2] = image[p];
                    if (p >= layout.Width) halves[((p - layout.Width) * lanes + i) * 2 + 1] = image[p];
                }
            }
            else
            {
                for (int c = 0; c < layout.Channels; c++)
                for (int p = 0; p < plane; p++)
                    halves[((((c >> 1) * plane) + p) * lanes + i) * 2 + (c & 1)] = image[c * plane + p];
            }
        }
    }

    /// <summary>conv2d (+ fused max-pool): per channel group and pooled output position, the max of the
    /// window's accumulators, requantized.</summary>
    private static void Conv<TS, TV>(ConvParams p, int[] input, int[] output, Workspace ws) where TS : struct, ISimd<TV> where TV : struct
    {
        int pool = p.Pool, width = p.Input.Width;
        Span<int> window = stackalloc int[pool * pool];
        for (int g = 0; g < p.Dot.Groups; g++)
        for (int py = 0; py < p.Output.Height; py++)
        for (int px = 0; px < p.Output.Width; px++)
        {
            for (int dy = 0, j = 0; dy < pool; dy++)
            for (int dx = 0; dx < pool; dx++, j++)
                window[j] = ((py * pool + dy) * width + px * pool + dx) * TS.Lanes;
            Accumulate<TS, TV>(p.Dot, p.TapOffsets, g, window, input, ws);
            Requantize(p.Dot, p.Requant, g, p.Output, py, px, TS.Lanes, output, ws);
        }
    }

    /// <summary>Fully connected: one output position, every input vector a tap.</summary>
    private static void Linear<TS, TV>(LinearParams p, int[] input, int[] output, Workspace ws) where TS : struct, ISimd<TV> where TV : struct
    {
        ReadOnlySpan<int> position = [0];
        for (int g = 0; g < p.Dot.Groups; g++)
        {
            Accumulate<TS, TV>(p.Dot, p.TapOffsets, g, position, input, ws);
            Requantize(p.Dot, p.Requant, g, p.Output, 0, 0, TS.Lanes, output, ws);
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
    /// <paramref name="window"/> (the fused pool window), max-reduced: into ws.Acc (int32 kinds) or ws.Acc64.
    /// </summary>
    private static void Accumulate<TS, TV>(PackedDot dot, int[] offsets, int g, ReadOnlySpan<int> window, int[] input, Workspace ws)
        where TS : struct, ISimd<TV> where TV : struct
    {
        int size = dot.GroupSize(g), lanes = TS.Lanes;
        ref int weights = ref dot.Weights[g * dot.Taps * PackedDot.GroupWidth];
        switch (dot.Kind)
        {
            case AccumulatorKind.Int32:
                for (int j = 0; j < window.Length; j++)
                    Dot<TS, TV>(size, ref input[window[j]], offsets, 0, dot.Taps, ref weights, ws.Acc, j > 0);
                break;
            case AccumulatorKind.ChunkedInt64:
                for (int j = 0; j < window.Length; j++)
                {
                    var sum = j == 0 ? ws.Acc64 : ws.Chunk64;
                    Array.Clear(sum, 0, size * lanes);
                    int start = 0;
                    foreach (int end in dot.ChunkEnds[g])
                    {
                        // Within a chunk every partial sum is proven within int32 (CompiledModel.Pack).
                        Dot<TS, TV>(size, ref input[window[j]], offsets, start, end, ref weights, ws.Acc, false);
                        Widen(ws.Acc, sum, size * lanes);
                        start = end;
                    }
                    if (j > 0) Max64(ws.Acc64, ws.Chunk64, size * lanes);
                }
                break;
            default:
                ScalarInt64(dot, offsets, g, window, input, lanes, ws.Acc64);
                break;
        }
    }

    private static void Dot<TS, TV>(int size, ref int x, int[] offsets, int from, int to, ref int weights, int[] acc, bool max)
        where TS : struct, ISimd<TV> where TV : struct
    {
        switch (size)
        {
            case 8: Dot<TS, TV, G8>(ref x, offsets, from, to, ref weights, acc, max); break;
            case 7: Dot<TS, TV, G7>(ref x, offsets, from, to, ref weights, acc, max); break;
            case 6: Dot<TS, TV, G6>(ref x, offsets, from, to, ref weights, acc, max); break;
            case 5: Dot<TS, TV, G5>(ref x, offsets, from, to, ref weights, acc, max); break;
            case 4: Dot<TS, TV, G4>(ref x, offsets, from, to, ref weights, acc, max); break;
            case 3: Dot<TS, TV, G3>(ref x, offsets, from, to, ref weights, acc, max); break;
            case 2: Dot<TS, TV, G2>(ref x, offsets, from, to, ref weights, acc, max); break;
            default: Dot<TS, TV, G1>(ref x, offsets, from, to, ref weights, acc, max); break;
        }
    }

    /// <summary>
    /// The micro-kernel: taps [from, to) of TG output channels at one output position, int32 lanes, written
    /// to acc[c·L ..] (or max-combined with what is there). Exact because the caller's accumulator kind
    /// proves every partial sum over these taps within int32.
    /// </summary>
    private static void Dot<TS, TV, TG>(ref int x, int[] offsets, int from, int to, ref int weights, int[] acc, bool max)
        where TS : struct, ISimd<TV> where TV : struct where TG : struct, IGroupSize
    {
        TV a0 = TS.Zero, a1 = TS.Zero, a2 = TS.Zero, a3 = TS.Zero, a4 = TS.Zero, a5 = TS.Zero, a6 = TS.Zero, a7 = TS.Zero;
        ref int offset = ref MemoryMarshal.GetArrayDataReference(offsets);
        for (int t = from; t < to; t++)
        {
            var v = TS.Load(ref Unsafe.Add(ref x, Unsafe.Add(ref offset, t)));
            ref int w = ref Unsafe.Add(ref weights, t * PackedDot.GroupWidth);
            a0 = TS.MultiplyAdd(a0, v, w);
            if (TG.Value > 1) a1 = TS.MultiplyAdd(a1, v, Unsafe.Add(ref w, 1));
            if (TG.Value > 2) a2 = TS.MultiplyAdd(a2, v, Unsafe.Add(ref w, 2));
            if (TG.Value > 3) a3 = TS.MultiplyAdd(a3, v, Unsafe.Add(ref w, 3));
            if (TG.Value > 4) a4 = TS.MultiplyAdd(a4, v, Unsafe.Add(ref w, 4));
            if (TG.Value > 5) a5 = TS.MultiplyAdd(a5, v, Unsafe.Add(ref w, 5));
            if (TG.Value > 6) a6 = TS.MultiplyAdd(a6, v, Unsafe.Add(ref w, 6));
            if (TG.Value > 7) a7 = TS.MultiplyAdd(a7, v, Unsafe.Add(ref w, 7));
        }
        ref int dst = ref MemoryMarshal.GetArrayDataReference(acc);
        int l = TS.Lanes;
        Put(a0, ref dst, max);
        if (TG.Value > 1) Put(a1, ref Unsafe.Add(ref dst, l), max);
        if (TG.Value > 2) Put(a2, ref Unsafe.Add(ref dst, 2 * l), max);
        if (TG.Value > 3) Put(a3, ref Unsafe.Add(ref dst, 3 * l), max);
        if (TG.Value > 4) Put(a4, ref Unsafe.Add(ref dst, 4 * l), max);
        if (TG.Value > 5) Put(a5, ref Unsafe.Add(ref dst, 5 * l), max);
        if (TG.Value > 6) Put(a6, ref Unsafe.Add(ref dst, 6 * l), max);
        if (TG.Value > 7) Put(a7, ref Unsafe.Add(ref dst, 7 * l), max);

        static void Put(TV value, ref int to, bool max) => TS.Store(max ? TS.Max(value, TS.Load(ref to)) : value, ref to);
    }

    /// <summary>sum[i] += acc[i] in int64 (4 lanes at a time).</summary>
    private static void Widen(int[] acc, long[] sum, int length)
    {
        for (int i = 0; i < length; i += 4)
        {
            var wide = Avx2.ConvertToVector256Int64(Vector128.LoadUnsafe(ref acc[i]));
            (Vector256.LoadUnsafe(ref sum[i]) + wide).StoreUnsafe(ref sum[i]);
        }
    }

    private static void Max64(long[] best, long[] other, int length)
    {
        for (int i = 0; i < length; i += 4)
        {
            var a = Vector256.LoadUnsafe(ref best[i]);
            var b = Vector256.LoadUnsafe(ref other[i]);
            Avx2.BlendVariable(a, b, Avx2.CompareGreaterThan(b, a)).StoreUnsafe(ref best[i]);
        }
    }

    /// <summary>Plain int64 sums per lane, for layers where even one weight pair may exceed int32.</summary>
    private static void ScalarInt64(PackedDot dot, int[] offsets, int g, ReadOnlySpan<int> window, int[] input, int lanes, long[] acc)
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

    /// <summary>Requantizes group <paramref name="g"/>'s accumulators and stores them as channel pairs at (y, x).</summary>
    private static void Requantize(PackedDot dot, VectorRequantizer[] requant, int g, TensorLayout output, int y, int x, int lanes, int[] into, Workspace ws)
    {
        int size = dot.GroupSize(g), first = g * PackedDot.GroupWidth;
        bool wide = dot.Kind != AccumulatorKind.Int32;
        bool exactDouble = dot.Bound < PackedDot.DoubleConversionLimit;
        for (int c = 0; c < size; c += 2)
        {
            int channel = first + c;
            var (vector, _) = output.Locate(channel, y, x);
            bool second = c + 1 < size;
            for (int j = 0; j < lanes; j += 8)
            {
                Vector256<int> low, high = Vector256<int>.Zero;
                if (!wide)
                {
                    low = requant[channel].Apply(Vector256.LoadUnsafe(ref ws.Acc[c * lanes + j]));
                    if (second) high = requant[channel + 1].Apply(Vector256.LoadUnsafe(ref ws.Acc[(c + 1) * lanes + j]));
                }
                else
                {
                    low = Wide(requant[channel], ws.Acc64, c * lanes + j, exactDouble);
                    if (second) high = Wide(requant[channel + 1], ws.Acc64, (c + 1) * lanes + j, exactDouble);
                }
                // Both are int16 values (2..16-bit output grids): pack channel c low, c + 1 high.
                ((low & Vector256.Create(0xFFFF)) | (high << 16)).StoreUnsafe(ref into[vector * lanes + j]);
            }
        }
    }

    private static Vector256<int> Wide(in VectorRequantizer requant, long[] acc, int at, bool exactDouble)
    {
        if (exactDouble) return requant.Apply(Vector256.LoadUnsafe(ref acc[at]), Vector256.LoadUnsafe(ref acc[at + 4]));
        Span<int> lanes = stackalloc int[8];
        long bias = requant.Bias;
        for (int i = 0; i < 8; i++) lanes[i] = requant.Scalar.Apply(acc[at + i] + bias);
        return Vector256.Create<int>(lanes);
    }
}
