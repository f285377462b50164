using QuantLab.Engine.Model;
using QuantLab.Engine.Ptq;
using QuantLab.Engine.Quantization;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace QuantLab.Engine.Qat;

/// <summary>
/// The trained steps of LSQ (Esser et al., ICLR 2020, "Learned Step Size Quantization"), one float32 parameter
/// per quantizer: per weight layer (one step, or one per output channel) and per activation point. Each
/// quantizes on the grid of DESIGN.md §3 (Q_N = −qmin, Q_P = qmax: signed weights; activations signed or
/// unsigned after a ReLU) through <see cref="FakeQuant.ApplyLearned"/>, with LSQ's gradient scale
/// g = 1/√(N·Q_P): N is the layer's weight count, or an activation's features per sample.
/// Steps start at 2⟨|v|⟩/√Q_P: weight steps from the starting weights (per channel: that channel's mean),
/// activation steps from the first training batch. A learned step s is stored as the threshold T whose
/// step is s (<see cref="Quantizer.Threshold"/>), so conversion is the observe method's.
/// </summary>
public sealed class LsqSteps
{
    private readonly QuantizationConfig _config;
    // Keyed by layer and by point: the names overlap (conv1 is a layer and its output's point).
    private readonly Dictionary<string, Parameter> _weightSteps = [];
    private readonly Dictionary<string, Parameter> _activationSteps = [];
    private readonly HashSet<string> _initialized = [];

