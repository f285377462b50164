using QuantLab.Engine.Quantization;

namespace QuantLab.Engine.Int;

/// <summary>How the SIMD kernels store a tensor's int16 elements in pairs.</summary>
public enum PairLayout
{
    /// <summary>Channels 2q and 2q+1 of one (y, x) share a pair (a zero channel pads an odd count).</summary>
    Channels,

    /// <summary>A one-channel image: rows y and y+1 of one x share a pair (row H is zero). Only a
    /// first convolution reads this layout; it halves that layer's multiply-adds against pairing with a zero channel.
    /// With <see cref="TensorLayout.ColumnPlane"/>, a second plane follows, where columns x and x+1 of one y share a
    /// pair (column W is zero): an odd kernel's last row then pairs its taps along x, so a 5×5 kernel takes 13 pair
    /// taps instead of 15.</summary>
    Rows,
}

/// <summary>
/// An activation tensor [C, H, W] of a block of L images as the SIMD kernels store it: <see cref="Vectors"/>
/// int32 vectors of L lanes, lane i of a vector holding two int16 elements of image i (low half, high half),
/// so one vpmaddwd with a broadcast weight pair (w_low, w_high) gives L sums w_low·x_low + w_high·x_high.
/// </summary>
/// <param name="Offset">Whether every element is stored as x − 32768: an unsigned 16-bit grid (0 .. 65,535) does not fit
/// int16, its offset form does, and the layers that read it add 32768·Σw to their accumulators' constant (see
/// <see cref="CompiledModel"/>); a max-pool keeps the offset (it is monotone).</param>
public readonly record struct TensorLayout(PairLayout Kind, int Channels, int Height, int Width, bool ColumnPlane = false, bool Offset = false)
{
    /// <summary>What is added to a stored element to give the value: 32768 for an <see cref="Offset"/> layout, else 0.</summary>
    public int ValueOffset => Offset ? 32768 : 0;

    /// <summary>Planes of H·W pair vectors: the channel pairs, or the row plane (and the column plane).</summary>
    public int Pairs => Kind == PairLayout.Rows ? (ColumnPlane ? 2 : 1) : (Channels + 1) / 2;
    public int Vectors => Pairs * Height * Width;
    public int Elements => Channels * Height * Width;

    /// <summary>The vector and half (0 low, 1 high) holding element (c, y, x) in the <see cref="PairLayout.Channels"/> layout.</summary>
    public (int Vector, int Half) Locate(int c, int y, int x) => (((c >> 1) * Height + y) * Width + x, c & 1);
}

/// <summary>The accumulator arithmetic the compiled model proved exact for a layer.</summary>
public enum AccumulatorKind
{
    /// <summary>int32 lanes throughout: every partial sum is within ±(2^31 − 1).</summary>
    Int32,

    /// <summary>
    /// Layers just beyond int32 (13 to 15 bits): int32 lanes over chunks of taps whose bound Σ (|w_low| + |w_high|)·xMax
    /// is ≤ 2^31 − 1, each chunk's sums added in int64. Chosen over <see cref="SplitInt64"/> where the chunks are long
    /// (<see cref="PackedDot.MinChunkTaps"/>): one multiply-add per weight pair instead of two.
    /// </summary>
    ChunkedInt32,

    /// <summary>
    /// Wider layers (16-bit): each int16 input x is split into x = 256·hi + lo with lo = x &amp; 255 ∈ [0, 255]
    /// and hi = x &gt;&gt; 8 ∈ [−128, 127]; Σ w·lo and Σ w·hi run in int32 lanes over chunks of taps whose
    /// bound Σ (|w_low| + |w_high|)·255 is ≤ 2^31 − 1, and each chunk adds 256·Σhi + Σlo in int64.
    /// </summary>
    SplitInt64,

    /// <summary>Scalar int64 per lane: the bound reaches 2^51 (beyond the exact int64 → double step of the
    /// vector requantizer), which needs a fan-in of about 2^21 at 16 bits.</summary>
    ScalarInt64,
}

/// <summary>
/// The weights of a conv or linear layer packed for the multiply-add micro-kernel: per group of
/// <see cref="GroupWidth"/> output channels and per tap t (a pair of inputs), one int32 per channel holding
/// the weight pair (low half, high half) that multiplies the pair vector at tap t.
/// </summary>
public sealed class PackedDot
{
    public const int GroupWidth = 8;

    /// <summary>int64 accumulators above this bound cannot take the exact int64 → double conversion of
    /// <see cref="VectorRequantizer"/>; requantization is then scalar.</summary>
    public const long DoubleConversionLimit = 1L << 51;

    /// <summary><see cref="AccumulatorKind.ChunkedInt32"/> needs chunks of at least this many taps on average in every group:
    /// each chunk's end widens and stores its sums and restarts the micro-kernel (LeNet-5 with the bench's weights at 14 bits:
    /// 25 to 37 taps per chunk, 14/14 about 100 → 72 ms per 10k images on 1 thread; at 15 bits 7 to 15 depending on the
    /// weights; at 16 bits 1 to 4, where splitting the inputs is cheaper).</summary>
    public const int MinChunkTaps = 12;

