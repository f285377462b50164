using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Onnx;
using QuantLab.Engine.Int;
using QuantLab.Engine.Quantization;
using DataType = Onnx.TensorProto.Types.DataType;

namespace QuantLab.Engine.Export;

/// <summary>The two ONNX forms of an integer model.</summary>
public enum OnnxStyle
{
    /// <summary>Standard ops in exact arithmetic: ONNX Runtime reproduces the engine's logits bit for bit.</summary>
    Exact,

    /// <summary>QuantizeLinear/DequantizeLinear around float ops: approximate by nature (half-even, float32 multipliers).</summary>
    Qdq,
}

/// <summary>
/// Writes an <see cref="IntModel"/> as an ONNX graph (DESIGN.md §4, "Other export formats").
/// <para>
/// <b>exact</b>: the graph's input is the quantized image (int32 [N,1,32,32], the integers of
/// <c>testset/inputs.npy</c>) and its output the int32 logits [N,10]. Each conv/linear layer is an integer
/// ConvInteger/MatMulInteger (int8 × int8 → int32, no zero points) when its weights and input fit 8 bits,
/// and otherwise an int64 MatMul (convolutions as a Gather im2col followed by the MatMul), which is exact
/// for every width 2..16 (|acc| &lt; 2^41). Per-channel steps live in the requantization, after the
/// integer product. Requantization follows DESIGN.md §3 exactly:
/// float mode casts acc to double, Mul by m, Add bf, then Floor / Round (ties to even) / a half-away
/// construction from Abs, Floor, Sub, GreaterOrEqual and Sign (exact: |v| − ⌊|v|⌋ is exact in binary
/// floating point), Clip in double and Cast; fixed-point mode computes RShift(acc·M0, k) in int64 with
/// Mod/Div/Mul/Add, splitting acc at 2^s so that no product exceeds 2^62 (the bound is checked per layer
/// from the weights and the input's width; a layer beyond it is refused by name), and rounds from the
/// remainder as <see cref="Quantization.Rounding.RoundingShift(long, int, RoundingMode)"/> does.
/// </para>
/// <para>
/// <b>qdq</b>: DequantizeLinear(weights, s_w) and DequantizeLinear(activations, s) around float Conv/Gemm
/// with a float bias, QuantizeLinear(s_y) after each layer: the form runtimes fuse into their int8
/// kernels. Only for half-even rounding and widths ≤ 8 (what QuantizeLinear rounds and stores); an
/// unsigned-after-relu layer's output is uint8 (zero point 0), every other tensor int8.
/// </para>
/// </summary>
public static class OnnxExport
{
    public const string Format = "quantlab.onnx/1";
    public const int Opset = 13;
    public const string FileName = "model.onnx";
    public const string InputName = "input";
    public const string OutputName = "logits";

    public static string ToOption(this OnnxStyle style) => style == OnnxStyle.Exact ? "exact" : "qdq";

    public static OnnxStyle ParseStyle(string? text) => text?.Trim().ToLowerInvariant() switch
    {
        "exact" or null or "" => OnnxStyle.Exact,
        "qdq" => OnnxStyle.Qdq,
        _ => throw new BadInputException($"--onnx-style '{text}' is not one of: exact, qdq"),
    };

