using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using QuantLab.Engine.Int;
using QuantLab.Engine.Quantization;

namespace QuantLab.Engine.Export;

/// <summary>
/// The hardware testbench kit (<c>quantlab export --format hw</c>, README "Hardware kit"): per layer the weights,
/// biases and requantization constants as <c>$readmemh</c> hex (full-width two's complement, one word per line) and
/// as .npy; golden vectors for N test images (quantized input, per layer the accumulators, the requantized outputs,
/// the pooled outputs, the logits and the predicted class); <c>manifest.json</c>; a generated C99
/// <c>reference.c</c> that recomputes every golden vector from the kit; and, for fixed-point models, <c>verilog/</c>
/// (<see cref="VerilogKit"/>).
/// </summary>
public static class HardwareKit
{
    public const string Format = "quantlab.hw/1";
    public const int DefaultVectors = 16;

    /// <summary>Words of <paramref name="bits"/> bits as hex, two's complement, one per line.</summary>
    public static string Hex(IEnumerable<long> values, int bits)
    {
        int digits = (bits + 3) / 4;
        ulong mask = bits == 64 ? ulong.MaxValue : (1UL << bits) - 1;
        var sb = new StringBuilder();
        foreach (var v in values)
        {
            if (bits < 64 && (v < -(1L << (bits - 1)) || v >= 1L << bits))
                throw new InvalidOperationException($"{v} does not fit {bits} bits");
            sb.Append(((ulong)v & mask).ToString("x" + digits.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture)).Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>
    /// The width of a layer output's words in the kit (hex files, reference.c, Verilog): n for a signed grid, n + 1 for an
    /// unsigned one. 0..2^n − 1 is exactly the ReLU-clamped range of the (n+1)-bit signed grid, so the kit's signed,
    /// ReLU-clamping hardware and C compute an unsigned n-bit layer bit for bit at one extra bit of width.
    /// </summary>
    public static int WordBits(IntLayer layer) => layer.OutputBits + (layer.OutputSigned ? 0 : 1);

    private static IEnumerable<long> DoubleBits(IEnumerable<double> values) => values.Select(BitConverter.DoubleToInt64Bits);

    /// <summary>What one image leaves behind in every op: accumulators (conv/linear) and outputs.</summary>
    private sealed record Trace(List<long[]?> Acc, List<int[]> Out);

    private static Trace Run(IntModel model, ReadOnlySpan<short> image)
    {
        var acc = new List<long[]?>();
        var outs = new List<int[]>();
        var x = new int[image.Length];
        for (int i = 0; i < x.Length; i++) x[i] = image[i];
        int c = model.InputShape[0], h = model.InputShape[1], w = model.InputShape[2];
        foreach (var op in model.Ops)
        {
            switch (op)
            {
                case IntLayer layer:
                {
                    int k = layer.KernelSide;
                    bool conv = layer.Shape is Conv2dShape;
                    var (_, oh, ow) = layer.OutputShape(c, h, w);
                    var a = new long[layer.OutChannels * oh * ow];
                    var y = new int[a.Length];
                    for (int co = 0; co < layer.OutChannels; co++)
                    {
                        var rq = layer.RequantizerOf(co, model.Rounding);
                        for (int yy = 0; yy < oh; yy++)
                        for (int xx = 0; xx < ow; xx++)
                        {
                            long s = 0;
                            if (conv)
                            {
                                for (int ci = 0; ci < layer.InChannels; ci++)
                                for (int ky = 0; ky < k; ky++)
                                for (int kx = 0; kx < k; kx++)
                                    s += (long)layer.Weights[((co * layer.InChannels + ci) * k + ky) * k + kx] * x[(ci * h + yy + ky) * w + xx + kx];
                            }
                            else
                                for (int i = 0; i < layer.InChannels; i++) s += (long)layer.Weights[co * layer.InChannels + i] * x[i];
                            s += layer.AccumulatorBias(co);
                            int idx = (co * oh + yy) * ow + xx;
                            a[idx] = s;
                            y[idx] = rq.Apply(s);
                        }
                    }
                    acc.Add(a);
                    outs.Add(y);
                    x = y;
                    (c, h, w) = (layer.OutChannels, oh, ow);
                    break;
                }
                case IntMaxPool pool:
                    x = ReferenceKernels.MaxPool(x, c, h, w, pool.Kernel);
                    (h, w) = (h / pool.Kernel, w / pool.Kernel);
                    acc.Add(null);
                    outs.Add(x);
                    break;
                default:
                    (c, h, w) = (c * h * w, 1, 1);
                    acc.Add(null);
                    outs.Add(x);
                    break;
            }
        }
        return new(acc, outs);
    }

    /// <summary>Writes the kit for the first <paramref name="vectors"/> images of <paramref name="testSet"/>, through a temporary directory.</summary>
    public static void Write(string directory, IntModel model, ExportedTestSet testSet, int vectors = DefaultVectors, JsonNode? quantization = null)
    {
        if (vectors < 1) throw new BadInputException($"--vectors {vectors}: give at least 1");
        vectors = Math.Min(vectors, testSet.Count);
        int per = model.InputShape.Aggregate(1, (a, b) => a * b);
        int classes = model.Layers.Last().OutChannels;
        var traces = new List<Trace>();
        for (int n = 0; n < vectors; n++)
        {
            var t = Run(model, testSet.Inputs.AsSpan(n * per, per));
            if (!t.Out[^1].AsSpan().SequenceEqual(testSet.Logits.AsSpan(n * classes, classes)))
                throw new InfrastructureException($"the kit's trace of image {n} disagrees with the engine's logits");
            traces.Add(t);
        }

        AtomicFile.WriteDirectory(directory, tmp =>
        {
            var p = Directory.CreateDirectory(Path.Combine(tmp, "params")).FullName;
            var v = Directory.CreateDirectory(Path.Combine(tmp, "vectors")).FullName;
            void Text(string path, string text) => File.WriteAllText(path, text);

            Text(Path.Combine(v, "input.hex"), Hex(testSet.Inputs.Take(vectors * per).Select(x => (long)x), model.InputBits));
            Npy.Write<short>(Path.Combine(v, "input.npy"), testSet.Inputs.AsSpan(0, vectors * per), [vectors, .. model.InputShape]);

            var layers = new JsonArray();
            int c = model.InputShape[0], h = model.InputShape[1], w = model.InputShape[2], bits = model.InputBits;
            for (int i = 0; i < model.Ops.Count; i++)
            {
                var op = model.Ops[i];
                var o = new JsonObject { ["name"] = op.Name, ["inputShape"] = new JsonArray(c, h, w), ["inputBits"] = bits };
                switch (op)
                {
                    case IntLayer l:
                    {
                        var (_, oh, ow) = l.OutputShape(c, h, w);
                        bool conv = l.Shape is Conv2dShape;
                        o["op"] = conv ? "conv2d" : "linear";
                        o["inChannels"] = l.InChannels;
                        o["outChannels"] = l.OutChannels;
                        o["kernel"] = l.KernelSide;
                        o["outputShape"] = new JsonArray(l.OutChannels, oh, ow);
                        o["outputBits"] = l.OutputBits;
                        o["outputSigned"] = true;
                        o.WithOutputSigned(l, words: true);
                        var (min, max) = l.OutputClamp;
                        o["clamp"] = new JsonArray(min, max);
                        o["relu"] = l.Relu;
                        o["weightBits"] = l.WeightBits;
                        o["granularity"] = l.WeightScale.Length == 1 ? "tensor" : "channel";
                        var files = new JsonObject();
                        Text(Path.Combine(p, $"{l.Name}.weight.hex"), Hex(l.Weights.Select(x => (long)x), l.WeightBits));
                        Npy.Write<short>(Path.Combine(p, $"{l.Name}.weight.npy"), l.Weights, IntExport.WeightShape(l));
                        files["weights"] = new JsonObject
                        {
                            ["hex"] = $"params/{l.Name}.weight.hex", ["npy"] = $"params/{l.Name}.weight.npy", ["bits"] = l.WeightBits, ["signed"] = true,
                            ["count"] = l.Weights.Length, ["order"] = conv ? "[out][in][ky][kx], row-major" : "[out][in], row-major",
                        };
                        o["bias"] = l.Bias.Mode.ToString().ToLowerInvariant();
                        if (l.Bias is Int32Bias bq)
                        {
                            Text(Path.Combine(p, $"{l.Name}.bias.hex"), Hex(bq.Quantized.Select(x => (long)x), 32));
                            Npy.Write<int>(Path.Combine(p, $"{l.Name}.bias.npy"), bq.Quantized, l.OutChannels);
                            files["bias"] = new JsonObject { ["hex"] = $"params/{l.Name}.bias.hex", ["npy"] = $"params/{l.Name}.bias.npy", ["bits"] = 32, ["signed"] = true, ["count"] = l.OutChannels, ["meaning"] = "bq[c], added to the accumulator" };
                        }
                        else if (l.Bias is FloatBias bf)
                        {
                            Text(Path.Combine(p, $"{l.Name}.bias.hex"), Hex(DoubleBits(bf.OverOutputStep), 64));
                            Npy.Write<double>(Path.Combine(p, $"{l.Name}.bias.npy"), bf.OverOutputStep, l.OutChannels);
                            files["bias"] = new JsonObject { ["hex"] = $"params/{l.Name}.bias.hex", ["npy"] = $"params/{l.Name}.bias.npy", ["bits"] = 64, ["encoding"] = "IEEE-754 binary64 bit pattern", ["count"] = l.OutChannels, ["meaning"] = "bf[c] = b/s_y, added after acc·m" };
                        }
                        if (l.Requant is FixedPointRequant fixedPoint)
                        {
                            o["requant"] = "fixed-point";
                            o["precision"] = fixedPoint.Precision;
                            Text(Path.Combine(p, $"{l.Name}.M0.hex"), Hex(fixedPoint.M0, 32));
                            Npy.Write<long>(Path.Combine(p, $"{l.Name}.M0.npy"), fixedPoint.M0, l.OutChannels);
                            Text(Path.Combine(p, $"{l.Name}.shift.hex"), Hex(fixedPoint.Shift.Select(x => (long)x), 8));
                            Npy.Write<int>(Path.Combine(p, $"{l.Name}.shift.npy"), fixedPoint.Shift, l.OutChannels);
                            files["multiplier"] = new JsonObject { ["hex"] = $"params/{l.Name}.M0.hex", ["npy"] = $"params/{l.Name}.M0.npy", ["bits"] = 32, ["signed"] = false, ["count"] = l.OutChannels, ["meaning"] = "M0[c]: y = RShift(acc·M0, k)" };
                            files["shift"] = new JsonObject { ["hex"] = $"params/{l.Name}.shift.hex", ["npy"] = $"params/{l.Name}.shift.npy", ["bits"] = 8, ["signed"] = true, ["count"] = l.OutChannels, ["meaning"] = "k[c] (k ≤ 0: left shift by −k)" };
                        }
                        else
                        {
                            var m = ((FloatRequant)l.Requant).Multiplier;
                            o["requant"] = "float";
                            Text(Path.Combine(p, $"{l.Name}.m.hex"), Hex(DoubleBits(m), 64));
                            Npy.Write<double>(Path.Combine(p, $"{l.Name}.m.npy"), m, l.OutChannels);
                            files["multiplier"] = new JsonObject { ["hex"] = $"params/{l.Name}.m.hex", ["npy"] = $"params/{l.Name}.m.npy", ["bits"] = 64, ["encoding"] = "IEEE-754 binary64 bit pattern", ["count"] = l.OutChannels, ["meaning"] = "m[c]: y = R(acc·m + bf) in double, no fused multiply-add" };
                        }
                        o["files"] = files;
                        o["vectors"] = Vectors(v, l.Name, i, traces, WordBits(l), acc: true);
                        (c, h, w, bits) = (l.OutChannels, oh, ow, WordBits(l));
                        break;
                    }
                    case IntMaxPool pool:
                        o["op"] = "maxpool2d";
                        o["kernel"] = pool.Kernel;
                        o["stride"] = pool.Kernel;
                        (h, w) = (h / pool.Kernel, w / pool.Kernel);
                        o["outputShape"] = new JsonArray(c, h, w);
                        o["outputBits"] = bits;
                        if (model.Ops.Take(i).OfType<IntLayer>().LastOrDefault() is { OutputSigned: false } before) o.WithOutputSigned(before, words: true);
                        o["vectors"] = Vectors(v, pool.Name, i, traces, bits, acc: false);
                        break;
                    default:
                        o["op"] = "flatten";
                        (c, h, w) = (c * h * w, 1, 1);
                        o["outputShape"] = new JsonArray(c, h, w);
                        break;
                }
                layers.Add(o);
            }
            var logits = testSet.Logits.Take(vectors * classes).ToArray();
            Text(Path.Combine(v, "logits.hex"), Hex(logits.Select(x => (long)x), 32));
            Npy.Write<int>(Path.Combine(v, "logits.npy"), logits, vectors, classes);
            var predictions = IntegerEngine.Predictions(logits, classes);
            Text(Path.Combine(v, "predictions.hex"), Hex(predictions.Select(x => (long)x), 8));

            var manifest = new JsonObject
            {
                ["format"] = Format,
                ["contract"] = "DESIGN.md §3 (quantlab.int/1 numerics)",
                ["engineVersion"] = EngineInfo.Version,
                ["rounding"] = model.Rounding.ToOption(),
                ["hex"] = "one word per line, lower-case hex, full width two's complement at the stated bits (ceil(bits/4) digits); tensors in row-major order; vectors image-major, each image's tensor in [C][H][W] order; a layer output on the unsigned grid (outputSigned false, 0..2^outputBits - 1) is stored at wordBits = outputBits + 1",
                ["vectors"] = vectors,
                ["input"] = new JsonObject
                {
                    ["shape"] = new JsonArray(model.InputShape.Select(d => (JsonNode)d).ToArray()), ["bits"] = model.InputBits, ["signed"] = true,
                    ["scale"] = model.InputScale, ["hex"] = "vectors/input.hex", ["npy"] = "vectors/input.npy",
                },
                ["layers"] = layers,
                ["logits"] = new JsonObject { ["hex"] = "vectors/logits.hex", ["npy"] = "vectors/logits.npy", ["bits"] = 32, ["signed"] = true, ["shape"] = new JsonArray(vectors, classes) },
                ["predictions"] = new JsonObject { ["hex"] = "vectors/predictions.hex", ["bits"] = 8, ["signed"] = false, ["meaning"] = "first index of the maximum logit" },
                ["reference"] = "reference.c: cc -std=c99 -O2 -ffp-contract=off -o reference reference.c -lm && ./reference KITDIR",
            };
            if (quantization is not null) manifest["quantization"] = quantization.DeepClone();
            manifest["verilog"] = VerilogKit.Write(tmp, model, vectors);
            File.WriteAllText(Path.Combine(tmp, "manifest.json"), manifest.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            File.WriteAllText(Path.Combine(tmp, "reference.c"), ReferenceC.Generate(model, vectors));
        });
    }

    private static JsonObject Vectors(string dir, string name, int op, List<Trace> traces, int bits, bool acc)
    {
        var o = new JsonObject();
        if (acc)
        {
            File.WriteAllText(Path.Combine(dir, $"{name}.acc.hex"), Hex(traces.SelectMany(t => t.Acc[op]!), 64));
            o["acc"] = new JsonObject { ["hex"] = $"vectors/{name}.acc.hex", ["bits"] = 64, ["signed"] = true, ["meaning"] = "Σ w·x (+ bq with int32 bias), before requantization" };
        }
        File.WriteAllText(Path.Combine(dir, $"{name}.out.hex"), Hex(traces.SelectMany(t => t.Out[op].Select(x => (long)x)), bits));
        o["out"] = new JsonObject { ["hex"] = $"vectors/{name}.out.hex", ["bits"] = bits, ["signed"] = true, ["meaning"] = acc ? "requantized, clamped (ReLU included)" : "max-pooled" };
        return o;
    }
}
