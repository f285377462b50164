using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using QuantLab.Engine.Model;
using QuantLab.Engine.Quantization;
using QuantLab.Engine.Training;

namespace QuantLab.Engine.Ptq;

/// <summary>
/// Signal-to-quantization-noise ratios, SQNR = 10·log10(Σx² / Σ(x − x̂)²) in dB (+∞ where x̂ = x), of the
/// weights and of the activations under a configuration: how much of each tensor survives its grid.
/// </summary>
public static class QuantizationError
{
    /// <summary>Per weight layer: x the FP32 weights, x̂ = s_w·q their quantized values (per tensor or per channel).</summary>
    public static IReadOnlyDictionary<string, double> WeightSqnrDb(Fp32Model model, CalibrationResult ranges, QuantizationConfig config)
    {
        var result = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var layer in ActivationPoints.WeightLayers)
        {
            var weight = model.Layer(layer).Weight;
            var sw = ranges.Weights[layer].Select(r => Quantizer.Step(r.Threshold, config.WeightBits)).ToArray();
            var q = PtqBuilder.QuantizeWeights(weight, sw, config.WeightBits, config.Rounding);
            int per = weight.Data.Length / weight.Shape[0];
            double signal = 0, noise = 0;
            for (int i = 0; i < q.Length; i++)
            {
                double w = weight.Data[i], e = w - q[i] * (sw.Length == 1 ? sw[0] : sw[i / per]);
                signal += w * w;
                noise += e * e;
            }
            result[layer] = Db(signal, noise);
        }
        return result;
    }

    /// <summary>
    /// Per activation point: x the FP32 model's activations on <paramref name="images"/>, x̂ = s·clamp(R(x/s), qmin, qmax)
    /// with the point's step s = 2T/(2^n − 1) on the signed grid, s = T/(2^n − 1) and qmin = 0 where the point is an unsigned
    /// ReLU output (<see cref="ActivationPoints.Signed"/>). It isolates each point's own grid error (range and rounding), not the
    /// error the integer network accumulates before it. Computed once per model, image set and grid (<see cref="ModelStatistics.ActivationSqnr"/>).
    /// </summary>
    public static IReadOnlyDictionary<string, double> ActivationSqnrDb(Fp32Model model, CalibrationResult ranges, int bits, RoundingMode rounding,
        ActSignedness signedness, LabeledImages images)
    {
        // Everything the result depends on besides the model and the images: each point's threshold (its exact bits), the grid's options.
        var grid = string.Join(";", ranges.Activations.OrderBy(a => a.Key, StringComparer.Ordinal)
            .Select(a => $"{a.Key}={BitConverter.DoubleToInt64Bits(a.Value.Threshold):x}")) + $";{bits};{rounding};{signedness}";
        return ModelStatistics.Of(model).ActivationSqnr(images, grid, () => Compute(model, ranges, bits, rounding, signedness, images));
    }

    private static IReadOnlyDictionary<string, double> Compute(Fp32Model model, CalibrationResult ranges, int bits, RoundingMode rounding,
        ActSignedness signedness, LabeledImages images)
    {
        var signal = new Dictionary<string, double>(StringComparer.Ordinal);
        var noise = new Dictionary<string, double>(StringComparer.Ordinal);
        ModelStatistics.Of(model).ForEachActivation(images, (point, values) =>
        {
            if (!ranges.Activations.TryGetValue(point, out var range)) return;
            var p = QuantParams.FromThreshold(range.Threshold, bits, rounding, ActivationPoints.Signed(point, signedness));
            var (s, n) = SignalAndNoise(values, p);
            signal[point] = signal.GetValueOrDefault(point) + s;
            noise[point] = noise.GetValueOrDefault(point) + n;
        });
        return signal.ToDictionary(kv => kv.Key, kv => Db(kv.Value, noise[kv.Key]), StringComparer.Ordinal);
    }

    /// <summary>
    /// (Σ v², Σ (v − FakeQuantize(v))²) over <paramref name="values"/>, added in index order, so both sums are the
    /// scalar loop's bit for bit. The fake quantization runs four values at a time with AVX
    /// (<see cref="Quantizer.FourLanes"/>; + 0.0 turns a −0 grid value into the +0 the scalar int conversion gives);
    /// from the first group holding a NaN on, the scalar code. 256 test images hold 1.9 M activations: 8–10 ms a grid
    /// in the scalar loop, 2 ms here.
    /// </summary>
    internal static (double Signal, double Noise) SignalAndNoise(ReadOnlySpan<float> values, in QuantParams p)
    {
        double s = 0, n = 0;
        int i = 0;
        if (Avx.IsSupported)
        {
            var four = new Quantizer.FourLanes(p);
            for (; i + 4 <= values.Length && Quantizer.FourLanes.TryLoad(values, i, out var x); i += 4)
            {
                var q = Avx.Add(four.Quantize(x), Vector256<double>.Zero);
                var e = Avx.Subtract(x, Avx.Multiply(four.Step, q));
                var xx = Avx.Multiply(x, x);
                var ee = Avx.Multiply(e, e);
                s += xx.GetElement(0); n += ee.GetElement(0);
                s += xx.GetElement(1); n += ee.GetElement(1);
                s += xx.GetElement(2); n += ee.GetElement(2);
                s += xx.GetElement(3); n += ee.GetElement(3);
            }
        }
        for (; i < values.Length; i++)
        {
            float v = values[i];
            double e = v - Quantizer.FakeQuantize(v, p);
            s += (double)v * v;
            n += e * e;
        }
        return (s, n);
    }

    private static double Db(double signal, double noise) => noise == 0 ? double.PositiveInfinity : 10 * Math.Log10(signal / noise);
}
