namespace QuantLab.Engine.Quantization;

/// <summary>
/// A real multiplier m &gt; 0 as M0·2^(−k) with P-bit M0: 2^(P−1) ≤ M0 &lt; 2^P (DESIGN.md §3, fixed-point
/// requantization). Deconstructs to (M0, k).
/// </summary>
/// <param name="M0">The integer multiplier, in [2^(P−1), 2^P) (0 only for m = 0).</param>
/// <param name="Shift">k: the product acc·M0 is shifted right by k (left by −k when k &lt; 0).</param>
public readonly record struct FixedPointMultiplier(long M0, int Shift)
{
    /// <summary>M0·2^(−k), the multiplier actually applied (exact: M0 has at most 31 bits).</summary>
    public double Value => Math.ScaleB(M0, -Shift);

    /// <summary>
    /// M0 = R_half-away(m·2^k), with k chosen so that m·2^k ∈ [2^(P−1), 2^P) before rounding:
    /// k = P − 1 − ⌊log2 m⌋. m·2^k is then exact in double (a power-of-two scaling) and rounding can only
    /// reach 2^P, in which case M0 = 2^(P−1) and k decreases by one. Hence |M0·2^(−k) − m| ≤ 2^(−k−1) ≤ m·2^(−P).
    /// Any positive finite m works, including subnormals (k up to about 1100) and m ≥ 2^P (k &lt; 0).
    /// m = 0 gives (M0 = 0, k = 0), which requantizes every accumulator to 0, as the float multiplier 0
    /// does; it does not satisfy the M0 bound, because no P-bit M0 represents 0.
    /// </summary>
    /// <param name="m">The multiplier s_w·s_x/s_y; finite and ≥ 0.</param>
    /// <param name="precision">P, from 8 to 31.</param>
    public static FixedPointMultiplier Derive(double m, int precision)
    {
        if (precision is < RequantSpec.MinPrecision or > RequantSpec.MaxPrecision)
            throw new ArgumentOutOfRangeException(nameof(precision), precision, "The precision P must be from 8 to 31.");
        if (!(double.IsFinite(m) && m >= 0))
            throw new ArgumentOutOfRangeException(nameof(m), m, "The multiplier must be a finite number >= 0.");
        if (m == 0) return new(0, 0);

        int k = precision - 1 - Math.ILogB(m);                          // 2^ILogB(m) ≤ m < 2^(ILogB(m)+1)
        long m0 = (long)Math.Round(Math.ScaleB(m, k), MidpointRounding.AwayFromZero);
        if (m0 == 1L << precision)
        {
            m0 >>= 1;
            k -= 1;
        }
        return new(m0, k);
    }
}
