using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using QuantLab.Engine.Quantization;

namespace QuantLab.Engine.Int;

/// <summary>
/// The fast integer path: im2col into zero-padded int16 rows, then dot products with AVX2's
/// multiply-add-adjacent (int16·int16 → int32 pairs) where <see cref="CompiledLayer.Int32Safe"/>
/// proves int32 accumulators cannot overflow, otherwise scalar int64. Bit-exact with
/// <see cref="ReferenceKernels"/>: both compute the exact integer Σ wq·xq and share <see cref="Requantizer"/>.
/// </summary>
public static class FastKernels
{
    /// <summary>Per-thread scratch space.</summary>
    public sealed class Workspace(CompiledModel model)
    {
        public readonly short[] A = new short[model.MaxActivation];
        public readonly short[] B = new short[model.MaxActivation];
        public readonly short[] Columns = new short[model.MaxColumns];
    }

    public static bool Vectorized => Avx2.IsSupported;

    /// <summary>Runs one quantized image; writes the output layer's integers to <paramref name="logits"/>.</summary>
    public static void Run(CompiledModel model, ReadOnlySpan<short> image, Span<int> logits, Workspace ws)
    {
        image.CopyTo(ws.A);
        short[] x = ws.A, y = ws.B;
        foreach (var op in model.Ops)
        {
            switch (op)
            {
                case CompiledLayer layer:
                    Layer(layer, x, y, ws.Columns);
                    break;
                case CompiledPool pool:
                    MaxPool(pool, x, y);
                    break;
            }
            (x, y) = (y, x);
        }
        int n = model.OutputSize;
        for (int i = 0; i < n; i++) logits[i] = x[i];
    }

    private static void Layer(CompiledLayer c, short[] input, short[] output, short[] columns)
    {
        var layer = c.Layer;
        int fanIn = c.FanIn, padded = c.PaddedFanIn, positions = c.Positions;
        var gather = c.Gather;
        // im2col: row p holds the FanIn inputs that output position p sees; the padding stays zero.
        var cols = columns.AsSpan(0, positions * padded);
        for (int p = 0; p < positions; p++)
        {
            var row = cols.Slice(p * padded, padded);
            var taps = gather.AsSpan(p * fanIn, fanIn);
            for (int j = 0; j < fanIn; j++) row[j] = input[taps[j]];
            row[fanIn..].Clear();
        }

        var requantizers = c.Requantizers;
        bool int32Bias = layer.Bias == BiasMode.Int32;
        for (int p = 0; p < positions; p++)
        {
            var row = cols.Slice(p * padded, padded);
            for (int o = 0; o < layer.OutChannels; o++)
            {
                var weights = c.PaddedWeights.AsSpan(o * padded, padded);
                long acc = c.Int32Safe && Vectorized ? DotInt32(weights, row) : DotInt64(weights, row, fanIn);
                if (int32Bias) acc += layer.BiasInt32![o];
                output[o * positions + p] = (short)requantizers[o].Apply(acc);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int DotInt32(ReadOnlySpan<short> a, ReadOnlySpan<short> b)
    {
        ref short ra = ref MemoryMarshal.GetReference(a);
        ref short rb = ref MemoryMarshal.GetReference(b);
        var sum = Vector256<int>.Zero;
        for (int i = 0; i < a.Length; i += CompiledModel.Lanes)
        {
            var va = Vector256.LoadUnsafe(ref ra, (nuint)i);
            var vb = Vector256.LoadUnsafe(ref rb, (nuint)i);
            sum = Avx2.Add(sum, Avx2.MultiplyAddAdjacent(va, vb));
        }
        return Vector256.Sum(sum);
    }

    private static long DotInt64(ReadOnlySpan<short> a, ReadOnlySpan<short> b, int n)
    {
        long acc = 0;
        for (int i = 0; i < n; i++) acc += (long)a[i] * b[i];
        return acc;
    }

    private static void MaxPool(CompiledPool pool, short[] input, short[] output)
    {
        int k = pool.Kernel, h = pool.Height, w = pool.Width, oh = h / k, ow = w / k;
        for (int ch = 0; ch < pool.Channels; ch++)
        for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++)
        {
            short best = short.MinValue;
            for (int dy = 0; dy < k; dy++)
            for (int dx = 0; dx < k; dx++)
            {
                short v = input[(ch * h + y * k + dy) * w + x * k + dx];
                if (v > best) best = v;
            }
            output[(ch * oh + y) * ow + x] = best;
        }
    }
}
