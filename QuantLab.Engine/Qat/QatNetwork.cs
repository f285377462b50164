using QuantLab.Engine.Calibration;
using QuantLab.Engine.Model;
using QuantLab.Engine.Ptq;
using QuantLab.Engine.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace QuantLab.Engine.Qat;

/// <summary>
/// LeNet-5 with fake quantization in the loop (float32, TorchSharp), for training: the same network as
/// the integer path of DESIGN.md §3, simulated with quantize–dequantize pairs:
/// the input is quantized with s_in; each layer's weights with s_w from their current range (per tensor
/// or per output channel); the bias per the bias mode (int32: to the grid of s_w·s_x; float: kept;
/// none: dropped); each layer's output (after its ReLU) with s_y, where the rounding divides by s_y under
/// float requantization and by s_w·s_x/(M0·2^(−k)) under fixed-point (so acc·M0·2^(−k) is what is rounded,
/// as the integer engine does). Gradients pass by the straight-through estimator of <see cref="FakeQuant"/>.
/// Activation thresholds come from <see cref="MovingAverageThreshold"/>s, updated only when the forward
/// is asked to observe. Under <see cref="QatMethod.Lsq"/> every step is a trained parameter of
/// <see cref="LsqSteps"/> instead (activation steps set by the first forward asked to observe), on the same grids.
/// </summary>
/// <remarks>
/// This float32 forward approximates the exact arithmetic (float32 products and sums, divisions in
/// float32); the exact model is the integer one built from the same weights and thresholds
/// (<see cref="QatModel.ToIntModel"/>), which is what every reported accuracy uses.
/// </remarks>
public sealed class QatNetwork
{
    private readonly Dictionary<string, Tensor> _parameters;

    public QatNetwork(LeNet5 module, QatOptions options, IReadOnlyDictionary<string, double>? initialThresholds = null)
    {
        Module = module;
        Options = options;
        Config = options.Config;
        _parameters = module.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
        if (options.Method == QatMethod.Lsq)
        {
            Steps = new LsqSteps(module, Config);
            Activations = new Dictionary<string, MovingAverageThreshold>();
        }
        else
        {
            Activations = ActivationPoints.All.ToDictionary(p => p,
                p => new MovingAverageThreshold(Config.ActRange, options.EmaConstant, initialThresholds?.GetValueOrDefault(p)));
        }
    }

    /// <summary>The float weights being trained (parameter names as in the model directory).</summary>
    public LeNet5 Module { get; }
    public QatOptions Options { get; }
    public QuantizationConfig Config { get; }
    /// <summary>The moving-average activation ranges (observe method; empty under lsq).</summary>
    public IReadOnlyDictionary<string, MovingAverageThreshold> Activations { get; }
    /// <summary>The trained steps (lsq method; null under observe).</summary>
    public LsqSteps? Steps { get; }

    /// <summary>What the optimizer trains besides the module's parameters: the steps under lsq.</summary>
    public IEnumerable<TorchSharp.Modules.Parameter> ExtraParameters => Steps?.Parameters ?? [];

    public void FreezeActivationRanges()
    {
        foreach (var a in Activations.Values) a.Freeze();
    }

    /// <summary>The current activation thresholds (every point must have been observed).</summary>
    public Dictionary<string, double> ActivationThresholds() => Steps?.ActivationThresholds() ?? Activations.ToDictionary(kv => kv.Key,
        kv => kv.Value.Threshold ?? throw new InvalidOperationException($"the activation range of '{kv.Key}' has not been observed yet"));

    /// <summary>The fake-quantized forward pass; <paramref name="observe"/> updates the (unfrozen) activation ranges first.</summary>
    public Tensor Forward(Tensor input, bool observe)
    {
        using var scope = NewDisposeScope();
        var x = QuantizeActivation("input", input, observe, out double sx);
        foreach (var spec in LeNet5Architecture.Layers)
        {
            switch (spec)
            {
                case MaxPoolSpec pool: x = nn.functional.max_pool2d(x, pool.Kernel); break;
                case FlattenSpec: x = x.flatten(1); break;
                case ConvSpec or LinearSpec:
                    x = Layer(spec, x, sx, observe, out sx);
                    break;
            }
        }
        return x.MoveToOuterDisposeScope();
    }

    private Tensor QuantizeActivation(string point, Tensor x, bool observe, out double step)
    {
        step = ActivationStep(point, x, observe, signed: true);
        using var s = tensor((float)step);
        return Steps is { } lsq ? lsq.QuantizeActivation(point, x, s) : FakeQuant.Apply(x, s, Config.ActBits, Config.Rounding);
    }

