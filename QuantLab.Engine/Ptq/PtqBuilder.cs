using QuantLab.Engine.Calibration;
using QuantLab.Engine.Export;
using QuantLab.Engine.Int;
using QuantLab.Engine.Model;
using QuantLab.Engine.Quantization;

namespace QuantLab.Engine.Ptq;

/// <summary>Turns an FP32 model and its ranges into a quantized model (DESIGN.md §3).</summary>
public static class PtqBuilder
{
    /// <summary>Scope <c>all</c>: the integer network, every step fixed from the thresholds.</summary>
    public static IntModel BuildInteger(Fp32Model model, CalibrationResult ranges, QuantizationConfig config)
    {
        var thresholds = ranges.Activations.ToDictionary(kv => kv.Key, kv => kv.Value.Threshold);
        var weightThresholds = ranges.Weights.ToDictionary(kv => kv.Key, kv => kv.Value.Select(r => r.Threshold).ToArray());
        return BuildInteger(model, weightThresholds, thresholds, config);
    }

    /// <summary>
    /// The integer network from explicit thresholds: <paramref name="weightThresholds"/> per weight
    /// layer (one, or one per output channel) and <paramref name="activationThresholds"/> per point.
    /// QAT conversion uses this with the thresholds learned in training.
    /// </summary>
    public static IntModel BuildInteger(Fp32Model model, IReadOnlyDictionary<string, double[]> weightThresholds,
        IReadOnlyDictionary<string, double> activationThresholds, QuantizationConfig config)
    {
        config.Validate();
        CheckBiasMode(model, config);
        var rounding = config.Rounding;
        double inputScale = Quantizer.Step(activationThresholds["input"], config.ActBits);
        var ops = new List<IntOp>();
        double sx = inputScale;
        foreach (var spec in LeNet5Architecture.Layers)
        {
            switch (spec)
            {
                case MaxPoolSpec pool: ops.Add(new IntMaxPool(pool.Name, pool.Kernel)); break;
                case FlattenSpec flatten: ops.Add(new IntFlatten(flatten.Name)); break;
                default:
                    var layer = Layer(model, spec, weightThresholds[spec.Name], sx, activationThresholds[spec.Name], config);
                    ops.Add(layer);
                    sx = layer.OutputScale;
                    break;
            }
        }
        return new IntModel(rounding, config.ActBits, inputScale, ops);
    }

    private static IntLayer Layer(Fp32Model model, LayerSpec spec, double[] weightThresholds, double sx, double outputThreshold, QuantizationConfig config)
    {
        var (weight, bias) = model.Layer(spec.Name);
        var (isConv, inC, outC, k, relu) = spec switch
        {
            ConvSpec c => (true, c.InChannels, c.OutChannels, c.Kernel, c.Relu),
            LinearSpec l => (false, l.InFeatures, l.OutFeatures, 1, l.Relu),
            _ => throw new InvalidOperationException(),
        };
        bool signedOutput = config.ActSignedness.OutputSigned(relu);
        double sy = Quantizer.Step(outputThreshold, config.ActBits, signedOutput);
        var sw = weightThresholds.Select(t => Quantizer.Step(t, config.WeightBits)).ToArray();
        var wq = QuantizeWeights(weight, sw, config.WeightBits, config.Rounding);

        var biasMode = bias is null ? BiasMode.None : config.Bias;
        LayerBias layerBias = biasMode switch
        {
            BiasMode.Int32 => new Int32Bias(Enumerable.Range(0, outC).Select(c => Quantizer.QuantizeBias(bias!.Data[c], Sw(sw, c), sx, config.Rounding)).ToArray()),
            BiasMode.Float => new FloatBias(Enumerable.Range(0, outC).Select(c => bias!.Data[c] / sy).ToArray()),
            _ => NoBias.Instance,
        };

        var m = Enumerable.Range(0, outC).Select(c => Sw(sw, c) * sx / sy).ToArray();
        LayerRequant requant = new FloatRequant(m);
        if (config.Requant.IsFixedPoint)
        {
            var m0 = new long[outC];
            var shift = new int[outC];
            for (int c = 0; c < outC; c++) (m0[c], shift[c]) = FixedPointMultiplier.Derive(m[c], config.Requant.Precision);
            requant = new FixedPointRequant(config.Requant.Precision, m0, shift);
        }
        return new IntLayer(spec.Name)
        {
            Shape = isConv ? new Conv2dShape(k) : LinearShape.Instance, InChannels = inC, OutChannels = outC, Weights = wq, WeightBits = config.WeightBits, WeightScale = sw,
            InputScale = sx, OutputScale = sy, OutputBits = config.ActBits, Relu = relu, OutputSigned = signedOutput,
            Bias = layerBias, Requant = requant,
        };
    }

