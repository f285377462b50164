using QuantLab.Engine.Quantization;

namespace QuantLab.Engine.Int;

/// <summary>
/// An <see cref="IntModel"/> compiled for one <see cref="KernelPath"/>: typed per-op parameters
/// (<see cref="ConvParams"/>, <see cref="LinearParams"/>, <see cref="PoolParams"/>) with weights packed in
/// pairs, tap offsets, per-channel vector requantizers and, per layer, the accumulator arithmetic that the
/// bounds of the actual weights prove exact. Immutable; one instance serves any number of threads.
/// </summary>
public sealed class CompiledModel
{
    public IntModel Model { get; }
    public KernelPath Path { get; }
    /// <summary>Images per block: the int32 lanes of the path's vectors (1 for the scalar path).</summary>
    public int Lanes { get; }
    public IReadOnlyList<CompiledOp> Ops { get; }
    public TensorLayout InputLayout { get; }
    public TensorLayout OutputLayout { get; }
    public int InputSize { get; }
    public int OutputSize { get; }
    /// <summary>The largest tensor any op reads or writes, in int32 elements per block (lanes included).</summary>
    public int MaxBlockElements { get; }
    /// <summary>The widest output row of any op (the SIMD kernels requantize a row at a time).</summary>
    public int MaxOutputWidth { get; } = 1;

    /// <param name="path">Default: the best path this machine supports.</param>
    public CompiledModel(IntModel model, KernelPath? path = null)
    {
        Model = model;
        Path = path ?? KernelPaths.Best;
        if (!KernelPaths.IsSupported(Path) && !(Path == KernelPath.Avx512 && KernelPaths.EmulateAvx512 && KernelPaths.IsSupported(KernelPath.Avx2)))
            throw new NotSupportedException($"This machine does not support the {Path.ToOption()} kernel path.");
        Lanes = Path switch { KernelPath.Avx512 => 16, KernelPath.Avx2 => 8, _ => 1 };

        InputSize = model.InputShape.Aggregate(1, (a, b) => a * b);
        OutputSize = OutputElements(model);
        if (Path == KernelPath.Scalar)
        {
            // The scalar path runs ReferenceKernels on the model itself: nothing to compile.
            Ops = [];
            return;
        }
        (Ops, InputLayout, OutputLayout, int maxVectors) = Compile(model, Lanes);
        MaxBlockElements = maxVectors * Lanes;
        MaxOutputWidth = Ops.Select(op => op is ConvParams conv ? conv.Output.Width : 1).Append(1).Max();
    }

    /// <summary>Whether the SIMD paths cover <paramref name="model"/>'s op sequence (LeNet-like sequences: conv [pool] … flatten linear …).</summary>
    public static bool CanCompile(IntModel model)
    {
        try
        {
            Compile(model, 8);
            return true;
        }
        catch (NotSupportedException)
        {
            return false;
        }
    }

    private static int OutputElements(IntModel model)
    {
        int c = model.InputShape[0], h = model.InputShape[1], w = model.InputShape[2];
        foreach (var op in model.Ops)
        {
            (c, h, w) = op switch
            {
                IntLayer layer => layer.OutputShape(c, h, w),
                IntMaxPool pool => (c, h / pool.Kernel, w / pool.Kernel),
                _ => (c * h * w, 1, 1),
            };
        }
        return c * h * w;
    }