    /// <summary>The step of an activation point: the trained one (set from this batch if it is the first to
    /// observe), or from the moving-average threshold (moved by this batch when observing).</summary>
    private double ActivationStep(string point, Tensor x, bool observe, bool signed)
    {
        if (Steps is { } lsq)
        {
            if (observe) lsq.Initialize(point, x);
            return lsq.ActivationStep(point);
        }
        if (observe) Activations[point].Observe(x);
        return Quantizer.Step(Threshold(point), Config.ActBits, signed);
    }

    private double Threshold(string point) => Activations[point].Threshold
        ?? throw new InvalidOperationException($"the activation range of '{point}' has not been observed yet; run a training forward first");

    private Tensor Layer(LayerSpec spec, Tensor x, double sx, bool observe, out double sy)
    {
        bool conv = spec is ConvSpec;
        bool relu = spec is ConvSpec c ? c.Relu : ((LinearSpec)spec).Relu;
        var weight = _parameters[$"{spec.Name}.weight"];
        int outputs = (int)weight.shape[0];
        long[] weightShape = conv ? [outputs, 1, 1, 1] : [outputs, 1];
        long[] channelShape = conv ? [1, outputs, 1, 1] : [1, outputs];
        double[] sw;
        Tensor w;
        if (Steps is { } lsq)
        {
            w = lsq.QuantizeWeight(spec.Name, weight);
            sw = lsq.WeightSteps(spec.Name);
        }
        else
        {
            sw = WeightSteps(weight, Config);
            var swTensor = sw.Length == 1 ? tensor((float)sw[0]) : tensor(sw.Select(v => (float)v).ToArray(), weightShape);
            w = FakeQuant.Apply(weight, swTensor, Config.WeightBits, Config.Rounding);
        }

        Tensor? bias = null;
        if (_parameters.TryGetValue($"{spec.Name}.bias", out var b))
        {
            bias = Config.Bias switch
            {
                BiasMode.None => null,
                BiasMode.Float => b,
                _ => FakeQuant.Apply(b, PerChannel(sw, outputs, s => s * sx, [outputs]), PerChannel(sw, outputs, s => s * sx, [outputs]),
                    int.MinValue, int.MaxValue, Config.Rounding),
            };
        }
        var z = conv ? nn.functional.conv2d(x, w, bias) : nn.functional.linear(x, w, bias);
        if (relu) z = nn.functional.relu(z);

        // The output grid the integer model will use (PtqBuilder): unsigned after a ReLU under unsigned-after-relu.
        bool signedOutput = Config.ActSignedness.OutputSigned(relu);
        sy = ActivationStep(spec.Name, z, observe, signedOutput);
        double outStep = sy;
        var divisor = Config.Requant.IsFixedPoint
            ? PerChannel(sw, outputs, s => s * sx / FixedPointMultiplier.Derive(s * sx / outStep, Config.Requant.Precision).Value, channelShape)
            : tensor((float)sy);
        if (Steps is { } lsqOutput) return lsqOutput.QuantizeActivation(spec.Name, z, divisor);
        return FakeQuant.Apply(z, divisor, tensor((float)sy), Quantizer.QMin(Config.ActBits, signedOutput), Quantizer.QMax(Config.ActBits, signedOutput), Config.Rounding);
    }

    private static Tensor PerChannel(double[] sw, int outputs, Func<double, double> f, long[] shape) =>
        tensor(Enumerable.Range(0, outputs).Select(c => (float)f(sw.Length == 1 ? sw[0] : sw[c])).ToArray(), shape);

    /// <summary>s_w from the current weights: one step, or one per output channel (DESIGN.md §3).</summary>
    public static double[] WeightSteps(Tensor weight, QuantizationConfig config) =>
        WeightThresholds(weight, config).Select(t => double.IsFinite(t)
            ? Quantizer.Step(t, config.WeightBits)
            : throw new Training.TrainingDivergedException($"training diverged: a weight range became {t}")).ToArray();

    /// <summary>
    /// The weight thresholds of the current weights in torch (every step; cheap): max |w| for minmax (exact,
    /// the value the PTQ observer gives), |mean| + K·σ in double for sigma:K. Conversion recomputes them
    /// with the PTQ observers (<see cref="Calibrator.WeightRanges"/>), the numbers that define the model.
    /// </summary>
    public static double[] WeightThresholds(Tensor weight, QuantizationConfig config)
    {
        using var scope = NewDisposeScope();
        var w = weight.detach();
        bool perChannel = config.Granularity == Granularity.Channel;
        var flat = perChannel ? w.reshape(w.shape[0], -1) : w.reshape(1, -1);
        if (config.WeightRange.Is("minmax"))
            return flat.abs().amax([1]).data<float>().ToArray().Select(v => (double)v).ToArray();
        var d = flat.to(float64);
        var mean = d.mean([1L]);
        var sigma = d.std(1, unbiased: false);
        return mean.abs().Plus(sigma.Times(config.WeightRange.Parameter)).data<double>().ToArray();
    }
}