    /// <summary>Builds the ONNX model; <paramref name="quantization"/> (optional) is recorded in the metadata.</summary>
    public static ModelProto Build(IntModel model, OnnxStyle style, JsonNode? quantization = null)
    {
        var g = new OnnxGraphBuilder($"quantlab_{style.ToOption()}");
        var shape = model.InputShape;
        g.Graph.Input.Add(OnnxGraphBuilder.Value(InputName, DataType.Int32, shape.Select(d => (long)d).ToArray()));
        string logits = style == OnnxStyle.Exact ? BuildExact(g, model) : BuildQdq(g, model);
        int classes = model.Layers.Last().OutChannels;
        g.Graph.Output.Add(OnnxGraphBuilder.Value(logits, DataType.Int32, classes));

        var proto = new ModelProto
        {
            IrVersion = 8,
            ProducerName = "QuantLab",
            ProducerVersion = EngineInfo.Version,
            Domain = "quantlab",
            ModelVersion = 1,
            DocString = style == OnnxStyle.Exact
                ? "QuantLab integer LeNet-5, exact style: input int32 quantized image [N,1,32,32] (q = clamp(R(x/s_in))), output int32 logits equal to the engine's bit for bit."
                : "QuantLab integer LeNet-5, QDQ style: QuantizeLinear/DequantizeLinear around float ops; approximates the engine (see metadata quantlab.agreement in the export's summary).",
            Graph = g.Graph,
        };
        proto.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        void Meta(string key, string value) => proto.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        Meta("quantlab.format", Format);
        Meta("quantlab.onnxStyle", style.ToOption());
        Meta("quantlab.engineVersion", EngineInfo.Version);
        Meta("quantlab.exportFormat", IntExport.Format);
        Meta("quantlab.opset", Opset.ToString(CultureInfo.InvariantCulture));
        Meta("quantlab.rounding", model.Rounding.ToOption());
        Meta("quantlab.input", new JsonObject
        {
            ["name"] = InputName, ["type"] = "int32", ["shape"] = new JsonArray(shape.Select(d => (JsonNode)d).ToArray()),
            ["bits"] = model.InputBits, ["scale"] = model.InputScale,
        }.ToJsonString());
        Meta("quantlab.layers", LayerSettings(model).ToJsonString());
        if (quantization is not null) Meta("quantlab.quantization", quantization.ToJsonString());
        return proto;
    }

    /// <summary>The model's settings without its arrays (the metadata's <c>quantlab.layers</c>).</summary>
    public static JsonArray LayerSettings(IntModel model)
    {
        var layers = new JsonArray();
        foreach (var op in model.Ops)
        {
            layers.Add(op switch
            {
                IntLayer l => new JsonObject
                {
                    ["name"] = l.Name, ["op"] = l.Shape is Conv2dShape ? "conv2d" : "linear", ["inChannels"] = l.InChannels, ["outChannels"] = l.OutChannels,
                    ["kernel"] = l.KernelSide, ["weightBits"] = l.WeightBits, ["granularity"] = l.WeightScale.Length == 1 ? "tensor" : "channel",
                    ["weightScale"] = new JsonArray(l.WeightScale.Select(v => (JsonNode)v).ToArray()),
                    ["inputScale"] = l.InputScale, ["outputScale"] = l.OutputScale, ["outputBits"] = l.OutputBits, ["relu"] = l.Relu,
                    ["bias"] = l.Bias.Mode.ToString().ToLowerInvariant(),
                    ["requant"] = l.Requant.Spec.ToOption(),
                }.WithOutputSigned(l),
                IntMaxPool p => new JsonObject { ["name"] = p.Name, ["op"] = "maxpool2d", ["kernel"] = p.Kernel },
                _ => new JsonObject { ["name"] = op.Name, ["op"] = "flatten" },
            });
        }
        return layers;
    }

    // ---------------------------------------------------------------- exact

    private static string BuildExact(OnnxGraphBuilder g, IntModel model)
    {
        string x = InputName;                                          // int32 throughout between ops
        int c = model.InputShape[0], h = model.InputShape[1], w = model.InputShape[2];
        // The grid of the tensor x holds: its bits and whether it is signed (an unsigned ReLU output reaches 2^n − 1).
        var grid = new Grid(model.InputBits, true);
        foreach (var op in model.Ops)
        {
            switch (op)
            {
                case IntLayer layer:
                {
                    bool conv = layer.Shape is Conv2dShape;
                    string acc = conv ? ExactConv(g, layer, x, grid, h, w) : ExactLinear(g, layer, x, grid);
                    long[] channelShape = conv ? [1, layer.OutChannels, 1, 1] : [1, layer.OutChannels];
                    if (layer.Bias is Int32Bias bq)
                        acc = g.Node("Add", "acc_bias", acc, g.Int64($"{layer.Name}_bq", bq.Quantized.Select(v => (long)v).ToArray(), channelShape));
                    x = layer.Requant switch
                    {
                        FixedPointRequant f => FixedPointRequant(g, layer, f, model.Rounding, acc, grid, channelShape),
                        FloatRequant f => FloatRequant(g, layer, f, model.Rounding, acc, channelShape),
                        _ => throw new InvalidOperationException(layer.Requant.GetType().Name),
                    };
                    grid = new Grid(layer.OutputBits, layer.OutputSigned);
                    (c, h, w) = layer.OutputShape(c, h, w);
                    break;
                }
                case IntMaxPool pool:
                {
                    // ONNX Runtime's MaxPool has int8, uint8 and double kernels, not int32: each holds its grid's values exactly.
                    var narrow = grid.Byte ?? DataType.Double;
                    var pooled = g.Node("MaxPool", "pool", [g.Cast(x, narrow)],
                        OnnxGraphBuilder.Ints("kernel_shape", pool.Kernel, pool.Kernel), OnnxGraphBuilder.Ints("strides", pool.Kernel, pool.Kernel));
                    x = g.Cast(pooled, DataType.Int32);
                    (h, w) = (h / pool.Kernel, w / pool.Kernel);
                    break;
                }
                case IntFlatten:
                    x = g.Node("Flatten", "flat", [x], OnnxGraphBuilder.Int("axis", 1));
                    (c, h, w) = (c * h * w, 1, 1);
                    break;
            }
        }
        return Rename(g, x, OutputName);
    }

