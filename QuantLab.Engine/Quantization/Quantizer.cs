using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace QuantLab.Engine.Quantization;

/// <summary>
/// The parameters of one quantizer (one tensor, or one output channel): step s, the integer range
/// [qmin, qmax] of n bits (signed, or unsigned for an activation after a ReLU) and the rounding. s is the step of DESIGN.md §3 (x ≈ s·q); the seed's scaling
/// factor S is 1/s.
/// </summary>
public readonly record struct QuantParams
{
    public QuantParams(double step, int bits, RoundingMode rounding, bool signed = true)
    {
        BitWidth.Validate(bits);
        if (!(double.IsFinite(step) && step > 0))
            throw new ArgumentOutOfRangeException(nameof(step), step, "The step must be a positive finite number.");
        Step = step;
        Bits = bits;
        QMin = Quantizer.QMin(bits, signed);
        QMax = Quantizer.QMax(bits, signed);
        Rounding = rounding;
    }

    /// <summary>s &gt; 0.</summary>
    public double Step { get; }

    public int Bits { get; }

    /// <summary>−2^(n−1); 0 unsigned.</summary>
    public int QMin { get; }

    /// <summary>2^(n−1) − 1; 2^n − 1 unsigned.</summary>
    public int QMax { get; }

    public RoundingMode Rounding { get; }

    /// <summary>The quantizer for clipping threshold T ≥ 0: s = 2T/(2^n − 1) (unsigned: T/(2^n − 1)), or s = 1 when T = 0.</summary>
    public static QuantParams FromThreshold(double threshold, int bits, RoundingMode rounding, bool signed = true) =>
        new(Quantizer.Step(threshold, bits, signed), bits, rounding, signed);
}

/// <summary>
/// Quantizing reals to n-bit integers (DESIGN.md §3): q = clamp(R(x / s), qmin, qmax), in double.
/// Allocation-free; the per-element functions are inlined.
/// </summary>
public static class Quantizer
{
    /// <summary>qmin = −2^(n−1); 0 on the unsigned grid.</summary>
    public static int QMin(int bits, bool signed = true) => signed ? -(1 << (bits - 1)) : 0;

    /// <summary>qmax = 2^(n−1) − 1; 2^n − 1 on the unsigned grid (65,535 at 16 bits: beyond int16).</summary>
    public static int QMax(int bits, bool signed = true) => signed ? (1 << (bits - 1)) - 1 : (1 << bits) - 1;

    /// <summary>
    /// s = 2T / (2^n − 1) for T &gt; 0, so that R maps [−T, T] onto the 2^n levels with ±T at the outer half
    /// steps (T/s = qmax + 1/2). On the unsigned grid s = T / (2^n − 1): [0, T] onto 0..2^n − 1, T at the top
    /// level. T = 0 (an all-zero channel) gives s = 1. T must be finite and ≥ 0.
    /// </summary>
    public static double Step(double threshold, int bits, bool signed = true)
    {
        BitWidth.Validate(bits);
        if (!(double.IsFinite(threshold) && threshold >= 0))
            throw new ArgumentOutOfRangeException(nameof(threshold), threshold, "The threshold must be a finite number >= 0.");
        return threshold == 0 ? 1.0 : (signed ? 2.0 * threshold : threshold) / ((1 << bits) - 1);
    }

    /// <summary>
    /// The threshold T whose <see cref="Step"/> is <paramref name="step"/> (s &gt; 0): T = s·(2^n − 1)/2, or
    /// s·(2^n − 1) on the unsigned grid. Exact for a float32 step: s·(2^n − 1) needs at most 24 + 16 bits, so
    /// Step(Threshold(s)) = s bit for bit (how a learned step is stored as a threshold).
    /// </summary>
    public static double Threshold(double step, int bits, bool signed = true)
    {
        BitWidth.Validate(bits);
        if (!(double.IsFinite(step) && step > 0))
            throw new ArgumentOutOfRangeException(nameof(step), step, "The step must be a finite number > 0.");
        double t = step * ((1 << bits) - 1);
        return signed ? t / 2 : t;
    }

    /// <summary>
    /// q = clamp(R(x / s), qmin, qmax). x / s is a true division in double (not x·(1/s)): the fake-quant
    /// simulation must do the same to agree bit for bit. Clamping happens in double before the conversion,
    /// so any finite x is safe; NaN gives 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Quantize(double x, in QuantParams p)
    {
        double r = Rounding.RoundToIntegral(x / p.Step, p.Rounding);
        return (int)Math.Clamp(r, p.QMin, p.QMax);
    }