    private static (IReadOnlyList<CompiledOp>, TensorLayout Input, TensorLayout Output, int MaxVectors) Compile(IntModel model, int lanes)
    {
        int c = model.InputShape[0], h = model.InputShape[1], w = model.InputShape[2];
        // A one-channel input read by a convolution is paired by rows (and, for an odd kernel's last row, by
        // columns: see PairLayout.Rows); anything else by channels.
        bool rows = c == 1 && model.Ops.Count > 0 && model.Ops[0] is IntLayer { Shape: Conv2dShape };
        int firstKernel = rows ? ((IntLayer)model.Ops[0]).KernelSide : 0;
        bool columns = firstKernel > 1 && firstKernel % 2 == 1;
        var layout = new TensorLayout(rows ? PairLayout.Rows : PairLayout.Channels, c, h, w, columns);
        var inputLayout = layout;
        int maxVectors = layout.Vectors;
        int inputMin = Quantizer.QMin(model.InputBits), inputMax = Quantizer.QMax(model.InputBits);
        bool flattened = false;
        var ops = new List<CompiledOp>();
        for (int i = 0; i < model.Ops.Count; i++)
        {
            CompiledOp compiled;
            // The largest |x| stored in the layer's input (an offset layout holds x − 32768).
            long xMax = Math.Max(Math.Abs((long)inputMin - layout.ValueOffset), Math.Abs((long)inputMax - layout.ValueOffset));
            switch (model.Ops[i])
            {
                case IntLayer { Shape: Conv2dShape } conv when !flattened:
                {
                    int pool = i + 1 < model.Ops.Count && model.Ops[i + 1] is IntMaxPool p ? p.Kernel : 1;
                    if (pool > 1) i++;
                    var convParams = CompileConv(conv, layout, pool, xMax, model.Rounding, lanes);
                    (compiled, layout) = (convParams, convParams.Output);
                    (inputMin, inputMax) = conv.OutputClamp;
                    break;
                }
                case IntLayer { Shape: LinearShape } linear:
                {
                    var linearParams = CompileLinear(linear, layout, xMax, model.Rounding, lanes);
                    (compiled, layout) = (linearParams, linearParams.Output);
                    (inputMin, inputMax) = linear.OutputClamp;
                    flattened = false;
                    break;
                }
                case IntMaxPool pool when !flattened && layout.Kind == PairLayout.Channels:
                {
                    var poolParams = new PoolParams(pool.Name)
                    {
                        Input = layout, Kernel = pool.Kernel,
                        Output = layout with { Height = layout.Height / pool.Kernel, Width = layout.Width / pool.Kernel },
                    };
                    (compiled, layout) = (poolParams, poolParams.Output);
                    break;
                }
                case IntFlatten:
                    flattened = true;
                    continue;
                default:
                    throw new NotSupportedException($"{model.Ops[i].Name}: this op sequence is not supported by the compiled kernels.");
            }
            ops.Add(compiled);
            maxVectors = Math.Max(maxVectors, layout.Vectors);
        }
        return (ops, inputLayout, layout, maxVectors);
    }

    private static ConvParams CompileConv(IntLayer layer, TensorLayout input, int pool, long xMax, RoundingMode rounding, int lanes)
    {
        int k = layer.KernelSide, cin = layer.InChannels;
        if (cin != input.Channels || input.Height < k || input.Width < k)
            throw new NotSupportedException($"{layer.Name}: input shape does not match the layer.");
        int oh = input.Height - k + 1, ow = input.Width - k + 1;
        var taps = new List<(int Offset, Func<int, (int, int)> Pair)>();
        // Runs of taps at consecutive columns (a kernel row): the segments of ColumnPairDot.
        var runs = new List<(int First, int Length)>();
        if (input.Kind == PairLayout.Rows)
        {
            // Taps pair kernel rows 2r and 2r+1: the row plane's vector (y, x) holds rows y and y+1, so tap (r, kx)
            // reads vector (y + 2r, x + kx). An odd kernel's last row ky pairs columns kx and kx+1 instead, from the
            // column plane's vector (y + ky, x + kx), and its last column alone (a zero weight beside it).
            int plane = input.Height * input.Width;
            for (int r = 0; r < k / 2; r++)
            {
                runs.Add((taps.Count, k));
                for (int kx = 0; kx < k; kx++)
                {
                    int ky = 2 * r, kxx = kx;
                    taps.Add((ky * input.Width + kx, co => (W(co, 0, ky, kxx), W(co, 0, ky + 1, kxx))));
                }
            }
            if (k % 2 == 1)
            {
                int ky = k - 1;
                for (int kx = 0; kx + 1 < k; kx += 2)
                {
                    int kxx = kx;
                    runs.Add((taps.Count, 1));
                    taps.Add((plane + ky * input.Width + kx, co => (W(co, 0, ky, kxx), W(co, 0, ky, kxx + 1))));
                }
                runs.Add((taps.Count, 1));
                taps.Add((ky * input.Width + k - 1, co => (W(co, 0, ky, k - 1), 0)));
            }
        }
        else
        {
            for (int q = 0; q < input.Pairs; q++)
            for (int ky = 0; ky < k; ky++)
            {
                runs.Add((taps.Count, k));
                for (int kx = 0; kx < k; kx++)
                {
                    int c0 = 2 * q, kyy = ky, kxx = kx;
                    taps.Add(((q * input.Height + ky) * input.Width + kx, co => (W(co, c0, kyy, kxx), c0 + 1 < cin ? W(co, c0 + 1, kyy, kxx) : 0)));
                }
            }
        }
        var constants = AccumulatorConstants(layer, input);
        var dot = Pack(layer, taps.Select(t => t.Pair).ToList(), xMax, constants);
        return new ConvParams(layer.Name)
        {
            Input = input,
            Output = new TensorLayout(PairLayout.Channels, layer.OutChannels, oh / pool, ow / pool, Offset: StoresOffset(layer)),
            Kernel = k,
            Pool = pool,
            TapOffsets = taps.Select(t => t.Offset * lanes).ToArray(),
            Dot = dot,
            ColumnPairs = pool == 2 && lanes > 1 && dot.Kind == AccumulatorKind.Int32 ? PackColumnPairs(layer, taps, runs, dot, xMax, lanes) : null,
            Requant = Requantizers(layer, rounding, constants),
        };

        int W(int co, int ci, int ky, int kx) => layer.Weights[((co * cin + ci) * k + ky) * k + kx];
    }