    private static string Rename(OnnxGraphBuilder g, string value, string name)
    {
        var node = new NodeProto { OpType = "Identity", Name = g.Fresh("n_output") };
        node.Input.Add(value);
        node.Output.Add(name);
        g.Graph.Node.Add(node);
        return name;
    }

    /// <summary>An activation grid: n bits, signed [−2^(n−1), 2^(n−1) − 1] or unsigned [0, 2^n − 1].</summary>
    private readonly record struct Grid(int Bits, bool Signed)
    {
        /// <summary>The largest |x| on the grid.</summary>
        public long MaxAbs => Signed ? 1L << (Bits - 1) : (1L << Bits) - 1;

        /// <summary>The 8-bit ONNX type that holds the grid exactly (int8, or uint8 for unsigned), or null above 8 bits.</summary>
        public DataType? Byte => Bits > 8 ? null : Signed ? DataType.Int8 : DataType.Uint8;
    }

    /// <summary>
    /// Whether ConvInteger / MatMulInteger (int8 weights, int8 or uint8 activations) compute the layer exactly. ONNX
    /// Runtime's uint8 × int8 kernels sum adjacent products in saturating int16 (vpmaddubsw): exact while
    /// 2·max x·128 ≤ 32,767, i.e. unsigned activations up to 7 bits (2·127·128 = 32,512); measured: 8-bit unsigned
    /// activations (up to 255) gave wrong logits. Those take the int64 path.
    /// </summary>
    private static bool Narrow(IntLayer layer, Grid input) => layer.WeightBits <= 8 && input.Byte is not null && (input.Signed || input.Bits <= 7);

    /// <summary>The int64 accumulators [N, Cout, oh, ow] of a convolution (stride 1, no padding).</summary>
    private static string ExactConv(OnnxGraphBuilder g, IntLayer layer, string x, Grid input, int h, int w)
    {
        int k = layer.KernelSide, cin = layer.InChannels, cout = layer.OutChannels, oh = h - k + 1, ow = w - k + 1;
        if (Narrow(layer, input))
        {
            var wq = g.Int8($"{layer.Name}_w", layer.Weights, cout, cin, k, k);
            var acc32 = g.Node("ConvInteger", "acc32", [g.Cast(x, input.Byte!.Value), wq], OnnxGraphBuilder.Ints("kernel_shape", k, k));
            return g.Cast(acc32, DataType.Int64);
        }
        // Wide: im2col by Gather over the flattened [C·H·W] input, then an int64 MatMul (exact).
        var indices = new long[cin * k * k * oh * ow];
        int row = 0;
        for (int ci = 0; ci < cin; ci++)
        for (int ky = 0; ky < k; ky++)
        for (int kx = 0; kx < k; kx++, row++)
        for (int y = 0; y < oh; y++)
        for (int xx = 0; xx < ow; xx++)
            indices[row * oh * ow + y * ow + xx] = (ci * h + y + ky) * w + xx + kx;
        var flat = g.Node("Reshape", "flat", g.Cast(x, DataType.Int64), g.Int64("shape", [0, -1], 2));
        var cols = g.Node("Gather", "cols", [flat, g.Int64($"{layer.Name}_im2col", indices, cin * k * k, oh * ow)], OnnxGraphBuilder.Int("axis", 1));
        var wm = g.Int64($"{layer.Name}_w", layer.Weights.Select(v => (long)v).ToArray(), cout, cin * k * k);
        var prod = g.Node("MatMul", "acc", wm, cols);                                     // [N, Cout, oh·ow]
        return g.Node("Reshape", "acc", prod, g.Int64("shape", [0, cout, oh, ow], 4));
    }

