using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace QuantLab.Engine.Quantization;

/// <summary>
/// The rounding R of DESIGN.md §3, on doubles (<see cref="Round"/>) and on integers divided by a power
/// of two (<see cref="RoundingShift(long, int, RoundingMode)"/>). Both are exact: no intermediate can
/// overflow and no tie is misjudged. Allocation-free; called per element by the integer engine.
/// </summary>
public static class Rounding
{
    /// <summary>
    /// R(x) as a double holding an integer. Exact for every finite double: Math.Floor and Math.Round
    /// are correctly rounded (so 0.49999999999999994 rounds to 0 under half-away, unlike floor(x + 0.5)).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double RoundToIntegral(double x, RoundingMode mode) => mode switch
    {
        RoundingMode.Floor => Math.Floor(x),
        RoundingMode.HalfEven => Math.Round(x, MidpointRounding.ToEven),
        _ => Math.Round(x, MidpointRounding.AwayFromZero),
    };

    /// <summary>
    /// <see cref="RoundToIntegral(double, RoundingMode)"/> on four doubles (AVX): vroundpd is exact for floor and
    /// half-even; half-away adds ±1 to the truncation where the (exact) fraction reaches one half.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> RoundToIntegral(Vector256<double> x, RoundingMode mode)
    {
        if (mode == RoundingMode.Floor) return Avx.Floor(x);
        if (mode == RoundingMode.HalfEven) return Avx.RoundToNearestInteger(x);
        var truncated = Avx.RoundToZero(x);
        var fraction = Avx.Subtract(x, truncated);                       // exact
        var away = Avx.CompareGreaterThanOrEqual(Avx.AndNot(Vector256.Create(-0.0), fraction), Vector256.Create(0.5));
        // ±1 with x's sign where the fraction reaches one half, else 0.
        var step = Avx.And(away, Avx.Or(Vector256.Create(1.0), Avx.And(x, Vector256.Create(-0.0))));
        return Avx.Add(truncated, step);
    }

    /// <summary><see cref="RoundToIntegral(Vector256{double}, RoundingMode)"/> on eight doubles (AVX-512F vrndscalepd:
    /// imm 0x09 rounds down, 0x08 to nearest even, 0x0B toward zero; bit 3 suppresses the inexact exception only).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<double> RoundToIntegral(Vector512<double> x, RoundingMode mode)
    {
        if (mode == RoundingMode.Floor) return Avx512F.RoundScale(x, 0x09);
        if (mode == RoundingMode.HalfEven) return Avx512F.RoundScale(x, 0x08);
        var truncated = Avx512F.RoundScale(x, 0x0B);
        var fraction = Avx512F.Subtract(x, truncated);                    // exact
        var away = Avx512F.CompareGreaterThanOrEqual(Vector512.AndNot(fraction, Vector512.Create(-0.0)), Vector512.Create(0.5));
        var step = away & (Vector512.Create(1.0) | (x & Vector512.Create(-0.0)));
        return Avx512F.Add(truncated, step);
    }

    /// <summary>
    /// R(x) as an integer. Meant for |x| &lt; 2^63; beyond that the conversion saturates at
    /// long.MinValue/MaxValue and NaN gives 0 (.NET's saturating double→long conversion). Callers that
    /// clamp afterwards (quantize, requantize) clamp in double first, see <see cref="Quantizer"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long Round(double x, RoundingMode mode) => (long)RoundToIntegral(x, mode);

    /// <summary>
    /// RShift(v, k) = R(v / 2^k), exact, for any k (DESIGN.md §3):
    /// floor is the arithmetic right shift; half-away equals sign(v)·((|v| + 2^(k−1)) >> k) and half-even
    /// rounds to the nearest with ties to even, both computed from the remainder so that |v| + 2^(k−1)
    /// cannot overflow; k ≤ 0 is a left shift by −k, saturating at long.MinValue/MaxValue (every caller
    /// clamps to at most 16 bits afterwards, so saturation gives the same result as unbounded arithmetic).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long RoundingShift(long value, int shift, RoundingMode mode)
    {
        if (shift <= 0) return ShiftLeftSaturating(value, -shift);
        if (shift >= 64) return ShiftBeyondWidth(value < 0, shift == 64 && value == long.MinValue, mode);

        long floor = value >> shift;                                  // ⌊v / 2^k⌋; |floor| ≤ 2^62, so floor + 1 cannot overflow
        if (mode == RoundingMode.Floor) return floor;
        ulong remainder = (ulong)value & ((1UL << shift) - 1);        // v − floor·2^k, in [0, 2^k)
        ulong half = 1UL << (shift - 1);
        if (remainder != half) return remainder > half ? floor + 1 : floor;
        // A tie: v / 2^k = floor + 1/2.
        return mode == RoundingMode.HalfAway
            ? (value < 0 ? floor : floor + 1)
            : floor + (floor & 1);
    }

    /// <summary>
    /// The 128-bit <see cref="RoundingShift(long, int, RoundingMode)"/>, for products acc·M0 that need more
    /// than 64 bits (|acc| &lt; 2^63 and M0 &lt; 2^31 give |acc·M0| &lt; 2^94). Same definition; k ≤ 0
    /// saturates at Int128.MinValue/MaxValue.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Int128 RoundingShift(Int128 value, int shift, RoundingMode mode)
    {
        if (shift <= 0) return ShiftLeftSaturating(value, -shift);
        if (shift >= 128) return ShiftBeyondWidth(value < 0, shift == 128 && value == Int128.MinValue, mode);

        Int128 floor = value >> shift;                                // arithmetic; |floor| ≤ 2^126
        if (mode == RoundingMode.Floor) return floor;
        UInt128 remainder = (UInt128)value & ((UInt128.One << shift) - UInt128.One);
        UInt128 half = UInt128.One << (shift - 1);
        if (remainder != half) return remainder > half ? floor + 1 : floor;
        return mode == RoundingMode.HalfAway
            ? (value < 0 ? floor : floor + 1)
            : floor + (floor & 1);
    }

    // For k ≥ the width w, v / 2^k lies in [−1/2, 1/2), and equals −1/2 only for v = MinValue, k = w.
    private static int ShiftBeyondWidth(bool negative, bool minusHalf, RoundingMode mode) => mode switch
    {
        RoundingMode.Floor => negative ? -1 : 0,
        RoundingMode.HalfAway => minusHalf ? -1 : 0,
        _ => 0,                                                       // −1/2 ties to the even 0
    };

    private static long ShiftLeftSaturating(long value, int shift)
    {
        if (shift == 0 || value == 0) return value;
        if (shift >= 63) return value < 0 ? long.MinValue : long.MaxValue;
        if (value > long.MaxValue >> shift) return long.MaxValue;
        if (value < long.MinValue >> shift) return long.MinValue;
        return value << shift;
    }

    private static Int128 ShiftLeftSaturating(Int128 value, int shift)
    {
        if (shift == 0 || value == 0) return value;
        if (shift >= 127) return value < 0 ? Int128.MinValue : Int128.MaxValue;
        if (value > Int128.MaxValue >> shift) return Int128.MaxValue;
        if (value < Int128.MinValue >> shift) return Int128.MinValue;
        return value << shift;
    }
}