    /// <summary>
    /// The <see cref="ColumnPairDot"/> of a conv with a fused 2×2 pool, or null where it would not be exact: a transformed
    /// input (a sum or difference of two inputs, |·| ≤ 2·xMax) or weight outside int16, or 2y beyond int32.
    /// </summary>
    private static ColumnPairDot? PackColumnPairs(IntLayer layer, List<(int Offset, Func<int, (int, int)> Pair)> taps,
        List<(int First, int Length)> runs, PackedDot dot, long xMax, int lanes)
    {
        if (2 * xMax > short.MaxValue || 2 * dot.Bound > int.MaxValue) return null;
        var segments = new List<(int First, SegmentKind Kind)>();
        foreach (var (first, length) in runs)
            for (int at = first, left = length; left > 0;)
            {
                // F(2, 3) where it leaves no single tap behind (5 = 3 + 2, 4 = 2 + 2).
                var kind = left == 4 || left == 2 ? SegmentKind.F2 : left == 1 ? SegmentKind.F1 : SegmentKind.F3;
                segments.Add((at, kind));
                at += (int)kind;
                left -= (int)kind;
            }
        int transformed = segments.Sum(s => TransformedTaps(s.Kind));
        int outC = layer.OutChannels, groups = (outC + PackedDot.GroupWidth - 1) / PackedDot.GroupWidth;
        var weights = new int[groups * transformed * PackedDot.GroupWidth];
        Span<long> lows = stackalloc long[3], highs = stackalloc long[3], lowT = stackalloc long[4], highT = stackalloc long[4];
        for (int co = 0; co < outC; co++)
        {
            int t = 0;
            foreach (var (first, kind) in segments)
            {
                for (int j = 0; j < (int)kind; j++) (lows[j], highs[j]) = taps[first + j].Pair(co);
                Transform(kind, lows, lowT);
                Transform(kind, highs, highT);
                for (int i = 0; i < TransformedTaps(kind); i++, t++)
                {
                    if (Math.Abs(lowT[i]) > short.MaxValue || Math.Abs(highT[i]) > short.MaxValue) return null;
                    weights[((co / PackedDot.GroupWidth) * transformed + t) * PackedDot.GroupWidth + co % PackedDot.GroupWidth] =
                        ((int)lowT[i] & 0xFFFF) | ((int)highT[i] << 16);
                }
            }
        }
        return new ColumnPairDot
        {
            Kinds = segments.Select(s => s.Kind).ToArray(),
            Offsets = segments.Select(s => taps[s.First].Offset * lanes).ToArray(),
            Taps = transformed,
            Weights = weights,
        };

        static int TransformedTaps(SegmentKind kind) => kind switch { SegmentKind.F1 => 2, SegmentKind.F2 => 3, _ => 4 };

        // The segment's transformed weights, in the order of SegmentKind's sums (all doubled: see ColumnPairDot).
        static void Transform(SegmentKind kind, ReadOnlySpan<long> g, Span<long> t)
        {
            switch (kind)
            {
                case SegmentKind.F1: (t[0], t[1]) = (2 * g[0], 2 * g[0]); break;
                case SegmentKind.F2: (t[0], t[1], t[2]) = (2 * g[0], 2 * (g[0] + g[1]), 2 * g[1]); break;
                default: (t[0], t[1], t[2], t[3]) = (2 * g[0], g[0] + g[1] + g[2], g[0] - g[1] + g[2], -2 * g[2]); break;
            }
        }
    }