    /// <summary>The int64 accumulators [N, out] of a linear layer.</summary>
    private static string ExactLinear(OnnxGraphBuilder g, IntLayer layer, string x, Grid input)
    {
        int cin = layer.InChannels, cout = layer.OutChannels;
        var transposed = new short[cin * cout];
        for (int o = 0; o < cout; o++)
        for (int i = 0; i < cin; i++)
            transposed[i * cout + o] = layer.Weights[o * cin + i];
        if (Narrow(layer, input))
        {
            var acc32 = g.Node("MatMulInteger", "acc32", g.Cast(x, input.Byte!.Value), g.Int8($"{layer.Name}_wT", transposed, cin, cout));
            return g.Cast(acc32, DataType.Int64);
        }
        return g.Node("MatMul", "acc", g.Cast(x, DataType.Int64), g.Int64($"{layer.Name}_wT", transposed.Select(v => (long)v).ToArray(), cin, cout));
    }

    private static string ClampToInt32(OnnxGraphBuilder g, IntLayer layer, string y, bool isDouble)
    {
        var (min, max) = layer.OutputClamp;
        string clamped = isDouble
            ? g.Node("Clip", "clip", y, g.DoubleScalar("min", min), g.DoubleScalar("max", max))
            : g.Node("Min", "clip", g.Node("Max", "clip", y, g.Int64Scalar("min", min)), g.Int64Scalar("max", max));
        return g.Cast(clamped, DataType.Int32);
    }

    private static string FloatRequant(OnnxGraphBuilder g, IntLayer layer, FloatRequant requant, RoundingMode rounding, string acc, long[] channelShape)
    {
        var v = g.Node("Mul", "v", g.Cast(acc, DataType.Double), g.Double($"{layer.Name}_m", requant.Multiplier, channelShape));
        if (layer.Bias is FloatBias bf)
            v = g.Node("Add", "v", v, g.Double($"{layer.Name}_bf", bf.OverOutputStep, channelShape));
        string r = rounding switch
        {
            RoundingMode.Floor => g.Node("Floor", "r", v),
            RoundingMode.HalfEven => g.Node("Round", "r", v),                        // ties to even
            _ => HalfAway(g, v),
        };
        return ClampToInt32(g, layer, r, isDouble: true);
    }

    /// <summary>sign(v)·(⌊|v|⌋ + (|v| − ⌊|v|⌋ ≥ ½)), exact for every double.</summary>
    private static string HalfAway(OnnxGraphBuilder g, string v)
    {
        var a = g.Node("Abs", "abs", v);
        var t = g.Node("Floor", "trunc", a);
        var frac = g.Node("Sub", "frac", a, t);
        var up = g.Cast(g.Node("GreaterOrEqual", "up", frac, g.DoubleScalar("half", 0.5)), DataType.Double);
        return g.Node("Mul", "r", g.Node("Sign", "sign", v), g.Node("Add", "mag", t, up));
    }

    private const long Limit = 1L << 62;

