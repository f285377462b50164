using System.Runtime.CompilerServices;
using QuantLab.Engine.Quantization;

namespace QuantLab.Engine.Int;

/// <summary>Accumulator → output integer for one channel of one layer (DESIGN.md §3, "Requantizing").</summary>
public static class Requantize
{
    /// <param name="acc">Σ wq·xq, plus bq[c] where the bias is int32.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Apply(IntLayer layer, long acc, int channel, RoundingMode rounding, int min, int max)
    {
        long y;
        if (layer.Requant.IsFixedPoint)
        {
            // |acc| < 2^47 (16-bit × 16-bit × fan-in 400, plus an int32 bias) and M0 < 2^31:
            // the product needs up to 78 bits, so it is formed in Int128.
            y = FixedPoint.RoundingShift((Int128)acc * layer.FixedMultiplier![channel], layer.FixedShift![channel], rounding);
        }
        else
        {
            double v = acc * layer.Multiplier[channel];
            if (layer.Bias == BiasMode.Float) v += layer.BiasFloat![channel];
            y = Rounding.Round(v, rounding);
        }
        return (int)Math.Clamp(y, min, max);
    }
}
