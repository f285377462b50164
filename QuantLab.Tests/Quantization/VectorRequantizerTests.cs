using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using CsCheck;
using QuantLab.Engine.Quantization;

namespace QuantLab.Tests.Quantization;

/// <summary>The vectorized requantizer against the scalar one, lane by lane, on random settings and accumulators
/// (ties included: dyadic multipliers and accumulators that land on a half).</summary>
public class VectorRequantizerTests
{
    public sealed record Case(Requantizer Scalar, long Bias, int[] Accumulators)
    {
        public override string ToString() =>
            $"{Scalar.Mode} m={Scalar.Multiplier:R} bf={Scalar.FloatBias:R} M0,k={Scalar.FixedPointMultiplier} {Scalar.Rounding} [{Scalar.Min},{Scalar.Max}] bq={Bias} acc=[{string.Join(",", Accumulators)}]";
    }

    private static readonly Gen<Case> Cases =
        from fixedPoint in Gen.Bool
        from exponent in Gen.Int[-40, 4]
        from mantissa in Gen.Double[1, 2]
        from dyadic in Gen.Bool
        from precision in Gen.Int[RequantSpec.MinPrecision, RequantSpec.MaxPrecision]
        from rounding in Gen.Int[0, 2]
        from bits in Gen.Int[2, 16]
        from relu in Gen.Bool
        from unsigned in Gen.Bool
        from floatBias in Gen.Double[-1000, 1000]
        from useBias in Gen.Int[0, 2]
        from accScale in Gen.Int[0, 31]
        from accumulators in Gen.Int[int.MinValue, int.MaxValue].Array[8]
        from special in Gen.Int[0, 3]
        let m = Math.ScaleB(dyadic ? 1 : mantissa, exponent)
        let mode = (RoundingMode)rounding
        let scalar = fixedPoint ? Requantizer.FixedPoint(m, precision, mode, bits, relu, signedOutput: !(relu && unsigned))
            : Requantizer.Float(m, useBias == 1 ? floatBias : 0, mode, bits, relu, signedOutput: !(relu && unsigned))
        let bias = useBias == 2 ? (long)(floatBias * 1000) : 0
        // Accumulators scaled to a random magnitude, kept so that acc + bq fits in int32 (the caller's bound).
        let acc = accumulators.Select(a => (int)Math.Clamp((a >> (31 - accScale)) - bias, int.MinValue + 2_000_000, int.MaxValue - 2_000_000)).ToArray()
        select new Case(scalar, bias, special == 0 ? acc.Select(a => a & ~0xFF | 0x80).ToArray() : acc);

    [Fact]
    public void The_int32_form_equals_the_scalar_requantizer_lane_by_lane()
    {
        if (!Avx2.IsSupported) return; // nothing vectorized to compare on this machine
        Cases.Sample(c =>
        {
            var vector = new VectorRequantizer(c.Scalar, c.Bias);
            var result = vector.Apply(Vector256.Create(c.Accumulators));
            for (int i = 0; i < 8; i++) Assert.Equal(c.Scalar.Apply(c.Accumulators[i] + c.Bias), result.GetElement(i));
        }, iter: 20_000);
    }

    [Fact]
    public void The_sixteen_lane_form_equals_the_scalar_requantizer_lane_by_lane()
    {
        if (!Avx2.IsSupported) return; // nothing vectorized to compare on this machine
        // AVX-512 where the machine has it, else the two AVX2 halves.
        Cases.Sample(c =>
        {
            // The case's accumulators, then reversed: each value in an even and an odd int32 lane (fixed-point mode multiplies them apart).
            int[] acc = [.. c.Accumulators, .. c.Accumulators.Reverse()];
            var result = new VectorRequantizer(c.Scalar, c.Bias).Apply(Vector512.Create(acc));
            for (int i = 0; i < 16; i++) Assert.Equal(c.Scalar.Apply(acc[i] + c.Bias), result.GetElement(i));
        }, iter: 20_000);
    }

    [Fact]
    public void The_int64_form_equals_the_scalar_requantizer_lane_by_lane()
    {
        if (!Avx2.IsSupported) return; // nothing vectorized to compare on this machine
        Cases.Sample(c =>
        {
            // Stretch the accumulators to int64 magnitudes below 2^51 (the bound the compiled model checks).
            var wide = c.Accumulators.Select((a, i) => (long)a << (i * 3 % 20)).ToArray();
            var vector = new VectorRequantizer(c.Scalar, c.Bias);
            var result = vector.Apply(Vector256.Create(wide[0], wide[1], wide[2], wide[3]), Vector256.Create(wide[4], wide[5], wide[6], wide[7]));
            for (int i = 0; i < 8; i++) Assert.Equal(c.Scalar.Apply(wide[i] + c.Bias), result.GetElement(i));
        }, iter: 20_000);
    }

    [Fact]
    public void The_sixteen_lane_int64_form_equals_the_scalar_requantizer_lane_by_lane()
    {
        if (!Avx2.IsSupported) return; // nothing vectorized to compare on this machine
        // AVX-512 (vcvtqq2pd) where the machine has it, else four AVX2 quarters.
        Cases.Sample(c =>
        {
            long[] wide = [.. c.Accumulators.Select((a, i) => (long)a << (i * 3 % 20)), .. c.Accumulators.Reverse().Select((a, i) => (long)a << (i * 7 % 20))];
            var result = new VectorRequantizer(c.Scalar, c.Bias).Apply(Vector512.Create(wide.AsSpan(0, 8)), Vector512.Create(wide.AsSpan(8, 8)));
            for (int i = 0; i < 16; i++) Assert.Equal(c.Scalar.Apply(wide[i] + c.Bias), result.GetElement(i));
        }, iter: 20_000);
    }

