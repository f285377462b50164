using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace QuantLab.Engine.Quantization;

/// <summary>
/// <see cref="Requantizer"/> for eight accumulators of one output channel at once (AVX2), bit-identical
/// to <see cref="Requantizer.Apply"/> of (acc + bq) lane by lane. The int32 bias bq is added here, not by
/// the caller. Where a configuration falls outside the bounds the vector code is proven for, the lanes go
/// through the scalar <see cref="Requantizer.Apply"/> instead (<see cref="Vectorized"/> says which).
///
/// Float mode does exactly the scalar double operations, in the same order, on four doubles at a time:
/// IEEE multiplication and addition are correctly rounded whether done in SIMD or scalar registers, .NET
/// never fuses a·b + c into one rounding, and vroundpd implements floor and ties-to-even exactly;
/// half-away is trunc(v) plus sign(v) where |v − trunc(v)| ≥ 1/2, and v − trunc(v) is exact in double.
/// The 16-lane AVX-512 form (<see cref="FinishToInt"/>) reorders only what provably gives the same integers.
/// Fixed-point mode forms acc·M0 exactly in int64 lanes (|acc| ≤ 2^31, M0 &lt; 2^31, so |acc·M0| &lt; 2^62)
/// and then does <see cref="Rounding.RoundingShift(long, int, RoundingMode)"/> for 1 ≤ k ≤ 62.
/// </summary>
public readonly struct VectorRequantizer
{
    private readonly Requantizer _scalar;
    private readonly long _bias;
    private readonly Vector256<double> _multiplier, _floatBias, _intBias, _min, _max;
    private readonly Vector256<long> _min64, _max64, _m0, _mask, _half;
    private readonly int _shift;
    private readonly bool _fixedVector;

    /// <param name="requantizer">The channel's scalar requantizer.</param>
    /// <param name="intBias">bq of the channel (0 unless the bias is int32).</param>
    public VectorRequantizer(Requantizer requantizer, long intBias)
    {
        _scalar = requantizer;
        _bias = intBias;
        _multiplier = Vector256.Create(requantizer.Multiplier);
        _floatBias = Vector256.Create(requantizer.FloatBias);
        _intBias = Vector256.Create((double)intBias);
        _min = Vector256.Create((double)requantizer.Min);
        _max = Vector256.Create((double)requantizer.Max);
        _min64 = Vector256.Create((long)requantizer.Min);
        _max64 = Vector256.Create((long)requantizer.Max);
        var fixedPoint = requantizer.FixedPointMultiplier;
        _m0 = Vector256.Create(fixedPoint.M0);
        _shift = fixedPoint.Shift;
        // 1 ≤ k ≤ 62 keeps 2^k − 1 and 2^(k−1) positive longs; k ≤ 0 (m ≥ 2^(P−1)) and k ≥ 63 are
        // left to the scalar code, which handles every shift.
        _fixedVector = _shift is >= 1 and <= 62;
        _mask = _fixedVector ? Vector256.Create((1L << _shift) - 1) : default;
        _half = _fixedVector ? Vector256.Create(1L << (_shift - 1)) : default;
    }

    public Requantizer Scalar => _scalar;

    /// <summary>bq, added to the accumulator before requantizing.</summary>
    public long Bias => _bias;

    /// <summary>Whether <see cref="Apply(Vector256{int})"/> runs in SIMD (AVX2 present, and for fixed-point 1 ≤ k ≤ 62).</summary>
    public bool Vectorized => Avx2.IsSupported && (_scalar.Mode == RequantMode.Float || _fixedVector);

    /// <summary>
    /// Requantizes acc + bq for eight int32 accumulators. Requires |acc + bq| ≤ 2^31 − 1 per lane (the
    /// compiled model's int32 bound, which includes |bq|), so the sum is formed in int32 without wrapping.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<int> Apply(Vector256<int> acc)
    {
        if (!Vectorized) return ApplyScalar(acc);
        if (_scalar.Mode == RequantMode.Float)
        {
            // (double)acc + (double)bq is exact (integers below 2^32), so it equals the scalar (double)(acc + bq).
            var lo = Finish(Avx.Add(Avx.ConvertToVector256Double(acc.GetLower()), _intBias));
            var hi = Finish(Avx.Add(Avx.ConvertToVector256Double(acc.GetUpper()), _intBias));
            return Vector256.Create(Avx.ConvertToVector128Int32WithTruncation(lo), Avx.ConvertToVector128Int32WithTruncation(hi));
        }
        var sum = Avx2.Add(acc, Vector256.Create((int)_bias));
        // vpmuldq multiplies the low (even) int32 of each 64-bit lane, sign-extended: even lanes first,
        // then the odd lanes shifted down.
        var even = Clamp(Shift(Avx2.Multiply(sum, _m0.AsInt32())));
        var odd = Clamp(Shift(Avx2.Multiply(Avx2.ShiftRightLogical(sum.AsInt64(), 32).AsInt32(), _m0.AsInt32())));
        // Both are within int16 after the clamp: low 32 bits of even, odd in the high 32 bits.
        return (Avx2.And(even, Vector256.Create(0xFFFFFFFFL)) | Avx2.ShiftLeftLogical(odd, 32)).AsInt32();
    }

    /// <summary>Whether <see cref="Apply(Vector512{int})"/> runs as one AVX-512 computation rather than two AVX2 halves.</summary>
    public bool SixteenLanesAtOnce => Avx512F.IsSupported && (_scalar.Mode == RequantMode.Float || _fixedVector);

    /// <summary>
    /// <see cref="Apply(Vector256{int})"/> for sixteen int32 accumulators, on AVX-512F where the machine has it (else
    /// the two AVX2 halves), with the same results lane by lane. Fixed-point mode gains the int64
    /// arithmetic shift and min/max that AVX2 lacks; float mode does eight doubles per instruction, in fewer steps
    /// (<see cref="FinishToInt"/>). The constants are
    /// broadcast from scalars: built with <c>Vector512.Create(v256, v256)</c> they cost spills and round trips
    /// through memory, and the float form then measured twice as slow as two 256-bit halves (AMD EPYC, .NET 10).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<int> Apply(Vector512<int> acc)
    {
        if (!SixteenLanesAtOnce)
            return Vector512.Create(Apply(acc.GetLower()), Apply(acc.GetUpper()));
        if (_scalar.Mode == RequantMode.Float)
        {
            // acc + bq in int32 is exact (the caller's bound), so its conversion equals the scalar (double)(acc + bq).
            var biased = Avx512F.Add(acc, Vector512.Create((int)_bias));
            return Vector512.Create(FinishToInt(Avx512F.ConvertToVector512Double(biased.GetLower())), FinishToInt(Avx512F.ConvertToVector512Double(biased.GetUpper())));
        }
        var sum = Avx512F.Add(acc, Vector512.Create((int)_bias));
        var m0 = Vector512.Create(_m0.ToScalar()).AsInt32();
        var even = Clamp(Shift(Avx512F.Multiply(sum, m0)));
        var odd = Clamp(Shift(Avx512F.Multiply(Avx512F.ShiftRightLogical(sum.AsInt64(), 32).AsInt32(), m0)));
        return ((even & Vector512.Create(0xFFFFFFFFL)) | Avx512F.ShiftLeftLogical(odd, 32)).AsInt32();
    }

    /// <summary><see cref="Shift(Vector256{long})"/> with AVX-512's arithmetic int64 shift.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Vector512<long> Shift(Vector512<long> p)
    {
        var floor = Vector512.ShiftRightArithmetic(p, _shift);
        if (_scalar.Rounding == RoundingMode.Floor) return floor;
        var half = Vector512.Create(_half.ToScalar());
        var remainder = p & Vector512.Create(_mask.ToScalar());               // in [0, 2^k), so signed compares work
        var up = Vector512.GreaterThan(remainder, half);
        var tie = Vector512.Equals(remainder, half);
        up |= _scalar.Rounding == RoundingMode.HalfAway
            ? Vector512.AndNot(tie, Vector512.LessThan(p, Vector512<long>.Zero))   // ties up when p ≥ 0
            : tie & Vector512.Equals(floor & Vector512<long>.One, Vector512<long>.One); // ties to even
        return floor - up;                                                // up is −1 where rounding up
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Vector512<long> Clamp(Vector512<long> y) =>
        Avx512F.Min(Avx512F.Max(y, Vector512.Create(_min64.ToScalar())), Vector512.Create(_max64.ToScalar()));

    /// <summary>
    /// Requantizes acc + bq for eight int64 accumulators (lanes 0–3 in <paramref name="lower"/>, 4–7 in
    /// <paramref name="upper"/>). Float mode requires |acc| &lt; 2^51 (checked when the model is compiled)
    /// for the exact int64 → double conversion below; fixed-point mode here is scalar (acc·M0 may need 128 bits).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<int> Apply(Vector256<long> lower, Vector256<long> upper)
    {
        if (!(Avx2.IsSupported && _scalar.Mode == RequantMode.Float)) return ApplyScalar(lower, upper);
        var lo = Finish(Avx.Add(ToDouble(lower), _intBias));
        var hi = Finish(Avx.Add(ToDouble(upper), _intBias));
        return Vector256.Create(Avx.ConvertToVector128Int32WithTruncation(lo), Avx.ConvertToVector128Int32WithTruncation(hi));
    }

    /// <summary>
    /// <see cref="Apply(Vector256{long}, Vector256{long})"/> for sixteen int64 accumulators (lanes 0–7 in
    /// <paramref name="lower"/>, 8–15 in <paramref name="upper"/>) on AVX-512 (vcvtqq2pd, exact for |acc| &lt; 2^51
    /// as there); float mode only (<see cref="SixteenWideLanesAtOnce"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<int> Apply(Vector512<long> lower, Vector512<long> upper)
    {
        if (!SixteenWideLanesAtOnce)
            return Vector512.Create(Apply(lower.GetLower(), lower.GetUpper()), Apply(upper.GetLower(), upper.GetUpper()));
        // acc + bq in int64 is exact (|acc| < 2^51, |bq| < 2^31), and so is its conversion to double (below 2^53).
        var bias = Vector512.Create(_bias);
        return Vector512.Create(FinishToInt(Avx512DQ.ConvertToVector512Double(Avx512F.Add(lower, bias))),
            FinishToInt(Avx512DQ.ConvertToVector512Double(Avx512F.Add(upper, bias))));
    }

    /// <summary>Whether <see cref="Apply(Vector512{long}, Vector512{long})"/> runs as one AVX-512 computation.</summary>
    public bool SixteenWideLanesAtOnce => Avx512DQ.IsSupported && _scalar.Mode == RequantMode.Float;

    /// <summary>Exact int64 → double for |v| &lt; 2^51: v + 1.5·2^52 as the bits of a double whose unit in
    /// the last place is 1 holds 1.5·2^52 + v exactly; subtracting 1.5·2^52 is exact too.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> ToDouble(Vector256<long> v)
    {
        const long MagicBits = 0x4338000000000000; // 1.5·2^52
        return Avx.Subtract(Avx2.Add(v, Vector256.Create(MagicBits)).AsDouble(), Vector256.Create(6755399441055744.0));
    }

    /// <summary>v·m + bf, rounded, clamped: the scalar float requantization's operations in its order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Vector256<double> Finish(Vector256<double> acc)
    {
        var v = Avx.Add(Avx.Multiply(acc, _multiplier), _floatBias);
        return Avx.Min(Avx.Max(Rounding.RoundToIntegral(v, _scalar.Rounding), _min), _max);
    }

    /// <summary>
    /// <see cref="Finish(Vector256{double})"/> on eight doubles, converted to int32, in fewer instructions with the same
    /// result: + bf is skipped when bf = 0 (it changes only −0 into +0, which round and convert to the same 0); the clamp
    /// comes before the rounding (qmin and qmax are integers and R is monotone with R(q) = q for an integer q, so
    /// R(clamp(v)) = clamp(R(v))), and floor and half-even then round in the conversion itself (vcvtpd2dq with
    /// embedded rounding, exact for the clamped value). Constants are broadcast from scalars.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Vector256<int> FinishToInt(Vector512<double> acc)
    {
        var v = Avx512F.Multiply(acc, Vector512.Create(_multiplier.ToScalar()));
        if (_scalar.FloatBias != 0) v = Avx512F.Add(v, Vector512.Create(_floatBias.ToScalar()));
        v = Avx512F.Min(Avx512F.Max(v, Vector512.Create(_min.ToScalar())), Vector512.Create(_max.ToScalar()));
        return _scalar.Rounding switch
        {
            RoundingMode.Floor => Avx512F.ConvertToVector256Int32(v, FloatRoundingMode.ToNegativeInfinity),
            RoundingMode.HalfEven => Avx512F.ConvertToVector256Int32(v, FloatRoundingMode.ToEven),
            _ => Avx512F.ConvertToVector256Int32WithTruncation(Rounding.RoundToIntegral(v, _scalar.Rounding)),
        };
    }

    /// <summary>RShift(p, k) per int64 lane for 1 ≤ k ≤ 62; the same case analysis as the scalar code.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Vector256<long> Shift(Vector256<long> p)
    {
        var negative = Avx2.CompareGreaterThan(Vector256<long>.Zero, p);  // all ones where p < 0
        // Arithmetic shift (AVX2 has none for int64): ~((~p) >>> k) for negative p, p >>> k otherwise.
        var floor = Vector256.ShiftRightLogical(p ^ negative, _shift) ^ negative;
        if (_scalar.Rounding == RoundingMode.Floor) return floor;
        var remainder = p & _mask;                                        // in [0, 2^k), so signed compares work
        var up = Avx2.CompareGreaterThan(remainder, _half);
        var tie = Avx2.CompareEqual(remainder, _half);
        up |= _scalar.Rounding == RoundingMode.HalfAway
            ? Avx2.AndNot(negative, tie)                                  // ties up when p ≥ 0
            : tie & Avx2.CompareEqual(floor & Vector256<long>.One, Vector256<long>.One); // ties to even
        return floor - up;                                                // up is −1 where rounding up
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Vector256<long> Clamp(Vector256<long> y)
    {
        y = Avx2.BlendVariable(y, _min64, Avx2.CompareGreaterThan(_min64, y));
        return Avx2.BlendVariable(y, _max64, Avx2.CompareGreaterThan(y, _max64));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private Vector256<int> ApplyScalar(Vector256<long> lower, Vector256<long> upper)
    {
        Span<int> lanes = stackalloc int[8];
        for (int i = 0; i < 4; i++)
        {
            lanes[i] = _scalar.Apply(lower.GetElement(i) + _bias);
            lanes[i + 4] = _scalar.Apply(upper.GetElement(i) + _bias);
        }
        return Vector256.Create<int>(lanes);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private Vector256<int> ApplyScalar(Vector256<int> acc)
    {
        Span<int> lanes = stackalloc int[8];
        for (int i = 0; i < 8; i++) lanes[i] = _scalar.Apply(acc.GetElement(i) + _bias);
        return Vector256.Create<int>(lanes);
    }
}