    public LsqSteps(LeNet5 module, QuantizationConfig config)
    {
        _config = config;
        var parameters = module.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var layer in ActivationPoints.WeightLayers)
        {
            using var scope = NewDisposeScope();
            var w = parameters[$"{layer}.weight"].detach();
            var perChannel = config.Granularity == Granularity.Channel;
            var meanAbs = (perChannel ? w.reshape(w.shape[0], -1) : w.reshape(1, -1)).abs().mean([1L]);
            var shape = !perChannel ? Array.Empty<long>() : w.dim() == 4 ? [w.shape[0], 1, 1, 1] : [w.shape[0], 1];
            _weightSteps[layer] = new Parameter(InitialStep(meanAbs, WeightQP).reshape(shape).MoveToOuterDisposeScope());
        }
        foreach (var point in ActivationPoints.All)
            _activationSteps[point] = new Parameter(ones(1).squeeze());   // set from the first training batch
    }

    /// <summary>Every step, for the optimizer (weight layers first, then activation points).</summary>
    public IEnumerable<Parameter> Parameters => ActivationPoints.WeightLayers.Select(l => _weightSteps[l]).Concat(ActivationPoints.All.Select(p => _activationSteps[p]));

    /// <summary>The fake-quantized weight of <paramref name="layer"/>, with gradients into the weight and its step(s).</summary>
    public Tensor QuantizeWeight(string layer, Tensor weight)
    {
        var step = _weightSteps[layer];
        return FakeQuant.ApplyLearned(weight, step, step, Quantizer.QMin(_config.WeightBits), WeightQP, _config.Rounding, GradScale(weight.numel(), WeightQP));
    }

    /// <summary>Sets the step of <paramref name="point"/> from its first training batch <paramref name="x"/>; later batches leave it to the optimizer.</summary>
    public void Initialize(string point, Tensor x)
    {
        if (!_initialized.Add(point)) return;
        using var _ = no_grad();
        using var meanAbs = x.detach().abs().mean();
        using var initial = InitialStep(meanAbs, ActivationQP(point));
        _activationSteps[point].copy_(initial);
    }

    /// <summary>The fake-quantized activation at <paramref name="point"/>, with gradients into x and the step;
    /// <paramref name="divisor"/> as in <see cref="FakeQuant.ApplyLearned"/> (the step's value, or the fixed-point requantization's).</summary>
    public Tensor QuantizeActivation(string point, Tensor x, Tensor divisor)
    {
        bool signed = ActivationPoints.Signed(point, _config.ActSignedness);
        double qp = ActivationQP(point);
        return FakeQuant.ApplyLearned(x, divisor, _activationSteps[point], Quantizer.QMin(_config.ActBits, signed), qp, _config.Rounding,
            GradScale(x.numel() / x.shape[0], qp));
    }

    /// <summary>The smallest step: SGD may push a step through zero (seen: the 2-bit signed output quantizer of
    /// W8/A2, at −0.00034), where no grid exists; a step is held at this float32 value instead, from where its
    /// gradient can raise it again (seen: one of three such runs recovered, 94.23 %). A step still at the floor when
    /// the model is read is a collapsed quantizer (seen: 9.80 %, one class, conv1's weight step at the floor): that training
    /// is reported as diverged.
    /// A step that stays above it (every other run) is untouched.</summary>
    public const float MinStep = 1e-6f;

    /// <summary>Clamps every step to at least <see cref="MinStep"/>, after each optimizer step.</summary>
    public void KeepPositive()
    {
        using var _ = no_grad();
        foreach (var step in Parameters) step.ClampMin_(MinStep);
    }

    /// <summary>The current weight steps of <paramref name="layer"/> (one, or one per output channel).</summary>
    public double[] WeightSteps(string layer) => Values(layer, _weightSteps[layer]);

    /// <summary>The current step of an activation point.</summary>
    public double ActivationStep(string point) => _initialized.Contains(point)
        ? Values(point, _activationSteps[point])[0]
        : throw new InvalidOperationException($"the step of '{point}' is set by the first training batch; run a training forward first");

    /// <summary>The weight thresholds T (Step(T) = the learned step, bit for bit) of every layer.</summary>
    public Dictionary<string, double[]> WeightThresholds() => ActivationPoints.WeightLayers.ToDictionary(l => l,
        l => WeightSteps(l).Select(s => Quantizer.Threshold(s, _config.WeightBits)).ToArray());

    /// <summary>The activation thresholds T of every point (every point must have been trained).</summary>
    public Dictionary<string, double> ActivationThresholds() => ActivationPoints.All.ToDictionary(p => p,
        p => Quantizer.Threshold(ActivationStep(p), _config.ActBits, ActivationPoints.Signed(p, _config.ActSignedness)));

    private static double[] Values(string name, Parameter step)
    {
        var values = step.detach().reshape(-1).data<float>().ToArray().Select(v => (double)v).ToArray();
        // A step at or below the floor has no useful grid; LSQ's gradient pushes a step there only when training diverges.
        if (values.Any(v => !(double.IsFinite(v) && v > MinStep)))
            throw new Training.TrainingDivergedException($"training diverged: a learned step of '{name}' collapsed to {values.First(v => !(double.IsFinite(v) && v > MinStep))} " +
                                                         $"(held at the floor {MinStep} after it crossed zero)");
        return values;
    }

    /// <summary>Weights are always signed: Q_P = 2^(n−1) − 1 (1 at 2 bits, where Q_N = 2).</summary>
    private double WeightQP => Quantizer.QMax(_config.WeightBits);

    private double ActivationQP(string point) => Quantizer.QMax(_config.ActBits, ActivationPoints.Signed(point, _config.ActSignedness));

    /// <summary>LSQ's g = 1/√(N·Q_P).</summary>
    public static double GradScale(long count, double qp) => 1 / Math.Sqrt(count * qp);

    /// <summary>LSQ's initial step 2⟨|v|⟩/√Q_P, from ⟨|v|⟩ (float32); 1 where ⟨|v|⟩ is 0 (as a threshold of 0 gives s = 1, DESIGN.md §3).</summary>
    public static Tensor InitialStep(Tensor meanAbs, double qp)
    {
        var step = meanAbs.detach().to(float32).Times((float)(2 / Math.Sqrt(qp)));
        return where(step.Above(0L), step, ones_like(step));
    }
}