    private static LinearParams CompileLinear(IntLayer layer, TensorLayout input, long xMax, RoundingMode rounding, int lanes)
    {
        if (input.Kind != PairLayout.Channels || input.Elements != layer.InChannels)
            throw new NotSupportedException($"{layer.Name}: input shape does not match the layer.");
        // Tap s is input vector s = (q·H + y)·W + x, holding flattened features (2q·H + y)·W + x and
        // ((2q+1)·H + y)·W + x (C, H, W order), the second absent for an odd channel count.
        var taps = new List<Func<int, (int, int)>>();
        int plane = input.Height * input.Width;
        for (int q = 0; q < input.Pairs; q++)
        for (int p = 0; p < plane; p++)
        {
            int f0 = 2 * q * plane + p, f1 = f0 + plane;
            bool second = 2 * q + 1 < input.Channels;
            taps.Add(o => (layer.Weights[o * layer.InChannels + f0], second ? layer.Weights[o * layer.InChannels + f1] : 0));
        }
        var constants = AccumulatorConstants(layer, input);
        return new LinearParams(layer.Name)
        {
            Input = input,
            Output = new TensorLayout(PairLayout.Channels, layer.OutChannels, 1, 1, Offset: StoresOffset(layer)),
            TapOffsets = Enumerable.Range(0, taps.Count).Select(t => t * lanes).ToArray(),
            Dot = Pack(layer, taps, xMax, constants),
            Requant = Requantizers(layer, rounding, constants),
        };
    }

    /// <summary>Whether the layer's outputs are stored offset (<see cref="TensorLayout.Offset"/>): an unsigned 16-bit grid, up to 65,535.</summary>
    private static bool StoresOffset(IntLayer layer) => layer.OutputClamp.Max > short.MaxValue;

    /// <summary>
    /// Per output channel, the constant the requantizer adds to the kernels' sum: the int32 bias bq, plus 32768·Σ_j w[c, j]
    /// where the input is stored offset, since Σ w·x = Σ w·(x − 32768) + 32768·Σ w (no padding: every output reads every
    /// weight). |32768·Σ w| ≤ 2^15·400·2^15 for LeNet-5 at 16 bits: int64.
    /// </summary>
    private static long[] AccumulatorConstants(IntLayer layer, TensorLayout input) =>
        Enumerable.Range(0, layer.OutChannels).Select(c =>
        {
            long weights = 0;
            if (input.Offset)
                for (int j = 0; j < layer.FanIn; j++) weights += layer.Weights[c * layer.FanIn + j];
            return layer.AccumulatorBias(c) + (long)input.ValueOffset * weights;
        }).ToArray();

    private static VectorRequantizer[] Requantizers(IntLayer layer, RoundingMode rounding, long[] constants) =>
        Enumerable.Range(0, layer.OutChannels)
            .Select(c => new VectorRequantizer(layer.RequantizerOf(c, rounding), constants[c]))
            .ToArray();

