using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using QuantLab.Engine.Quantization;

namespace QuantLab.Engine.Int;

/// <summary>The micro-kernels: dot products of a group of channels over taps, in registers.</summary>
internal static partial class SimdKernels
{
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
    /// vectors at x + window[0..1] as they are loaded) or 2 (<see cref="MaxOfTwo{TS, TV}"/>: 2 positions), each
    /// channel's sums handed to <typeparamref name="TKind"/>, which reduces them and writes channel c's result.
    /// A broadcast serves 4 (or 2) multiply-adds instead of one, and an input vector TG channels. The caller keeps TG
    /// within the registers: with 4 streams 2 channels on AVX2 (8 accumulators, 4 inputs and a weight in 16 registers),
    /// up to 6 on AVX-512 (24 + 4 + 1 in 32); with 2 streams up to 6 on AVX2 (12 + 2 + 1). The conv1 of LeNet-5 then
    /// loads each input vector once instead of three times.
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
            (a00, a01) = (TS.MultiplyAdd(a00, v0, p), TS.MultiplyAdd(a01, v1, p));
            if (TKind.Streams > 2) (a02, a03) = (TS.MultiplyAdd(a02, v2, p), TS.MultiplyAdd(a03, v3, p));
            if (TG.Value > 1)
            {
                p = TS.Broadcast(Unsafe.Add(ref w, 1));
                (a10, a11) = (TS.MultiplyAdd(a10, v0, p), TS.MultiplyAdd(a11, v1, p));
                if (TKind.Streams > 2) (a12, a13) = (TS.MultiplyAdd(a12, v2, p), TS.MultiplyAdd(a13, v3, p));
            }
            if (TG.Value > 2)
            {
                p = TS.Broadcast(Unsafe.Add(ref w, 2));
                (a20, a21) = (TS.MultiplyAdd(a20, v0, p), TS.MultiplyAdd(a21, v1, p));
                if (TKind.Streams > 2) (a22, a23) = (TS.MultiplyAdd(a22, v2, p), TS.MultiplyAdd(a23, v3, p));
            }
            if (TG.Value > 3)
            {
                p = TS.Broadcast(Unsafe.Add(ref w, 3));
                (a30, a31) = (TS.MultiplyAdd(a30, v0, p), TS.MultiplyAdd(a31, v1, p));
                if (TKind.Streams > 2) (a32, a33) = (TS.MultiplyAdd(a32, v2, p), TS.MultiplyAdd(a33, v3, p));
            }
            if (TG.Value > 4)
            {
                p = TS.Broadcast(Unsafe.Add(ref w, 4));
                (a40, a41) = (TS.MultiplyAdd(a40, v0, p), TS.MultiplyAdd(a41, v1, p));
                if (TKind.Streams > 2) (a42, a43) = (TS.MultiplyAdd(a42, v2, p), TS.MultiplyAdd(a43, v3, p));
            }
            if (TG.Value > 5)
            {
                p = TS.Broadcast(Unsafe.Add(ref w, 5));
                (a50, a51) = (TS.MultiplyAdd(a50, v0, p), TS.MultiplyAdd(a51, v1, p));
                if (TKind.Streams > 2) (a52, a53) = (TS.MultiplyAdd(a52, v2, p), TS.MultiplyAdd(a53, v3, p));
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
                    RowSegment<TS, TV, TG>(SegmentKind.F3, ref ua, ref w, ref aP0, ref aB0, ref aC0, ref aQ0, ref aP1, ref aB1, ref aC1, ref aQ1);
                    RowSegment<TS, TV, TG>(SegmentKind.F3, ref ub, ref w, ref bP0, ref bB0, ref bC0, ref bQ0, ref bP1, ref bB1, ref bC1, ref bQ1);
                    w = ref Unsafe.Add(ref w, 4 * G);
                    break;
                case SegmentKind.F2:
                    RowSegment<TS, TV, TG>(SegmentKind.F2, ref ua, ref w, ref aP0, ref aB0, ref aC0, ref aQ0, ref aP1, ref aB1, ref aC1, ref aQ1);
                    RowSegment<TS, TV, TG>(SegmentKind.F2, ref ub, ref w, ref bP0, ref bB0, ref bC0, ref bQ0, ref bP1, ref bB1, ref bC1, ref bQ1);
                    w = ref Unsafe.Add(ref w, 3 * G);
                    break;
                default:
                    RowSegment<TS, TV, TG>(SegmentKind.F1, ref ua, ref w, ref aP0, ref aB0, ref aC0, ref aQ0, ref aP1, ref aB1, ref aC1, ref aQ1);
                    RowSegment<TS, TV, TG>(SegmentKind.F1, ref ub, ref w, ref bP0, ref bB0, ref bC0, ref bQ0, ref bP1, ref bB1, ref bC1, ref bQ1);
                    w = ref Unsafe.Add(ref w, 2 * G);
                    break;
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

    private static void ColumnPairRow<TS, TV>(int size, ref int x, int row, ColumnPairDot dot, ref int weights, ref int acc, bool last)
        where TS : struct, ISimd<TV> where TV : struct
    {
        switch (size)
        {
            case 2: ColumnPairRow<TS, TV, G2>(ref x, row, dot, ref weights, ref acc, last); break;
            default: ColumnPairRow<TS, TV, G1>(ref x, row, dot, ref weights, ref acc, last); break;
        }
    }

    /// <summary>
    /// AVX2's minimal-filtering micro-kernel: one output row (at x + row) of a 2×2 pool window, TG ≤ 2 channels, so their
    /// 8 sums, the segment's inputs, a transformed input and a weight fit 16 registers and each transformed input serves
    /// TG channels. The row's max of 2y0 and 2y1 is stored at acc[c·L ..] (the window's first row), or max-combined with
    /// the first row's, halved and stored (<paramref name="last"/>).
    /// </summary>
    private static void ColumnPairRow<TS, TV, TG>(ref int x, int row, ColumnPairDot dot, ref int weights, ref int acc, bool last)
        where TS : struct, ISimd<TV> where TV : struct where TG : struct, IGroupSize
    {
        TV P0 = TS.Zero, B0 = TS.Zero, C0 = TS.Zero, Q0 = TS.Zero, P1 = TS.Zero, B1 = TS.Zero, C1 = TS.Zero, Q1 = TS.Zero;
        ref int xr = ref Unsafe.Add(ref x, row);
        ref int w = ref weights;
        var kinds = dot.Kinds;
        var offsets = dot.Offsets;
        int l = TS.Lanes;
        const int G = PackedDot.GroupWidth;
        for (int s = 0; s < kinds.Length; s++)
        {
            ref int u = ref Unsafe.Add(ref xr, (nint)offsets[s]);
            switch (kinds[s])
            {
                case SegmentKind.F3:
                    RowSegment<TS, TV, TG>(SegmentKind.F3, ref u, ref w, ref P0, ref B0, ref C0, ref Q0, ref P1, ref B1, ref C1, ref Q1);
                    w = ref Unsafe.Add(ref w, 4 * G);
                    break;
                case SegmentKind.F2:
                    RowSegment<TS, TV, TG>(SegmentKind.F2, ref u, ref w, ref P0, ref B0, ref C0, ref Q0, ref P1, ref B1, ref C1, ref Q1);
                    w = ref Unsafe.Add(ref w, 3 * G);
                    break;
                default:
                    RowSegment<TS, TV, TG>(SegmentKind.F1, ref u, ref w, ref P0, ref B0, ref C0, ref Q0, ref P1, ref B1, ref C1, ref Q1);
                    w = ref Unsafe.Add(ref w, 2 * G);
                    break;
            }
        }
        Finish(P0, B0, C0, Q0, ref acc, last);
        if (TG.Value > 1) Finish(P1, B1, C1, Q1, ref Unsafe.Add(ref acc, l), last);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Finish(TV p, TV b, TV c, TV q, ref int to, bool last)
        {
            var y = TS.Max(TS.Add(TS.Add(p, b), c), TS.Add(TS.Subtract(b, c), q));
            TS.Store(last ? TS.HalveEven(TS.Max(y, TS.Load(ref to))) : y, ref to);
        }
    }

    /// <summary>
    /// One output row's share of a <see cref="ColumnPairDot"/> segment: its inputs d0.. (at u, u + L, ..) transformed as
    /// <see cref="SegmentKind"/> states, each times TG channels' transformed weights (at w, stride
    /// <see cref="PackedDot.GroupWidth"/>), added to the row's sums P, B, C, Q of channels 0 and 1. The segment
    /// takes (kind + 1) transformed taps of weights. Callers switch on the segment's kind and pass it as a constant: the
    /// switch here then folds away, and <see cref="ColumnPairWindow{TS, TV, TG}"/>'s two rows land in one block, where the
    /// JIT broadcasts each weight once for both (its 2-channel code: 18 weight broadcasts instead of 24). Called
    /// with the kind as a variable, the pooled convs ran LeNet-5 7 % slower on AVX-512 and 4 % on AVX2 (Zen 5, 1 thread).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RowSegment<TS, TV, TG>(SegmentKind kind, ref int u, ref int w,
        ref TV P0, ref TV B0, ref TV C0, ref TV Q0, ref TV P1, ref TV B1, ref TV C1, ref TV Q1)
        where TS : struct, ISimd<TV> where TV : struct where TG : struct, IGroupSize
    {
        int l = TS.Lanes;
        const int G = PackedDot.GroupWidth;
        switch (kind)
        {
            case SegmentKind.F3:
            {
                var d1 = TS.Load(ref Unsafe.Add(ref u, l));
                var d2 = TS.Load(ref Unsafe.Add(ref u, 2 * l));
                Step<TS, TV, TG>(TS.AddHalves(d1, d2), ref Unsafe.Add(ref w, G), ref B0, ref B1);
                Step<TS, TV, TG>(TS.SubtractHalves(d2, d1), ref Unsafe.Add(ref w, 2 * G), ref C0, ref C1);
                Step<TS, TV, TG>(TS.SubtractHalves(TS.Load(ref u), d2), ref w, ref P0, ref P1);
                Step<TS, TV, TG>(TS.SubtractHalves(d1, TS.Load(ref Unsafe.Add(ref u, 3 * l))), ref Unsafe.Add(ref w, 3 * G), ref Q0, ref Q1);
                break;
            }
            case SegmentKind.F2:
            {
                var d1 = TS.Load(ref Unsafe.Add(ref u, l));
                Step<TS, TV, TG>(d1, ref Unsafe.Add(ref w, G), ref B0, ref B1);
                Step<TS, TV, TG>(TS.SubtractHalves(TS.Load(ref u), d1), ref w, ref P0, ref P1);
                Step<TS, TV, TG>(TS.SubtractHalves(TS.Load(ref Unsafe.Add(ref u, 2 * l)), d1), ref Unsafe.Add(ref w, 2 * G), ref Q0, ref Q1);
                break;
            }
            default:
                Step<TS, TV, TG>(TS.Load(ref u), ref w, ref P0, ref P1);
                Step<TS, TV, TG>(TS.Load(ref Unsafe.Add(ref u, l)), ref Unsafe.Add(ref w, G), ref Q0, ref Q1);
                break;
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
}