    private static double Sw(double[] sw, int channel) => sw.Length == 1 ? sw[0] : sw[channel];

    /// <summary>wq = clamp(R(w / s_w[c])) for every weight, the step of its output channel.</summary>
    public static short[] QuantizeWeights(NpyArray<float> weight, double[] sw, int bits, RoundingMode rounding)
    {
        int outputs = weight.Shape[0], per = weight.Data.Length / outputs;
        var q = new short[weight.Data.Length];
        for (int o = 0; o < outputs; o++)
        {
            var p = new QuantParams(Sw(sw, o), bits, rounding);
            for (int j = 0; j < per; j++)
                q[o * per + j] = (short)Quantizer.Quantize(weight.Data[o * per + j], p);
        }
        return q;
    }

    /// <summary>
    /// Scope <c>weights</c> (the seed's §2.2): weights quantized and dequantized (w' = wq·s_w), the rest
    /// in float. The bias is dropped (<c>none</c>), kept (<c>float</c>), or rounded to the int32 grid of
    /// step s_w·s_x (<c>int32</c>, s_x from the layer input's activation range).
    /// </summary>
    public static Fp32Model BuildWeightsOnly(Fp32Model model, CalibrationResult ranges, QuantizationConfig config)
    {
        config.Validate();
        CheckBiasMode(model, config);
        var parameters = new Dictionary<string, NpyArray<float>>();
        foreach (var layer in ActivationPoints.WeightLayers)
        {
            var (weight, bias) = model.Layer(layer);
            var sw = ranges.Weights[layer].Select(r => Quantizer.Step(r.Threshold, config.WeightBits)).ToArray();
            var wq = QuantizeWeights(weight, sw, config.WeightBits, config.Rounding);
            int outputs = weight.Shape[0], per = weight.Data.Length / outputs;
            var dequantized = new float[wq.Length];
            for (int i = 0; i < wq.Length; i++) dequantized[i] = (float)(wq[i] * Sw(sw, i / per));
            parameters[$"{layer}.weight"] = weight with { Data = dequantized };
            if (bias is null) continue;
            var values = config.Bias switch
            {
                BiasMode.None => new float[outputs],
                BiasMode.Float => bias.Data,
                _ => Enumerable.Range(0, outputs).Select(c =>
                {
                    double sx = InputStep(ranges, layer, config);
                    return (float)(Quantizer.QuantizeBias(bias.Data[c], Sw(sw, c), sx, config.Rounding) * (Sw(sw, c) * sx));
                }).ToArray(),
            };
            parameters[$"{layer}.bias"] = bias with { Data = values };
        }
        return new Fp32Model { Manifest = model.Manifest, Parameters = parameters };
    }

    /// <summary>s_x of <paramref name="layer"/>'s input: the step of the point before it, on that point's grid
    /// (the input image signed; a ReLU output unsigned under <c>unsigned-after-relu</c>).</summary>
    private static double InputStep(CalibrationResult ranges, string layer, QuantizationConfig config)
    {
        var point = ActivationPoints.InputOf(layer);
        return Quantizer.Step(ranges.Activations[point].Threshold, config.ActBits, ActivationPoints.Signed(point, config.ActSignedness));
    }

    private static void CheckBiasMode(Fp32Model model, QuantizationConfig config) => QuantizationOptions.Check(config, model.HasBias);
}