    private static string FixedPointRequant(OnnxGraphBuilder g, IntLayer layer, FixedPointRequant requant, RoundingMode rounding, string acc, Grid input, long[] channelShape)
    {
        int n = layer.OutChannels;
        // Bound of |acc| per channel: Σ|w|·max|x| + |bq| (max|x| = 2^(b−1) signed, 2^b − 1 unsigned).
        long maxIn = input.MaxAbs;
        long maxAcc = 0;
        for (int co = 0; co < n; co++)
        {
            long sum = 0;
            for (int i = 0; i < layer.FanIn; i++) sum += Math.Abs((long)layer.Weights[co * layer.FanIn + i]) * maxIn;
            sum += Math.Abs((long)layer.AccumulatorBias(co));
            maxAcc = Math.Max(maxAcc, sum);
        }
        var m0 = new long[n];
        var divisor = new long[n];
        var half = new long[n];
        var shifts = requant.Shift;
        bool anyLeft = shifts.Any(k => k <= 0);
        int minShift = shifts.Min();
        // Split acc = ah·2^s + al (0 ≤ al < 2^s) when acc·M0 could reach 2^62; s ≤ every k.
        long maxM0 = requant.M0.Max();
        int s = anyLeft || Fits(maxAcc, maxM0) ? 0 : Math.Min(minShift, 31);
        for (int co = 0; co < n; co++)
        {
            int k = shifts[co];
            long mult = requant.M0[co];
            if (k <= 0)
            {
                if (-k >= 62 || (mult != 0 && mult > (Limit - 1) >> -k) || !Fits(maxAcc, mult << -k))
                    throw Refuse(layer, $"a left shift by {-k} of M0 = {mult} overflows 64 bits");
                (m0[co], divisor[co], half[co]) = (mult << -k, 1, 1);   // remainder 0 < half: never rounds
                continue;
            }
            if (k - s >= 62 || k > 62) throw Refuse(layer, $"shift k = {k} exceeds 62");
            m0[co] = mult;
            divisor[co] = 1L << (k - s);
            half[co] = 1L << (k - 1);
        }
        if (s == 0 && m0.Any(m => !Fits(maxAcc, m)))
            throw Refuse(layer, "acc·M0 may exceed 2^62 and the shift is too small to split");
        if (s > 0 && !Fits((maxAcc >> s) + 1, maxM0))
            throw Refuse(layer, $"(acc >> {s})·M0 may exceed 2^62");

        var M0 = g.Int64($"{layer.Name}_M0", m0, channelShape);
        string t, low = "";
        if (s == 0)
            t = g.Node("Mul", "prod", acc, M0);
        else
        {
            var twoS = g.Int64Scalar("two_s", 1L << s);
            var al = g.Node("Mod", "al", acc, twoS);                                        // in [0, 2^s)
            var ah = g.Node("Div", "ah", g.Node("Sub", "ah", acc, al), twoS);              // exact division
            var p = g.Node("Mul", "p", ah, M0);
            var l = g.Node("Mul", "l", al, M0);                                            // < 2^(s+31)
            low = g.Node("Mod", "ll", l, twoS);
            var lh = g.Node("Div", "lh", g.Node("Sub", "lh", l, low), twoS);
            t = g.Node("Add", "t", p, lh);                                                 // acc·M0 = t·2^s + low
        }
        var d = g.Int64($"{layer.Name}_2k", divisor, channelShape);
        var tm = g.Node("Mod", "tm", t, d);
        var q = g.Node("Div", "q", g.Node("Sub", "q", t, tm), d);                          // ⌊acc·M0 / 2^k⌋
        string y = q;
        if (rounding != RoundingMode.Floor)
        {
            var rem = s == 0 ? tm : g.Node("Add", "rem", g.Node("Mul", "rem", tm, g.Int64Scalar("two_s", 1L << s)), low);
            var halfT = g.Int64($"{layer.Name}_half", half, channelShape);
            var gt = g.Cast(g.Node("Greater", "gt", rem, halfT), DataType.Int64);
            var eq = g.Cast(g.Node("Equal", "eq", rem, halfT), DataType.Int64);
            var tieUp = rounding == RoundingMode.HalfAway
                ? g.Cast(g.Node("Greater", "pos", acc, g.Int64Scalar("zero", 0)), DataType.Int64)   // sign of acc·M0 (M0 ≥ 0)
                : g.Node("Mod", "odd", q, g.Int64Scalar("two", 2));
            y = g.Node("Add", "y", q, g.Node("Add", "inc", gt, g.Node("Mul", "tie", eq, tieUp)));
        }
        return ClampToInt32(g, layer, y, isDouble: false);
    }

    private static bool Fits(long maxAcc, long m0) => m0 == 0 || maxAcc <= (Limit - 1) / m0;

    private static BadInputException Refuse(IntLayer layer, string why) =>
        new($"layer {layer.Name} ({layer.WeightBits}-bit weights, fixed-point requantization): cannot be exported exactly to ONNX in 64-bit integer ops: {why}");

    // ---------------------------------------------------------------- qdq

    /// <summary>Why a model cannot take the qdq style, or null.</summary>
    public static string? QdqProblem(IntModel model)
    {
        if (model.Rounding != RoundingMode.HalfEven)
            return $"the qdq style needs half-even rounding (QuantizeLinear rounds half to even); this model rounds {model.Rounding.ToOption()}";
        var wide = new List<string>();
        if (model.InputBits > 8) wide.Add($"input {model.InputBits}");
        foreach (var l in model.Layers)
        {
            if (l.WeightBits > 8) wide.Add($"{l.Name} weights {l.WeightBits}");
            if (l.OutputBits > 8) wide.Add($"{l.Name} outputs {l.OutputBits}");
        }
        return wide.Count == 0 ? null : $"the qdq style stores int8 tensors; bit widths above 8 are not representable: {string.Join(", ", wide)} bits";
    }

