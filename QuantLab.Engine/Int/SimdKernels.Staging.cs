using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using QuantLab.Engine.Quantization;

namespace QuantLab.Engine.Int;

/// <summary>Staging: a block of images into the input layout's pair vectors.</summary>
internal static partial class SimdKernels
{
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
}
