using QuantLab.Engine.Int;
using QuantLab.Engine.Quantization;
using QuantLab.Engine.Training;
using TorchSharp;
using static TorchSharp.torch;
using RoundingMode = QuantLab.Engine.Quantization.RoundingMode;

namespace QuantLab.Engine.Ptq;

/// <summary>
/// The integer path of DESIGN.md §3 simulated with TorchSharp tensor operations: values live on the
/// quantization grid as float64 tensors, convolutions and linear layers are TorchSharp's own
/// (exact, since every partial sum is an integer below 2^53), rounding is done with tensor ops, and
/// the fixed-point multiply-shift in int64 tensors. A second, independent implementation of the
/// numeric contract: its logits must equal <see cref="IntegerEngine"/>'s bit for bit.
/// </summary>
public static class FakeQuantSimulation
{
    public static int[] Run(IntModel model, LabeledImages images, int batch = 1000)
    {
        TorchRuntime.EnsureInitialized();
        var logits = new List<int>();
        using var _ = no_grad();
        for (int start = 0; start < images.Count; start += batch)
        {
            using var scope = NewDisposeScope();
            int n = Math.Min(batch, images.Count - start);
            var pixels = tensor(images.Pixels.AsSpan(start * LabeledImages.PixelsPerImage, n * LabeledImages.PixelsPerImage).ToArray(),
                [n, 1, LabeledImages.Height, LabeledImages.Width]).to(float64);
            var x = Round(pixels.DividedBy(model.InputScale), model.Rounding).ClampTo(Quantizer.QMin(model.InputBits), Quantizer.QMax(model.InputBits));
            foreach (var op in model.Ops)
            {
                x = op switch
                {
                    IntLayer layer => Layer(layer, x, model.Rounding),
                    IntMaxPool pool => nn.functional.max_pool2d(x, pool.Kernel),
                    IntFlatten => x.flatten(1),
                    _ => x,
                };
            }
            logits.AddRange(x.to(int64).data<long>().ToArray().Select(v => (int)v));
        }
        return logits.ToArray();
    }

    private static Tensor Layer(IntLayer layer, Tensor x, RoundingMode rounding)
    {
        int outC = layer.OutChannels;
        bool conv = layer.Shape is Conv2dShape;
        var weightShape = conv
            ? new long[] { outC, layer.InChannels, layer.KernelSide, layer.KernelSide }
            : new long[] { outC, layer.InChannels };
        var w = tensor(layer.Weights.Select(v => (double)v).ToArray(), weightShape);
        var acc = conv ? nn.functional.conv2d(x, w) : nn.functional.linear(x, w);
        long[] channelShape = conv ? [1, outC, 1, 1] : [1, outC];
        if (layer.Bias is Int32Bias bq)
            acc = acc.Plus(tensor(bq.Quantized.Select(v => (double)v).ToArray(), channelShape));

        Tensor y;
        if (layer.Requant is FixedPointRequant fixedPoint)
        {
            y = FixedPointShift(acc, layer.Name, fixedPoint, channelShape, rounding);
        }
        else
        {
            var v = acc * tensor(((FloatRequant)layer.Requant).Multiplier, channelShape);
            if (layer.Bias is FloatBias bf) v = v.Plus(tensor(bf.OverOutputStep, channelShape));
            y = Round(v, rounding);
        }
        var (min, max) = layer.OutputClamp;
        return y.ClampTo(min, max);
    }

    /// <summary>RShift(acc·M0, k) in int64 tensors: exact while |acc|·M0 &lt; 2^63.</summary>
    private static Tensor FixedPointShift(Tensor acc, string layer, FixedPointRequant requant, long[] channelShape, RoundingMode rounding)
    {
        var a = acc.to(int64);
        long worst = (long)Math.Ceiling(a.abs().max().item<long>() * (double)requant.M0.Max());
        if (worst >= long.MaxValue / 2)
            throw new InvalidOperationException($"{layer}: |acc|·M0 exceeds int64; the simulation cannot represent it exactly");
        // k ≤ 0 is a left shift (multiply by 2^−k, divisor 1); k > 0 divides by 2^k.
        var up = tensor(requant.Shift.Select(k => k <= 0 ? 1L << -k : 1L).ToArray(), channelShape);
        var divisor = tensor(requant.Shift.Select(k => k > 0 ? 1L << k : 1L).ToArray(), channelShape);
        var v = a * tensor(requant.M0, channelShape) * up;
        var q = v.floor_divide(divisor);          // floor(v / 2^k)
        var twiceRemainder = (v - q * divisor).Times(2L); // 2·r, r ∈ [0, 2^k)
        var result = rounding switch
        {
            RoundingMode.Floor => q,
            RoundingMode.HalfAway => q.Plus((twiceRemainder.gt(divisor) | (twiceRemainder.eq(divisor) & v.AtLeast(0L))).to(int64)),
            _ => q.Plus((twiceRemainder.gt(divisor) | (twiceRemainder.eq(divisor) & q.Remainder(2L).NotEqual(0L))).to(int64)),
        };
        return result.to(float64);
    }

    /// <summary>R(v) with tensor ops, exact for every double (no "+0.5 then floor" shortcut, which
    /// mis-rounds 0.49999999999999994).</summary>
    public static Tensor Round(Tensor v, RoundingMode rounding) => rounding switch
    {
        RoundingMode.Floor => v.floor(),
        RoundingMode.HalfEven => v.round(),
        _ => HalfAway(v),
    };

    private static Tensor HalfAway(Tensor v)
    {
        var t = v.trunc();
        return t.Plus(v.sign() * (v - t).abs().AtLeast(0.5).to(v.dtype));
    }
}
