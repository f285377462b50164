namespace QuantLab.Engine.Quantization;

/// <summary>The integer types the engine can accumulate a layer's dot products in.</summary>
public enum AccumulatorType
{
    Int32,
    Int64,
}

/// <summary>
/// Worst-case bounds for acc[c] = Σ wq·xq + bq (DESIGN.md §3: exact; int64 unless bounds prove a narrower
/// type safe). With wq ∈ [−2^(wb−1), 2^(wb−1)−1] and xq ∈ [−2^(ab−1), 2^(ab−1)−1] the largest |wq·xq| is
/// 2^(wb−1)·2^(ab−1), reached at wq = qmin, xq = qmin (a positive product); so the accumulator, and every
/// partial sum of it, lies in [−B, B] with B = fanIn·2^(wb+ab−2) + |bq|max, and +B is attained when the
/// bias is. For n ≤ 16 and fanIn &lt; 2^31 (an int), B &lt; 2^31·2^30 + 2^31 &lt; 2^62: int64 always suffices.
/// </summary>
public static class AccumulatorBounds
{
    /// <summary>B = fanIn·2^(wb−1)·2^(ab−1) + maxAbsBias, exact.</summary>
    public static Int128 MaxAbs(int weightBits, int actBits, int fanIn, long maxAbsBias = 0)
    {
        BitWidth.Validate(weightBits, "weight bits");
        BitWidth.Validate(actBits, "act bits");
        ArgumentOutOfRangeException.ThrowIfNegative(fanIn);
        ArgumentOutOfRangeException.ThrowIfNegative(maxAbsBias);
        Int128 maxProduct = (Int128)1 << (weightBits - 1 + actBits - 1);
        return fanIn * maxProduct + maxAbsBias;
    }

    /// <summary>
    /// Int32 when [−B, B] fits in an int (B ≤ 2^31 − 1), else Int64. Pass the layer's actual largest |bq|
    /// as <paramref name="maxAbsBias"/>: assuming a saturated int32 bias (2^31 − 1) always forces Int64.
    /// </summary>
    public static AccumulatorType Choose(int weightBits, int actBits, int fanIn, long maxAbsBias = 0) =>
        MaxAbs(weightBits, actBits, fanIn, maxAbsBias) <= int.MaxValue ? AccumulatorType.Int32 : AccumulatorType.Int64;

    /// <summary>
    /// Whether acc·M0 fits in a long for every |acc| ≤ <paramref name="maxAbsAccumulator"/> and every
    /// P-bit M0 (M0 ≤ 2^P − 1). <see cref="Requantizer.Apply"/> makes the same decision per value.
    /// </summary>
    public static bool ProductFitsInt64(Int128 maxAbsAccumulator, int precision) =>
        maxAbsAccumulator * (((Int128)1 << precision) - 1) <= long.MaxValue;
}