    /// <summary>
    /// Packs the weight pairs and chooses the accumulator. With |x| ≤ xMax, every partial sum of channel c's
    /// accumulator, in any order and grouping (so also each vpmaddwd pair sum, whose only wrapping case
    /// (−32768)·(−32768)·2 = 2^31 exceeds this bound too), is at most Σ_t (|w_low| + |w_high|)·xMax; the
    /// accumulator's constant (<paramref name="constants"/>: bq, and the offset's share) is added to the sum by the requantizer,
    /// so its magnitude joins the bound.
    /// Int32 when the bound is ≤ 2^31 − 1: LeNet-5 at 8×8 bits stays below 400·128·128 ≈ 6.6·10^6 (400·128·255 ≈ 1.3·10^7
    /// with unsigned 8-bit inputs, xMax = 2^n − 1).
    /// Otherwise, with the int64 total below 2^51 (exact conversion to double; else ScalarInt64), ChunkedInt32 where
    /// chunks of taps with Σ (|w_low| + |w_high|)·xMax ≤ 2^31 − 1 are long (<see cref="PackedDot.MinChunkTaps"/>), else
    /// SplitInt64 (inputs split into bytes, see <see cref="AccumulatorKind.SplitInt64"/>): chunks of taps with
    /// Σ (|w_low| + |w_high|)·255 ≤ 2^31 − 1, at least 2^31 / (2·32768·255) = 128 taps each even at 16 bits.
    /// </summary>
    private static PackedDot Pack(IntLayer layer, IReadOnlyList<Func<int, (int Low, int High)>> taps, long xMax, long[] constants)
    {
        const long ByteMax = 255; // the largest |part| of a split input (the low byte)
        int outC = layer.OutChannels, groups = (outC + PackedDot.GroupWidth - 1) / PackedDot.GroupWidth;
        var weights = new int[groups * taps.Count * PackedDot.GroupWidth];
        var pairMagnitude = new long[outC, taps.Count];
        long bound = 0;
        for (int co = 0; co < outC; co++)
        {
            long sum = Math.Abs(constants[co]);
            for (int t = 0; t < taps.Count; t++)
            {
                var (low, high) = taps[t](co);
                weights[((co / PackedDot.GroupWidth) * taps.Count + t) * PackedDot.GroupWidth + co % PackedDot.GroupWidth] = (low & 0xFFFF) | (high << 16);
                pairMagnitude[co, t] = Math.Abs((long)low) + Math.Abs((long)high);   // ≤ 2^16
                sum += pairMagnitude[co, t] * xMax;
            }
            bound = Math.Max(bound, sum);
        }

        var kind = bound <= int.MaxValue ? AccumulatorKind.Int32
            : bound < PackedDot.DoubleConversionLimit ? AccumulatorKind.SplitInt64
            : AccumulatorKind.ScalarInt64;
        int[][] chunkEnds = [.. Enumerable.Range(0, groups).Select(_ => new[] { taps.Count })];
        if (kind == AccumulatorKind.SplitInt64)
        {
            // Unsplit inputs (|x| ≤ xMax) where every group's chunks are long; else inputs split into bytes (|part| ≤ 255).
            var whole = Chunks(xMax);
            bool longChunks = whole is not null && whole.All(ends => ends.Length * PackedDot.MinChunkTaps <= taps.Count);
            (kind, chunkEnds) = longChunks ? (AccumulatorKind.ChunkedInt32, whole!) : (kind, Chunks(ByteMax)!);
        }
        return new PackedDot { OutChannels = outC, Taps = taps.Count, Weights = weights, Kind = kind, Bound = bound, ChunkEnds = chunkEnds };

        // Per group, the ends of the longest chunks of taps in which Σ (|w_low| + |w_high|)·partMax stays ≤ 2^31 − 1 for
        // every channel of the group; null where a single tap exceeds it.
        int[][]? Chunks(long partMax)
        {
            var all = new int[groups][];
            for (int g = 0; g < groups; g++)
            {
                var ends = new List<int>();
                int first = g * PackedDot.GroupWidth, last = Math.Min(outC, first + PackedDot.GroupWidth);
                var running = new long[last - first];
                for (int t = 0; t < taps.Count; t++)
                {
                    bool fits = true, alone = true;
                    for (int co = first; co < last; co++)
                    {
                        fits &= running[co - first] + pairMagnitude[co, t] * partMax <= int.MaxValue;
                        alone &= pairMagnitude[co, t] * partMax <= int.MaxValue;
                    }
                    if (!alone) return null;
                    if (!fits)
                    {
                        ends.Add(t);
                        Array.Clear(running);
                    }
                    for (int co = first; co < last; co++) running[co - first] += pairMagnitude[co, t] * partMax;
                }
                ends.Add(taps.Count);
                all[g] = ends.ToArray();
            }
            return all;
        }
    }

    /// <summary>max over c of Σ|wq[c,j]|·xMax + |bq[c]|: the worst case of the layer's accumulators.</summary>
    public static long Bound(IntLayer layer, long xMax)
    {
        long worst = 0;
        for (int o = 0; o < layer.OutChannels; o++)
        {
            long sum = 0;
            for (int j = 0; j < layer.FanIn; j++) sum += Math.Abs((long)layer.Weights[o * layer.FanIn + j]);
            worst = Math.Max(worst, sum * xMax + Math.Abs((long)layer.AccumulatorBias(o)));
        }
        return worst;
    }
}