    public required int OutChannels { get; init; }
    public required int Taps { get; init; }
    /// <summary>[group][tap][<see cref="GroupWidth"/>]: (w_low &amp; 0xFFFF) | (w_high &lt;&lt; 16); zero for padding.</summary>
    public required int[] Weights { get; init; }
    public required AccumulatorKind Kind { get; init; }
    /// <summary>max over channels c of Σ_t (|w_low| + |w_high|)·xMax + |b[c]| (b: the accumulator's constant, see
    /// <see cref="VectorRequantizer.Bias"/>): no partial sum of any accumulator exceeds it.</summary>
    public required long Bound { get; init; }
    /// <summary><see cref="AccumulatorKind.ChunkedInt32"/> and <see cref="AccumulatorKind.SplitInt64"/>: per group, the tap index
    /// where each chunk ends (ascending, last = Taps); one chunk of all taps otherwise.</summary>
    public required int[][] ChunkEnds { get; init; }

    public int Groups => (OutChannels + GroupWidth - 1) / GroupWidth;
    public int GroupSize(int group) => Math.Min(GroupWidth, OutChannels - group * GroupWidth);
}

/// <summary>A segment of a kernel row in <see cref="ColumnPairDot"/>: minimal filtering F(2, r) of r taps.</summary>
public enum SegmentKind : byte
{
    /// <summary>One tap, direct: 2y0 += d0·2g0 (P), 2y1 += d1·2g0 (Q). Transformed taps: 2.</summary>
    F1 = 1,
    /// <summary>Two taps: (d0 − d1)·2g0 → P, d1·2(g0 + g1) → B, (d2 − d1)·2g1 → Q. Transformed taps: 3 (4 direct).</summary>
    F2 = 2,
    /// <summary>Three taps: (d0 − d2)·2g0 → P, (d1 + d2)·(g0 + g1 + g2) → B, (d2 − d1)·(g0 − g1 + g2) → C,
    /// (d1 − d3)·(−2g2) → Q. Transformed taps: 4 (6 direct).</summary>
    F3 = 3,
}

/// <summary>
/// A conv whose fused 2×2 max-pool pairs adjacent output columns x0 and x0 + 1, computed by Winograd minimal
/// filtering along x: each kernel row (taps at consecutive columns) is cut into F(2, 3), F(2, 2) and F(2, 1)
/// segments, whose input transforms (d_j: the pair vector at the segment's offset + j columns) are sums and
/// differences of int16 pairs, and whose weights are transformed once here. Four int32 sums per output row,
/// P, B, C, Q, give 2y0 = P + B + C and 2y1 = B − C + Q (the factor 2 keeps F(2, 3)'s halves integral).
/// Exact when (checked by <see cref="CompiledModel"/>): every transformed input and weight fits int16, and
/// |2y| ≤ 2·Σ|w|·xMax ≤ 2^31 − 1, so the int32 sums, which may wrap on the way, end at the exact 2y
/// (modular arithmetic: vpaddd wraps, and vpmaddwd's one overflow, 2·(−32768)² → −2^31, is the same residue),
/// halved by an arithmetic shift. Per 2 outputs, 3 taps take 4 multiplies instead of 6, 2 taps 3 instead of 4.
/// </summary>
public sealed class ColumnPairDot
{
    public required SegmentKind[] Kinds { get; init; }
    /// <summary>Per segment, the offset (int32 elements, lanes included) of d0 from an output position's first input vector.</summary>
    public required int[] Offsets { get; init; }
    /// <summary>Transformed taps (Σ over segments of 2, 3 or 4).</summary>
    public required int Taps { get; init; }
    /// <summary>[group][transformed tap][<see cref="PackedDot.GroupWidth"/>]: transformed weight pairs, as <see cref="PackedDot.Weights"/>.</summary>
    public required int[] Weights { get; init; }
}

/// <summary>Operations of a <see cref="CompiledModel"/>: typed parameters, one kernel function each.</summary>
public abstract class CompiledOp(string name)
{
    public string Name { get; } = name;
}

/// <summary>
/// conv2d, stride 1, no padding, optionally followed by a fused 2-D max-pool (window = stride = <see cref="Pool"/>).
/// Bounds: input and output elements are int16 (2..16-bit grids); weights int16; accumulators as
/// <see cref="PackedDot.Kind"/> proves. Fusing the pool is exact because requantization is monotone
/// non-decreasing in the accumulator (m ≥ 0 or M0 ≥ 0, then monotone rounding and clamp), so the max of
/// the requantized values is the requantized max of the accumulators.
/// </summary>
public sealed class ConvParams(string name) : CompiledOp(name)
{
    public required TensorLayout Input { get; init; }
    public required TensorLayout Output { get; init; }
    public required int Kernel { get; init; }
    /// <summary>Pool window = stride; 1 when no pool is fused.</summary>
    public required int Pool { get; init; }
    /// <summary>Per tap, the offset (in int32 elements, lanes included) from an output position's first input vector.</summary>
    public required int[] TapOffsets { get; init; }
    public required PackedDot Dot { get; init; }
    /// <summary>The same sums by minimal filtering along x, where the layer allows it (see <see cref="ColumnPairDot"/>); else null.</summary>
    public ColumnPairDot? ColumnPairs { get; init; }
    public required VectorRequantizer[] Requant { get; init; }
}

/// <summary>Fully connected over the flattened input (C, H, W order): one output position whose taps are all input vectors.</summary>
public sealed class LinearParams(string name) : CompiledOp(name)
{
    public required TensorLayout Input { get; init; }
    public required TensorLayout Output { get; init; }
    public required int[] TapOffsets { get; init; }
    public required PackedDot Dot { get; init; }
    public required VectorRequantizer[] Requant { get; init; }
}

/// <summary>A max-pool not fused into a convolution: window = stride = <see cref="Kernel"/>, int16 elements.</summary>
public sealed class PoolParams(string name) : CompiledOp(name)
{
    public required TensorLayout Input { get; init; }
    public required TensorLayout Output { get; init; }
    public required int Kernel { get; init; }
}
