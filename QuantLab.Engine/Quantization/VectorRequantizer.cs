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
/// and then does <see cref="Rounding.RoundingShift(long, int, RoundingMode)"/> for 1 ≤ k ≤ 62; int64 accumulators
/// (16-bit layers) take a saturation that leaves the output unchanged and a two-part product (<see cref="FixedWide(Vector512{long})"/>).
/// </summary>
public readonly struct VectorRequantizer
{
    private readonly Requantizer _scalar;
    private readonly long _bias;
    private readonly Vector256<double> _multiplier, _floatBias, _intBias, _min, _max;
    private readonly Vector256<long> _min64, _max64, _m0, _mask, _half;
    private readonly int _shift;
    private readonly bool _fixedVector;
    /// <summary>Fixed-point mode, int64 accumulators: the range [_accMin, _accMax] outside which every output is clamped.</summary>
    private readonly long _accMin, _accMax;

    /// <param name="requantizer">The channel's scalar requantizer.</param>
    /// <param name="intBias">The integer constant added to the channel's accumulator: bq (0 unless the bias is int32), and in a
    /// compiled model also the share of an offset input (see <c>TensorLayout.Offset</c>).</param>
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
        (_accMin, _accMax) = _fixedVector ? SaturationRange(fixedPoint.M0, _shift, requantizer.Min, requantizer.Max) : (0, 0);
    }

    /// <summary>
    /// Accumulators a ≥ ⌈(qmax + 1)·2^k / M0⌉ have a·M0 / 2^k ≥ qmax + 1, so every rounding lands above qmax and the clamp
    /// gives qmax; those ≤ ⌊(qmin − 1)·2^k / M0⌋ give qmin likewise. Saturating an accumulator to this range therefore
    /// leaves its output unchanged, and bounds |a·M0| by (2^16 + 2)·2^k + M0 (qmin ≥ −2^15, qmax &lt; 2^16).
    /// M0 = 0 maps everything to 0: no saturation needed.
    /// </summary>
    private static (long Min, long Max) SaturationRange(long m0, int shift, int min, int max)
    {
        if (m0 == 0) return (long.MinValue, long.MaxValue);
        Int128 high = ((Int128)max + 1) << shift, low = ((Int128)min - 1) << shift;
        Int128 ceiling = (high + m0 - 1) / m0, floor = -((-low + m0 - 1) / m0);
        return ((long)Int128.Max(floor, long.MinValue), (long)Int128.Min(ceiling, long.MaxValue));
    }

    public Requantizer Scalar => _scalar;

    /// <summary>The integer constant added to the accumulator before requantizing (<c>intBias</c> of the constructor).</summary>
    public long Bias => _bias;

    /// <summary>Whether <see cref="Apply(Vector256{int})"/> and <see cref="Apply(Vector256{long}, Vector256{long})"/> run in SIMD
    /// (AVX2 present, and for fixed-point 1 ≤ k ≤ 62).</summary>
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

    /// <summary>
    /// <see cref="Shift(Vector256{long})"/> with AVX-512's arithmetic int64 shift, rounding by an addend below 2^k before the
    /// floor: half-even adds 2^(k−1) − 1 + (⌊p / 2^k⌋ mod 2), so a remainder above one half carries and exactly one half
    /// carries when ⌊p / 2^k⌋ is odd; half-away adds 2^(k−1) − [p &lt; 0], so exactly one half carries when p ≥ 0. No
    /// overflow: |p| &lt; 2^62 in the int32 form and the addend is at most 2^61.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Vector512<long> Shift(Vector512<long> p)
    {
        if (_scalar.Rounding == RoundingMode.Floor) return Vector512.ShiftRightArithmetic(p, _shift);
        var half = Vector512.Create(_half.ToScalar());
        var addend = _scalar.Rounding == RoundingMode.HalfEven
            ? half - Vector512<long>.One + (Vector512.ShiftRightLogical(p, _shift) & Vector512<long>.One)
            : half + Vector512.ShiftRightArithmetic(p, 63);
        return Vector512.ShiftRightArithmetic(p + addend, _shift);
    }

    /// <summary>RShift's rounding of p / 2^k from ⌊p / 2^k⌋, the remainder p − ⌊p / 2^k⌋·2^k ∈ [0, 2^k) (so signed
    /// compares work) and p's sign (all ones where p &lt; 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Vector512<long> Round(Vector512<long> floor, Vector512<long> remainder, Vector512<long> negative)
    {
        if (_scalar.Rounding == RoundingMode.Floor) return floor;
        var half = Vector512.Create(_half.ToScalar());
        var up = Vector512.GreaterThan(remainder, half);
        var tie = Vector512.Equals(remainder, half);
        up |= _scalar.Rounding == RoundingMode.HalfAway
            ? Vector512.AndNot(tie, negative)                                  // ties up when p ≥ 0
            : tie & Vector512.Equals(floor & Vector512<long>.One, Vector512<long>.One); // ties to even
        return floor - up;                                                // up is −1 where rounding up
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Vector512<long> Clamp(Vector512<long> y) =>
        Avx512F.Min(Avx512F.Max(y, Vector512.Create(_min64.ToScalar())), Vector512.Create(_max64.ToScalar()));

    /// <summary>
    /// Requantizes acc + bq for eight int64 accumulators (lanes 0–3 in <paramref name="lower"/>, 4–7 in
    /// <paramref name="upper"/>). Float mode requires |acc| &lt; 2^51 (checked when the model is compiled)
    /// for the exact int64 → double conversion below; fixed-point mode takes any |acc + bq| &lt; 2^63 (<see cref="FixedWide(Vector256{long})"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<int> Apply(Vector256<long> lower, Vector256<long> upper)
    {
        if (!Vectorized) return ApplyScalar(lower, upper);
        if (_scalar.Mode == RequantMode.FixedPoint)
            return Vector256.Create(Avx2.PermuteVar8x32(FixedWide(lower).AsInt32(), Vector256.Create(0, 2, 4, 6, 1, 3, 5, 7)).GetLower(),
                Avx2.PermuteVar8x32(FixedWide(upper).AsInt32(), Vector256.Create(0, 2, 4, 6, 1, 3, 5, 7)).GetLower());
        var lo = Finish(Avx.Add(ToDouble(lower), _intBias));
        var hi = Finish(Avx.Add(ToDouble(upper), _intBias));
        return Vector256.Create(Avx.ConvertToVector128Int32WithTruncation(lo), Avx.ConvertToVector128Int32WithTruncation(hi));
    }

    /// <summary>
    /// <see cref="Apply(Vector256{long}, Vector256{long})"/> for sixteen int64 accumulators (lanes 0–7 in
    /// <paramref name="lower"/>, 8–15 in <paramref name="upper"/>) on AVX-512: float mode by vcvtqq2pd (exact for
    /// |acc| &lt; 2^51, as there), fixed-point mode by <see cref="FixedWide(Vector512{long})"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<int> Apply(Vector512<long> lower, Vector512<long> upper)
    {
        if (!SixteenWideLanesAtOnce)
            return Vector512.Create(Apply(lower.GetLower(), lower.GetUpper()), Apply(upper.GetLower(), upper.GetUpper()));
        if (_scalar.Mode == RequantMode.FixedPoint)
            return Vector512.Create(Avx512F.ConvertToVector256Int32(FixedWide(lower)), Avx512F.ConvertToVector256Int32(FixedWide(upper)));
        // acc + bq in int64 is exact (|acc| < 2^51, |bq| < 2^31), and so is its conversion to double (below 2^53).
        var bias = Vector512.Create(_bias);
        return Vector512.Create(FinishToInt(Avx512DQ.ConvertToVector512Double(Avx512F.Add(lower, bias))),
            FinishToInt(Avx512DQ.ConvertToVector512Double(Avx512F.Add(upper, bias))));
    }

    /// <summary>Whether <see cref="Apply(Vector512{long}, Vector512{long})"/> runs as one AVX-512 computation.</summary>
    public bool SixteenWideLanesAtOnce => Avx512DQ.IsSupported && (_scalar.Mode == RequantMode.Float || _fixedVector);

    /// <summary>
    /// Fixed-point RShift((acc + bq)·M0, k), clamped, for int64 accumulators of any size (1 ≤ k ≤ 62), per int64 lane.
    /// The product may need 94 bits, so it is formed in two parts after saturating a = acc + bq to the range that
    /// leaves the output unchanged (<see cref="SaturationRange"/>): with a = 2^32·a_hi + a_lo (a_lo unsigned),
    /// Y = a_lo·M0 &lt; 2^63 (vpmuludq) and X = a_hi·M0, |X| &lt; 2^62 (vpmuldq: |a_hi| &lt; 2^31), so
    /// a·M0 = 2^32·Z + Y_lo with Z = X + (Y &gt;&gt; 32) and Y_lo = Y mod 2^32, and a·M0 &lt; 0 exactly when Z &lt; 0.
    /// For k ≥ 32 the quotient is Z &gt;&gt; (k − 32) and the remainder 2^32·(Z mod 2^(k−32)) + Y_lo &lt; 2^62; for k &lt; 32
    /// the saturation bounds |a·M0| below 2^49, so 2^32·Z + Y_lo is the product itself, shifted as in the int32 form.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Vector512<long> FixedWide(Vector512<long> acc)
    {
        var a = Avx512F.Min(Avx512F.Max(acc + Vector512.Create(_bias), Vector512.Create(_accMin)), Vector512.Create(_accMax));
        var m0 = Vector512.Create(_m0.ToScalar());
        var y = Avx512F.Multiply(a.AsUInt32(), m0.AsUInt32()).AsInt64();
        var x = Avx512F.Multiply(Avx512F.ShiftRightArithmetic(a, 32).AsInt32(), m0.AsInt32());
        var z = x + Vector512.ShiftRightLogical(y, 32);
        var low = y & Vector512.Create(0xFFFFFFFFL);
        if (_shift < 32) return Clamp(Shift(Vector512.ShiftLeft(z, 32) + low));
        var floor = Vector512.ShiftRightArithmetic(z, _shift - 32);
        var remainder = Vector512.ShiftLeft(z & Vector512.Create((1L << (_shift - 32)) - 1), 32) | low;
        return Clamp(Round(floor, remainder, Vector512.LessThan(z, Vector512<long>.Zero)));
    }

    /// <summary><see cref="FixedWide(Vector512{long})"/> on four int64 lanes with AVX2 (int64 shifts, min and max emulated).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Vector256<long> FixedWide(Vector256<long> acc)
    {
        var a = acc + Vector256.Create(_bias);
        var accMin = Vector256.Create(_accMin);
        var accMax = Vector256.Create(_accMax);
        a = Avx2.BlendVariable(a, accMin, Avx2.CompareGreaterThan(accMin, a));
        a = Avx2.BlendVariable(a, accMax, Avx2.CompareGreaterThan(a, accMax));
        var y = Avx2.Multiply(a.AsUInt32(), _m0.AsUInt32()).AsInt64();
        // a_hi = a >> 32 (arithmetic): the high int32 of each lane moved down; vpmuldq reads it sign-extended.
        var x = Avx2.Multiply(Avx2.ShiftRightLogical(a, 32).AsInt32(), _m0.AsInt32());
        var z = x + Vector256.ShiftRightLogical(y, 32);
        var low = y & Vector256.Create(0xFFFFFFFFL);
        if (_shift < 32) return Clamp(Shift(Vector256.ShiftLeft(z, 32) + low));
        var negative = Avx2.CompareGreaterThan(Vector256<long>.Zero, z);
        var floor = ShiftRightArithmetic(z, negative, _shift - 32);
        var remainder = Vector256.ShiftLeft(z & Vector256.Create((1L << (_shift - 32)) - 1), 32) | low;
        return Clamp(Round(floor, remainder, negative));
    }

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
    /// embedded rounding, exact for the clamped value). Half-away truncates v + copysign(1/2, v) added with rounding toward
    /// zero: for v ≥ 0 and an integer 0 ≤ n &lt; 2^53 (representable), the exact sum reaches n exactly when its rounding toward
    /// zero does, so the truncation is ⌊v + 1/2⌋ (v &lt; 0 likewise, mirrored); a correctly rounded sum would not do
    /// (0.49999999999999994 + 0.5 rounds to 1). Constants are broadcast from scalars.
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
            _ => Avx512F.ConvertToVector256Int32WithTruncation(
                Avx512F.Add(v, (v & Vector512.Create(-0.0)) | Vector512.Create(0.5), FloatRoundingMode.ToZero)),
        };
    }

    /// <summary>RShift(p, k) per int64 lane for 1 ≤ k ≤ 62 (|p| &lt; 2^62), rounding by an addend before the floor as
    /// <see cref="Shift(Vector512{long})"/> explains.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Vector256<long> Shift(Vector256<long> p)
    {
        if (_scalar.Rounding == RoundingMode.HalfEven)
            p += _half - Vector256<long>.One + (Vector256.ShiftRightLogical(p, _shift) & Vector256<long>.One);
        else if (_scalar.Rounding == RoundingMode.HalfAway)
            p += _half + Avx2.CompareGreaterThan(Vector256<long>.Zero, p);   // −1 where p < 0
        return ShiftRightArithmetic(p, Avx2.CompareGreaterThan(Vector256<long>.Zero, p), _shift);
    }

    /// <summary>Arithmetic int64 shift (AVX2 has none): ~((~p) &gt;&gt;&gt; k) for negative p, p &gt;&gt;&gt; k otherwise.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<long> ShiftRightArithmetic(Vector256<long> p, Vector256<long> negative, int shift) =>
        Vector256.ShiftRightLogical(p ^ negative, shift) ^ negative;

    /// <summary><see cref="Round(Vector512{long}, Vector512{long}, Vector512{long})"/> on four lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Vector256<long> Round(Vector256<long> floor, Vector256<long> remainder, Vector256<long> negative)
    {
        if (_scalar.Rounding == RoundingMode.Floor) return floor;
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