    private static string BuildQdq(OnnxGraphBuilder g, IntModel model)
    {
        if (QdqProblem(model) is { } problem) throw new BadInputException(problem);
        var zero = g.Int8("zp", [0]);
        // An unsigned grid (unsigned-after-relu) is uint8 with zero point 0: its type is the zero point's. Declared at its
        // first use: ONNX Runtime warns about an initializer that no node reads.
        string? unsignedZero = null;
        // q: the 8-bit activations (int8, or uint8 after an unsigned layer); s: their step; qZero: their zero point.
        string q = g.Cast(InputName, DataType.Int8);
        double s = model.InputScale;
        string qZero = zero;
        foreach (var op in model.Ops)
        {
            switch (op)
            {
                case IntLayer layer:
                {
                    var xf = g.Node("DequantizeLinear", "xf", q, g.FloatScalar("s", (float)s), qZero);
                    int n = layer.OutChannels;
                    bool perChannel = layer.WeightScale.Length > 1;
                    long[] wShape = IntExport.WeightShape(layer).Select(d => (long)d).ToArray();
                    var wq = g.Int8($"{layer.Name}_w", layer.Weights, wShape);
                    var wf = perChannel
                        ? g.Node("DequantizeLinear", "wf", [wq, g.Float($"{layer.Name}_sw", layer.WeightScale.Select(v => (float)v).ToArray(), n),
                            g.Int8("zp", new short[n], n)], OnnxGraphBuilder.Int("axis", 0))
                        : g.Node("DequantizeLinear", "wf", wq, g.FloatScalar($"{layer.Name}_sw", (float)layer.WeightScale[0]), zero);
                    var bias = new float[n];
                    for (int co = 0; co < n; co++)
                        bias[co] = layer.Bias switch
                        {
                            Int32Bias bq => (float)(bq.Quantized[co] * layer.WeightScaleOf(co) * layer.InputScale),
                            FloatBias bf => (float)(bf.OverOutputStep[co] * layer.OutputScale),
                            _ => 0f,
                        };
                    var b = g.Float($"{layer.Name}_b", bias, n);
                    var yf = layer.Shape is Conv2dShape conv
                        ? g.Node("Conv", "yf", [xf, wf, b], OnnxGraphBuilder.Ints("kernel_shape", conv.Kernel, conv.Kernel))
                        : g.Node("Gemm", "yf", [xf, wf, b], OnnxGraphBuilder.Int("transB", 1));
                    if (layer.Relu) yf = g.Node("Relu", "relu", yf);
                    if (layer.OutputBits < 8)
                    {
                        var (min, max) = layer.OutputClamp;
                        yf = g.Node("Clip", "clip", yf, g.FloatScalar("min", (float)(min * layer.OutputScale)), g.FloatScalar("max", (float)(max * layer.OutputScale)));
                    }
                    // QuantizeLinear saturates to its type: [−128, 127] signed, [0, 255] unsigned; narrower grids were clipped above.
                    qZero = layer.OutputSigned ? zero : unsignedZero ??= g.UInt8("zpu", [0]);
                    q = g.Node("QuantizeLinear", "q", yf, g.FloatScalar("s", (float)layer.OutputScale), qZero);
                    s = layer.OutputScale;
                    break;
                }
                case IntMaxPool pool:
                    q = g.Node("MaxPool", "pool", [q], OnnxGraphBuilder.Ints("kernel_shape", pool.Kernel, pool.Kernel), OnnxGraphBuilder.Ints("strides", pool.Kernel, pool.Kernel));
                    break;
                case IntFlatten:
                    q = g.Node("Flatten", "flat", [q], OnnxGraphBuilder.Int("axis", 1));
                    break;
            }
        }
        return Rename(g, g.Cast(q, DataType.Int32), OutputName);
    }

    // ---------------------------------------------------------------- files