    /// <summary>Fixed-point settings straight from (M0, k), M0 = 0 and unnormalized ones included, with int64
    /// accumulators of every magnitude up to 2^62 (16-bit layers reach about 2^40; their products need 94 bits).</summary>
    private static readonly Gen<(Requantizer Scalar, long Bias, long[] Accumulators)> WideFixedPointCases =
        from m0 in Gen.OneOf(Gen.Int[0, int.MaxValue], Gen.Int[1 << 30, int.MaxValue], Gen.Const(0), Gen.Const(1 << 30))
        from shift in Gen.Int[1, 62]
        from rounding in Gen.Int[0, 2]
        from bits in Gen.Int[2, 16]
        from relu in Gen.Bool
        from unsigned in Gen.Bool
        from bias in Gen.OneOf(Gen.Const(0L), Gen.Long[int.MinValue, int.MaxValue])
        from magnitudes in Gen.Int[0, 62].Array[8]
        from raw in Gen.Long.Array[8]
        from tie in Gen.Bool
        let scalar = Requantizer.FixedPoint(new FixedPointMultiplier(m0, shift), (RoundingMode)rounding, bits, relu, signedOutput: !(relu && unsigned))
        select (scalar, bias, raw.Select((r, i) => (r >> (63 - magnitudes[i])) - bias)
            // A tie where M0 is a power of two: (acc + bq)·M0 an odd multiple of 2^(k−1).
            .Select(a => tie && m0 == 1 << 30 && shift > 30 ? (((a + bias) >> (shift - 30) | 1) << (shift - 31)) - bias : a).ToArray());

    [Fact]
    public void The_int64_fixed_point_forms_equal_the_scalar_requantizer_for_accumulators_of_any_size()
    {
        if (!Avx2.IsSupported) return; // nothing vectorized to compare on this machine
        WideFixedPointCases.Sample(c =>
        {
            var vector = new VectorRequantizer(c.Scalar, c.Bias);
            Assert.True(vector.Vectorized);
            var acc = c.Accumulators;
            var eight = vector.Apply(Vector256.Create(acc.AsSpan(0, 4)), Vector256.Create(acc.AsSpan(4, 4)));
            for (int i = 0; i < 8; i++) Assert.Equal(c.Scalar.Apply(acc[i] + c.Bias), eight.GetElement(i));
            long[] both = [.. acc, .. acc.Reverse()];
            var sixteen = vector.Apply(Vector512.Create(both.AsSpan(0, 8)), Vector512.Create(both.AsSpan(8, 8)));
            for (int i = 0; i < 16; i++) Assert.Equal(c.Scalar.Apply(both[i] + c.Bias), sixteen.GetElement(i));
        }, iter: 50_000, print: c => $"M0,k={c.Scalar.FixedPointMultiplier} {c.Scalar.Rounding} [{c.Scalar.Min},{c.Scalar.Max}] bq={c.Bias} acc=[{string.Join(",", c.Accumulators)}]");
    }

    [Theory]
    [InlineData(RoundingMode.Floor)]
    [InlineData(RoundingMode.HalfEven)]
    [InlineData(RoundingMode.HalfAway)]
    public void Ties_round_as_the_scalar_code_does(RoundingMode rounding)
    {
        if (!Avx2.IsSupported) return; // nothing vectorized to compare on this machine
        // m = 1/2 and M0·2^−k = 2^30·2^−31: every odd accumulator is a tie. m just below 1/2: just below a tie
        // (1·m = 0.49999999999999994, whose correctly rounded sum with 1/2 is 1).
        int[] acc = [-7, -5, -3, -1, 1, 3, 5, 7];
        foreach (var scalar in new[] { Requantizer.Float(0.5, 0, rounding, 8, false), Requantizer.Float(Math.BitDecrement(0.5), 0, rounding, 8, false),
                     Requantizer.FixedPoint(new FixedPointMultiplier(1 << 30, 31), rounding, 8, false) })
        {
            var result = new VectorRequantizer(scalar, 0).Apply(Vector256.Create(acc));
            for (int i = 0; i < 8; i++) Assert.Equal(scalar.Apply(acc[i]), result.GetElement(i));
            var sixteen = new VectorRequantizer(scalar, 0).Apply(Vector512.Create([.. acc, .. acc.Reverse()]));
            for (int i = 0; i < 16; i++) Assert.Equal(scalar.Apply(acc[i < 8 ? i : 15 - i]), sixteen.GetElement(i));
            long[] wide = [.. acc.Select(a => (long)a << 20), .. acc.Select(a => (long)a << 40)];
            var wideScalar = scalar.Mode == RequantMode.Float ? Requantizer.Float(Math.ScaleB(0.5, -20), 0, rounding, 8, false) : scalar;
            var sixteenWide = new VectorRequantizer(wideScalar, 0).Apply(Vector512.Create(wide.AsSpan(0, 8)), Vector512.Create(wide.AsSpan(8, 8)));
            for (int i = 0; i < 16; i++) Assert.Equal(wideScalar.Apply(wide[i]), sixteenWide.GetElement(i));
        }
    }
}
