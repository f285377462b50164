using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using QuantLab.Engine.Quantization;

namespace QuantLab.Engine.Int;

/// <summary>
/// The SIMD integer path: L images per block (batch-major: a vector lane is an image), each op one short
/// function over its typed parameters. The micro-kernel keeps up to 8 output channels' accumulators in
/// registers, loads one pair vector per tap and multiplies it by each channel's broadcast weight pair
/// (vpmaddwd: int16·int16 pairs summed into int32). Requantization (<see cref="VectorRequantizer"/>) runs
/// on the accumulators after a fused max-pool, so a pooled conv requantizes a quarter of its outputs.
/// A conv with a 2×2 pool computes each window's two columns by minimal filtering instead (<see cref="ColumnPairDot"/>,
/// <see cref="ColumnPairWindow{TS, TV, TG}"/> on AVX-512, <see cref="ColumnPairRow{TS, TV, TG}"/> on AVX2): a third fewer multiplies.
/// Bit-exact with <see cref="ReferenceKernels"/>: the integers are the exact Σ wq·xq (bounds checked by
/// <see cref="CompiledModel"/>), and the requantizer is proven identical to <see cref="Requantizer"/>.
/// This file: the block runner and the ops; SimdKernels.Staging.cs puts images into the input layout,
/// SimdKernels.MicroKernels.cs holds the register-level dot products, SimdKernels.Requantize.cs the requantization
/// passes; they are written over <see cref="ISimd{TV}"/> (SimdIsa.cs) and the pool-window kinds of SimdWindowKinds.cs.
/// </summary>
internal static partial class SimdKernels
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
            Requantize<TS, TV>(p.Dot, p.Requant, g, p.Output, py, p.Output.Width, output, ws);
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
            Requantize<TS, TV>(p.Dot, p.Requant, g, p.Output, 0, 1, output, ws);
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
                // Pool windows 4 positions at a time on AVX-512, 2 on AVX2, max-reduced in registers (DotWindow); a larger
                // window's calls and an odd window's last position max-combine in memory. Either way up to 6 channels per
                // call: AVX-512's 32 registers hold their 24 accumulators beside the 4 inputs and a weight, AVX2's 16 hold
                // 12 beside 2 inputs and a weight (MaxOfTwo), so each input vector loaded serves up to 6 channels.
                // One position (no pool) keeps 8 channels' accumulators in registers (Dot).
                int channels = ChannelsPerCall(size, lanes, lanes == 16 ? 4 : 2);
                for (int j = 0; j < window.Length;)
                {
                    if (lanes == 16 && window.Length - j >= 4)
                    {
                        for (int c = 0; c < size; c += channels)
                            DotWindow<TS, TV, MaxOfFour<TS, TV>>(Math.Min(channels, size - c), ref MemoryMarshal.GetArrayDataReference(input), window.Slice(j, 4),
                                offsets, 0, dot.Taps, ref Unsafe.Add(ref weights, c), ref ws.RowAcc[at + c * lanes], j > 0);
                        j += 4;
                    }
                    else if (lanes == 8 && window.Length - j >= 2)
                    {
                        for (int c = 0; c < size; c += channels)
                            DotWindow<TS, TV, MaxOfTwo<TS, TV>>(Math.Min(channels, size - c), ref MemoryMarshal.GetArrayDataReference(input), window.Slice(j, 2),
                                offsets, 0, dot.Taps, ref Unsafe.Add(ref weights, c), ref ws.RowAcc[at + c * lanes], j > 0);
                        j += 2;
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
                    int step = ChannelsPerCall(size, lanes, streams: 4);
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
                        int step = ChannelsPerCall(size, lanes, streams: 2);
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
    /// pool windows 4 positions at a time (<see cref="FourSums{TS, TV}"/>, widened as each chunk ends; MaxOfFour's
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
                    int step = ChannelsPerCall(size, lanes, streams: 4);
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
    /// <see cref="Accumulate{TS, TV}"/> for a conv computed by minimal filtering (<see cref="ColumnPairDot"/>, 2×2 windows), 2
    /// channels per call. AVX-512: both rows of the window in one call (<see cref="ColumnPairWindow{TS, TV}"/>), their 16 sums,
    /// a row's 4 inputs, a transformed input and a weight in the 32 registers; with 3 channels (30 of 32) the JIT spilled
    /// sums to the stack and the layer ran slower than the direct kernel. AVX2: a row per call (<see cref="ColumnPairRow{TS, TV}"/>),
    /// 8 sums in its 16 registers. Both rows of one channel per call (the same 8 sums, each input loaded and transformed
    /// per channel) ran LeNet-5 11–15 % slower than the direct kernel; a row of 2 channels runs it 7 % faster on an AMD
    /// EPYC of family 23 (Zen 1, 1 thread: 34.5k → 37.0k images/s; conv3 145 → 129–140 ms per 10k images).
    /// </summary>
    private static void AccumulateColumnPairs<TS, TV>(ColumnPairDot pairs, int size, int g, ReadOnlySpan<int> window, int[] input, Workspace ws, int at)
        where TS : struct, ISimd<TV> where TV : struct
    {
        const int step = 2;
        ref int x = ref MemoryMarshal.GetArrayDataReference(input);
        for (int c = 0; c < size; c += step)
        {
            int channels = Math.Min(step, size - c);
            ref int weights = ref pairs.Weights[(g * pairs.Taps * PackedDot.GroupWidth) + c];
            ref int acc = ref ws.RowAcc[at + c * TS.Lanes];
            if (TS.Lanes == 16) ColumnPairWindow<TS, TV>(channels, ref x, window[0], window[2], pairs, ref weights, ref acc);
            else
            {
                ColumnPairRow<TS, TV>(channels, ref x, window[0], pairs, ref weights, ref acc, last: false);
                ColumnPairRow<TS, TV>(channels, ref x, window[2], pairs, ref weights, ref acc, last: true);
            }
        }
    }

    /// <summary>
    /// Channels per micro-kernel call over <paramref name="streams"/> input streams: as many as fit the registers beside the
    /// streams' inputs and a weight. Up to 6 (AVX-512: 24 accumulators + 4 + 1 of 32 registers; 2 streams on AVX2: 12 + 2 + 1
    /// of 16), a group of 7 or 8 split in halves; 4 streams on AVX2: 2 (8 + 4 + 1).
    /// </summary>
    private static int ChannelsPerCall(int size, int lanes, int streams) =>
        lanes == 16 || streams == 2 ? (size <= 6 ? size : (size + 1) / 2) : 2;

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
}
