using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using QuantLab.Engine.Quantization;

namespace QuantLab.Engine.Int;

/// <summary>Requantization of a row of accumulators into the next layer's pair vectors.</summary>
internal static partial class SimdKernels
{
    /// <summary>Requantizes group <paramref name="g"/>'s accumulators of output positions (y, 0 .. count − 1)
    /// and stores them as channel pairs; one channel pair at a time, so its requantizers stay at hand.</summary>
    private static void Requantize<TS, TV>(PackedDot dot, VectorRequantizer[] requant, int g, TensorLayout output, int y, int count, int[] into, Workspace ws)
        where TS : struct, ISimd<TV> where TV : struct
    {
        int lanes = TS.Lanes, size = dot.GroupSize(g), first = g * PackedDot.GroupWidth, stride = PackedDot.GroupWidth * lanes;
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
            if (!wide)
            {
                RequantizeRow<TS, TV>(r0, r1, second, count, c * lanes, stride, ws.RowAcc, into, row, flip);
                continue;
            }
            if (lanes == 16 && wideVector && r0.SixteenWideLanesAtOnce)
            {
                RequantizeSixteenWide(r0, r1, second, count, c * lanes, stride, ws.RowAcc64, into, row, flip);
                continue;
            }
            for (int x = 0; x < count; x++)
            for (int j = 0; j < lanes; j += 8)
            {
                int at = x * stride + c * lanes + j;
                var low = Wide(r0, ws.RowAcc64, at, wideVector);
                var high = second ? Wide(r1, ws.RowAcc64, at + lanes, wideVector) : Vector256<int>.Zero;
                // Both fit 16 bits (2..16-bit signed grids, unsigned ones up to 65,535): pack channel c low, c + 1 high.
                (((low & Vector256.Create(0xFFFF)) | (high << 16)) ^ Vector256.Create(flip)).StoreUnsafe(ref into[row + x * lanes + j]);
            }
        }
    }

    /// <summary>A channel pair's row of int32 accumulators, a whole block's lanes per step (on AVX-512, two AVX2 halves where
    /// <see cref="VectorRequantizer.SixteenLanesAtOnce"/> is false). A method of its own, apart from the int64 loop beside it:
    /// sharing one loop cost float evaluations up to 15 % (AVX-512), and on AVX2 the shared loop's requantization took about a
    /// quarter longer (conv1 of LeNet-5: 14.5 ms instead of 11.5 ms per 10k images on an AMD EPYC).</summary>
    private static void RequantizeRow<TS, TV>(in VectorRequantizer r0, in VectorRequantizer r1, bool second, int count, int first, int stride,
        int[] acc, int[] into, int row, int flip) where TS : struct, ISimd<TV> where TV : struct
    {
        int lanes = TS.Lanes;
        for (int x = 0; x < count; x++)
        {
            int at = x * stride + first;
            var low = TS.Requantize(r0, TS.Load(ref acc[at]));
            var high = second ? TS.Requantize(r1, TS.Load(ref acc[at + lanes])) : TS.Zero;
            // Both fit 16 bits (2..16-bit signed grids, unsigned ones up to 65,535): channel c low, c + 1 high.
            TS.Store(TS.Xor(TS.PairLowHalves(low, high), TS.Broadcast(flip)), ref into[row + x * lanes]);
        }
    }

    /// <summary><see cref="RequantizeRow{TS, TV}"/> for int64 accumulators (float mode: below 2^51).</summary>
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
