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
        int fanIn = c.FanIn, padded = c.PaddedFanIn, positions = c.Positions, outC = layer.OutChannels;
        // im2col: row p holds the FanIn inputs that output position p sees; the padding stays zero.
        // The gather table was built (and its indices checked) when the model was compiled, so the
        // copy skips bounds checks.
        ref short src = ref MemoryMarshal.GetArrayDataReference(input);
        ref short dst = ref MemoryMarshal.GetArrayDataReference(columns);
        ref int taps = ref MemoryMarshal.GetArrayDataReference(c.Gather);
        for (int p = 0; p < positions; p++)
        {
            ref short row = ref Unsafe.Add(ref dst, p * padded);
            ref int tap = ref Unsafe.Add(ref taps, p * fanIn);
            for (int j = 0; j < fanIn; j++) Unsafe.Add(ref row, j) = Unsafe.Add(ref src, Unsafe.Add(ref tap, j));
            for (int j = fanIn; j < padded; j++) Unsafe.Add(ref row, j) = 0;
        }

        var requantizers = c.Requantizers;
        var bias = layer.Bias == BiasMode.Int32 ? layer.BiasInt32 : null;
        bool vector = c.Int32Safe && Vectorized;
        ref short weights = ref MemoryMarshal.GetArrayDataReference(c.PaddedWeights);
        for (int p = 0; p < positions; p++)
        {
            ref short row = ref Unsafe.Add(ref dst, p * padded);
            int o = 0;
            if (vector)
            {
                for (; o + 4 <= outC; o += 4)
                {
                    var sums = Dot4(ref Unsafe.Add(ref weights, o * padded), padded, ref row);
                    for (int i = 0; i < 4; i++)
                        output[(o + i) * positions + p] = (short)requantizers[o + i].Apply(sums.GetElement(i) + (long)(bias?[o + i] ?? 0));
                }
            }
            for (; o < outC; o++)
            {
                long acc = vector
                    ? Dot1(ref Unsafe.Add(ref weights, o * padded), padded, ref row)
                    : DotInt64(ref Unsafe.Add(ref weights, o * padded), ref row, fanIn);
                output[o * positions + p] = (short)requantizers[o].Apply(acc + (bias?[o] ?? 0));
            }
        }
    }

    /// <summary>Four dot products (weight rows o..o+3 with one im2col row) in int32 lanes, reduced
    /// together by a horizontal-add tree: one reduction for four outputs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Dot4(ref short w, int length, ref short x)
    {
        Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int i = 0; i < length; i += CompiledModel.Lanes)
        {
            var v = Vector256.LoadUnsafe(ref x, (nuint)i);
            a0 = Avx2.Add(a0, Avx2.MultiplyAddAdjacent(Vector256.LoadUnsafe(ref w, (nuint)i), v));
            a1 = Avx2.Add(a1, Avx2.MultiplyAddAdjacent(Vector256.LoadUnsafe(ref w, (nuint)(length + i)), v));
            a2 = Avx2.Add(a2, Avx2.MultiplyAddAdjacent(Vector256.LoadUnsafe(ref w, (nuint)(2 * length + i)), v));
            a3 = Avx2.Add(a3, Avx2.MultiplyAddAdjacent(Vector256.LoadUnsafe(ref w, (nuint)(3 * length + i)), v));
        }
        // hadd(a0,a1) = [a0 pairs, a1 pairs] per 128-bit half; twice more leaves each half holding
        // partial sums of a0..a3, and adding the halves completes them.
        var h = Avx2.HorizontalAdd(Avx2.HorizontalAdd(a0, a1), Avx2.HorizontalAdd(a2, a3));
        return Sse2.Add(h.GetLower(), h.GetUpper());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Dot1(ref short w, int length, ref short x)
    {
        var sum = Vector256<int>.Zero;
        for (int i = 0; i < length; i += CompiledModel.Lanes)
            sum = Avx2.Add(sum, Avx2.MultiplyAddAdjacent(Vector256.LoadUnsafe(ref w, (nuint)i), Vector256.LoadUnsafe(ref x, (nuint)i)));
        return Vector256.Sum(sum);
    }

    private static long DotInt64(ref short a, ref short b, int n)
    {
        long acc = 0;
        for (int i = 0; i < n; i++) acc += (long)Unsafe.Add(ref a, i) * Unsafe.Add(ref b, i);
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
