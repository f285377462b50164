using System.Runtime.CompilerServices;

namespace QuantLab.Engine.Quantization;

/// <summary>
/// Requantizes one output channel's accumulator to the output integer (DESIGN.md §3):
/// float: y = R(acc·m + bf); fixed-point: y = RShift(acc·M0, k); then out = clamp(y, relu ? 0 : qmin, qmax)
/// with qmin, qmax of the output's grid, signed or unsigned.
/// Build one per output channel (or one per layer when m is per tensor) and call <see cref="Apply"/> per
/// output element: it is allocation-free and inlined.
/// </summary>
public readonly struct Requantizer
{
    private readonly double _multiplier;
    private readonly double _floatBias;
    private readonly long _m0;
    private readonly int _shift;
    private readonly long _maxAcc64;

    private Requantizer(RequantMode mode, double multiplier, double floatBias, long m0, int shift,
        RoundingMode rounding, int outputBits, bool relu, bool signedOutput)
    {
        BitWidth.Validate(outputBits, "output bits");
        Mode = mode;
        _multiplier = multiplier;
        _floatBias = floatBias;
        _m0 = m0;
        _shift = shift;
        // acc·M0 fits in a long exactly when |acc| ≤ ⌊(2^63 − 1)/M0⌋. With M0 < 2^31 that holds for every
        // |acc| < 2^32, i.e. for 8-bit LeNet-5 layers (|acc| ≤ 400·2^14 + |bq|); 16-bit layers can reach
        // 400·2^30 ≈ 2^38.6 and then take the Int128 path.
        _maxAcc64 = m0 == 0 ? long.MaxValue : long.MaxValue / m0;
        Rounding = rounding;
        Min = relu ? 0 : Quantizer.QMin(outputBits, signedOutput);
        Max = Quantizer.QMax(outputBits, signedOutput);
    }

    public RequantMode Mode { get; }
    public RoundingMode Rounding { get; }

    /// <summary>The lower clamp: 0 with a fused ReLU, else qmin of the output bits.</summary>
    public int Min { get; }

    /// <summary>The upper clamp: qmax of the output bits (2^n − 1 on an unsigned output grid).</summary>
    public int Max { get; }

    /// <summary>m = s_w·s_x/s_y (float mode).</summary>
    public double Multiplier => _multiplier;

    /// <summary>bf = b/s_y (float mode with float bias; 0 otherwise).</summary>
    public double FloatBias => _floatBias;

    /// <summary>M0 and k (fixed-point mode).</summary>
    public FixedPointMultiplier FixedPointMultiplier => new(_m0, _shift);

    /// <summary>Float requantization: y = R(acc·m + bf), acc·m formed first (no fused multiply-add).</summary>
    public static Requantizer Float(double multiplier, double floatBias, RoundingMode rounding, int outputBits, bool relu, bool signedOutput = true)
    {
        if (!(double.IsFinite(multiplier) && multiplier >= 0))
            throw new ArgumentOutOfRangeException(nameof(multiplier), multiplier, "The multiplier must be a finite number >= 0.");
        if (!double.IsFinite(floatBias))
            throw new ArgumentOutOfRangeException(nameof(floatBias), floatBias, "The float bias must be finite.");
        return new(RequantMode.Float, multiplier, floatBias, 0, 0, rounding, outputBits, relu, signedOutput);
    }

    /// <summary>Fixed-point requantization with an explicit M0 (0 ≤ M0 &lt; 2^31) and shift k.</summary>
    public static Requantizer FixedPoint(FixedPointMultiplier multiplier, RoundingMode rounding, int outputBits, bool relu, bool signedOutput = true)
    {
        if (multiplier.M0 is < 0 or > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(multiplier), multiplier.M0, "M0 must be in [0, 2^31).");
        return new(RequantMode.FixedPoint, multiplier.Value, 0, multiplier.M0, multiplier.Shift, rounding, outputBits, relu, signedOutput);
    }

    /// <summary>Fixed-point requantization of the real multiplier m at precision P (see <see cref="FixedPointMultiplier.Derive"/>).</summary>
    public static Requantizer FixedPoint(double multiplier, int precision, RoundingMode rounding, int outputBits, bool relu, bool signedOutput = true) =>
        FixedPoint(Quantization.FixedPointMultiplier.Derive(multiplier, precision), rounding, outputBits, relu, signedOutput);

    /// <summary>
    /// The output integer for accumulator <paramref name="acc"/> (int32 bias already added).
    /// Float mode: exact in its conversion when |acc| ≤ 2^53, which every 2..16-bit layer with fan-in
    /// below 2^21 satisfies (|acc| ≤ fanIn·2^30 + 2^31); the result is clamped in double before converting.
    /// Fixed-point mode: acc·M0 is computed exactly, in 64 bits when |acc| ≤ ⌊(2^63−1)/M0⌋ and in 128 bits
    /// otherwise (|acc·M0| &lt; 2^63·2^31 = 2^94), then rounded by <see cref="Rounding.RoundingShift(long, int, RoundingMode)"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Apply(long acc)
    {
        if (Mode == RequantMode.Float)
        {
            double v = acc * _multiplier + _floatBias;
            return (int)Math.Clamp(Quantization.Rounding.RoundToIntegral(v, Rounding), Min, Max);
        }

        long y;
        if (acc <= _maxAcc64 && acc >= -_maxAcc64)
            y = Quantization.Rounding.RoundingShift(acc * _m0, _shift, Rounding);
        else
        {
            Int128 wide = Quantization.Rounding.RoundingShift((Int128)acc * _m0, _shift, Rounding);
            y = wide > long.MaxValue ? long.MaxValue : wide < long.MinValue ? long.MinValue : (long)wide;
        }
        return (int)Math.Clamp(y, Min, Max);
    }
}