    /// <summary>
    /// Writes <c>model.onnx</c> and <c>testset/</c> (the quantized inputs, labels, the engine's logits, and a
    /// summary that records ONNX Runtime's agreement with the engine, measured here) through a temporary
    /// directory. Returns the agreement.
    /// </summary>
    public static OnnxAgreement Write(string directory, IntModel model, ExportedTestSet testSet, OnnxStyle style, JsonNode? quantization = null)
    {
        var proto = Build(model, style, quantization);
        var bytes = proto.ToByteArray();
        var ortLogits = OnnxRunner.Run(bytes, testSet.Inputs, testSet.Count, model.InputShape);
        var agreement = OnnxAgreement.Measure(testSet.Logits, ortLogits, testSet.Classes);
        AtomicFile.WriteDirectory(directory, tmp =>
        {
            File.WriteAllBytes(Path.Combine(tmp, FileName), bytes);
            var dir = Directory.CreateDirectory(Path.Combine(tmp, "testset")).FullName;
            var shape = new[] { testSet.Count }.Concat(model.InputShape).ToArray();
            Npy.Write<int>(Path.Combine(dir, "inputs.npy"), testSet.Inputs.Select(v => (int)v).ToArray(), shape);
            Npy.Write<byte>(Path.Combine(dir, "labels.npy"), testSet.Labels, testSet.Count);
            Npy.Write<int>(Path.Combine(dir, "logits.npy"), testSet.Logits, testSet.Count, testSet.Classes);
            var summary = new JsonObject
            {
                ["format"] = Format,
                ["onnxStyle"] = style.ToOption(),
                ["opset"] = Opset,
                ["engineVersion"] = EngineInfo.Version,
                ["accuracy"] = testSet.Accuracy,
                ["count"] = testSet.Count,
                ["predictionsSha256"] = testSet.PredictionsSha256,
                ["onnxRuntime"] = agreement.ToJson(),
            };
            File.WriteAllText(Path.Combine(dir, "summary.json"), summary.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        });
        return agreement;
    }

    /// <summary>The style recorded in an ONNX file's metadata (exact when absent).</summary>
    public static OnnxStyle StyleOf(ModelProto proto) =>
        proto.MetadataProps.FirstOrDefault(p => p.Key == "quantlab.onnxStyle")?.Value == "qdq" ? OnnxStyle.Qdq : OnnxStyle.Exact;
}

/// <summary>How ONNX Runtime's logits compare with the engine's on the same quantized inputs.</summary>
public sealed record OnnxAgreement(int Count, int PredictionsEqual, int LogitsEqual, int LogitCount, long MaxAbsLogitDifference,
    int? FirstImage, int? FirstIndex, int? Expected, int? Actual)
{
    public bool Exact => LogitsEqual == LogitCount;
    public double PredictionAgreement => Count == 0 ? 1 : (double)PredictionsEqual / Count;
    public double LogitAgreement => LogitCount == 0 ? 1 : (double)LogitsEqual / LogitCount;

    public static OnnxAgreement Measure(int[] engine, int[] onnx, int classes)
    {
        if (engine.Length != onnx.Length)
            throw new InfrastructureException($"ONNX Runtime returned {onnx.Length} logits, the engine {engine.Length}");
        int count = engine.Length / classes, logitsEqual = 0;
        long maxDiff = 0;
        int? firstImage = null, firstIndex = null, expected = null, actual = null;
        for (int i = 0; i < engine.Length; i++)
        {
            if (engine[i] == onnx[i]) { logitsEqual++; continue; }
            maxDiff = Math.Max(maxDiff, Math.Abs((long)engine[i] - onnx[i]));
            if (firstImage is null) (firstImage, firstIndex, expected, actual) = (i / classes, i % classes, engine[i], onnx[i]);
        }
        var pe = IntegerEngine.Predictions(engine, classes);
        var po = IntegerEngine.Predictions(onnx, classes);
        int predEqual = pe.Zip(po).Count(p => p.First == p.Second);
        return new(count, predEqual, logitsEqual, engine.Length, maxDiff, firstImage, firstIndex, expected, actual);
    }

    public JsonObject ToJson() => new()
    {
        ["runtime"] = "Microsoft.ML.OnnxRuntime " + OnnxRunner.RuntimeVersion,
        ["count"] = Count,
        ["predictionsEqual"] = PredictionsEqual,
        ["predictionAgreement"] = PredictionAgreement,
        ["logitsEqual"] = LogitsEqual,
        ["logitAgreement"] = LogitAgreement,
        ["maxAbsLogitDifference"] = MaxAbsLogitDifference,
        ["bitExact"] = Exact,
    };

    /// <summary>"image i, logit j: expected e, got a", or null when equal.</summary>
    public string? FirstDifference => FirstImage is null ? null : $"image {FirstImage}, logit {FirstIndex}: expected {Expected}, got {Actual}";
}