    /// <summary>Quantizes <paramref name="values"/> into <paramref name="output"/> (same length).</summary>
    public static void Quantize(ReadOnlySpan<float> values, in QuantParams p, Span<int> output)
    {
        if (output.Length != values.Length) throw new ArgumentException("Output and input lengths differ.", nameof(output));
        for (int i = 0; i < values.Length; i++) output[i] = Quantize(values[i], p);
    }

    /// <summary>
    /// <see cref="Quantize(double, in QuantParams)"/> of every value, as the int16 it is stored in (the low 16 bits, as a
    /// cast would take them), four at a time with AVX: float → double, the same correctly rounded division, the same
    /// rounding (<see cref="Rounding.RoundToIntegral(Vector256{double}, RoundingMode)"/>) and clamp, so the result is the
    /// scalar one bit for bit. A group of four holding a NaN takes the scalar code (whose clamp keeps NaN, converted to 0).
    /// Quantizing the 10,000-image test set this way takes milliseconds, which a sweep pays once per input step.
    /// </summary>
    public static void Quantize(ReadOnlySpan<float> values, in QuantParams p, Span<short> output)
    {
        if (output.Length != values.Length) throw new ArgumentException("Output and input lengths differ.", nameof(output));
        int i = 0;
        if (Avx.IsSupported)
        {
            var four = new FourLanes(p);
            for (; i + 4 <= values.Length; i += 4)
            {
                if (!FourLanes.TryLoad(values, i, out var x))
                {
                    for (int k = i; k < i + 4; k++) output[k] = (short)Quantize(values[k], p);
                    continue;
                }
                var q = Avx.ConvertToVector128Int32WithTruncation(four.Quantize(x));
                output[i] = (short)q[0];
                output[i + 1] = (short)q[1];
                output[i + 2] = (short)q[2];
                output[i + 3] = (short)q[3];
            }
        }
        for (; i < values.Length; i++) output[i] = (short)Quantize(values[i], p);
    }

    /// <summary>
    /// <see cref="Quantize(double, in QuantParams)"/> on four doubles (AVX), bit for bit: the same correctly rounded
    /// division, the same rounding (<see cref="Rounding.RoundToIntegral(Vector256{double}, RoundingMode)"/>) and clamp.
    /// The result stays a double (an integer value, −0 where the scalar int would be 0).
    /// </summary>
    public readonly struct FourLanes(in QuantParams p)
    {
        private readonly Vector256<double> _step = Vector256.Create(p.Step), _min = Vector256.Create((double)p.QMin), _max = Vector256.Create((double)p.QMax);
        private readonly RoundingMode _rounding = p.Rounding;

        public Vector256<double> Step => _step;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<double> Quantize(Vector256<double> x) =>
            Avx.Min(Avx.Max(Rounding.RoundToIntegral(Avx.Divide(x, _step), _rounding), _min), _max);

        /// <summary>values[i .. i + 4) as doubles; false where one is NaN (the caller takes the scalar code, whose clamp keeps NaN).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static bool TryLoad(ReadOnlySpan<float> values, int i, out Vector256<double> x)
        {
            x = Avx.ConvertToVector256Double(Vector128.Create(values.Slice(i, 4)));
            return Avx.MoveMask(Avx.CompareUnordered(x, x)) == 0;
        }
    }

    /// <summary>x̂ = s·q, the real value an integer stands for.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Dequantize(int q, in QuantParams p) => p.Step * q;

    /// <summary>Dequantize(Quantize(x)): what the <c>weights</c> scope puts in place of a weight.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double FakeQuantize(double x, in QuantParams p) => p.Step * Quantize(x, p);

    /// <summary>
    /// The int32 bias bq = R(b / (s_w·s_x)), saturated to [int.MinValue, int.MaxValue] (DESIGN.md §3).
    /// s_w·s_x is formed first, then divided into b, as the contract writes it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int QuantizeBias(double bias, double weightStep, double inputStep, RoundingMode rounding)
    {
        double r = Rounding.RoundToIntegral(bias / (weightStep * inputStep), rounding);
        return (int)Math.Clamp(r, int.MinValue, int.MaxValue);
    }
}
