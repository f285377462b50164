using QuantLab.Engine.Ptq;
using static TorchSharp.torch;
using RoundingMode = QuantLab.Engine.Quantization.RoundingMode;

namespace QuantLab.Engine.Qat;

/// <summary>
/// Fake quantization for training, with a straight-through estimator (STE): the forward value is
/// <c>step·clamp(R(x / divisor), lo, hi)</c>, the rounding R of DESIGN.md §3; the gradient with respect
/// to x is 1 where R(x / divisor) lies inside [lo, hi] (the clamp leaves it alone) and 0 where it is
/// clipped. Steps and divisors are constants (computed from detached weights or from moving-average
/// thresholds), so no gradient flows into them.
/// </summary>
/// <remarks>
/// The value is formed as <c>q.detach() + (x − x.detach())·mask</c>: the second term is exactly 0, so the
/// forward value is exactly the fake-quantized one (the common <c>x + (q − x).detach()</c> is not, in
/// float arithmetic), while its gradient is the mask.
/// </remarks>
public static class FakeQuant
{
    /// <summary>
    /// Quantizes <paramref name="x"/> with <paramref name="divisor"/> and dequantizes with
    /// <paramref name="step"/> (both broadcastable to x). Quantizing a tensor uses divisor = step; a
    /// layer output under fixed-point requantization uses the divisor that reproduces acc·M0·2^(−k).
    /// </summary>
    public static Tensor Apply(Tensor x, Tensor divisor, Tensor step, double lo, double hi, RoundingMode rounding)
    {
        using var scope = NewDisposeScope();
        Tensor q, mask;
        using (no_grad())
        {
            var r = FakeQuantSimulation.Round(x.detach() / divisor, rounding);
            mask = r.AtLeast(lo).logical_and(r.AtMost(hi)).to(x.dtype);
            q = r.ClampTo(lo, hi) * step;
        }
        return q.Plus((x - x.detach()) * mask).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// LSQ's quantizer (Esser et al., ICLR 2020) with a trained <paramref name="step"/> s: the same forward value
    /// as <see cref="Apply(Tensor, Tensor, Tensor, double, double, RoundingMode)"/> (so the network trains on the
    /// grid it converts to), with v = x / divisor and the range −Q_N &lt; v &lt; Q_P (lo = −Q_N, hi = Q_P):
    /// the gradient with respect to x is 1 inside the range and 0 outside; with respect to s it is
    /// R(v) − v inside, lo where v ≤ lo and hi where v ≥ hi, times <paramref name="gradScale"/> g (LSQ's
    /// 1/√(N·Q_P), which keeps the step's updates in proportion to the weights').
    /// </summary>
    /// <remarks>Both gradient terms are exactly 0 in the forward value, as in <see cref="Apply(Tensor, Tensor, Tensor, double, double, RoundingMode)"/>;
    /// g multiplies the step's gradient only (LSQ's "grad scale"), not its value.</remarks>
    public static Tensor ApplyLearned(Tensor x, Tensor divisor, Tensor step, double lo, double hi, RoundingMode rounding, double gradScale)
    {
        using var scope = NewDisposeScope();
        Tensor q, inside, stepGradient;
        using (no_grad())
        {
            var v = x.detach() / divisor.detach();
            var clipped = FakeQuantSimulation.Round(v, rounding).ClampTo(lo, hi);
            inside = v.Above(lo).logical_and(v.Below(hi)).to(x.dtype);
            q = clipped * step.detach();
            // R(v) − v inside; the clip level (lo or hi) where v is clipped, as clipped already holds it there.
            stepGradient = (clipped - v * inside).Times(gradScale);
        }
        return q.Plus((x - x.detach()) * inside).Plus((step - step.detach()) * stepGradient).MoveToOuterDisposeScope();
    }

    /// <summary><see cref="Apply(Tensor, Tensor, Tensor, double, double, RoundingMode)"/> on n-bit signed integers, divisor = step.</summary>
    public static Tensor Apply(Tensor x, Tensor step, int bits, RoundingMode rounding) =>
        Apply(x, step, step, Quantization.Quantizer.QMin(bits), Quantization.Quantizer.QMax(bits), rounding);
}
