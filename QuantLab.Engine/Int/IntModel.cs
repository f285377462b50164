using QuantLab.Engine.Model;
using QuantLab.Engine.Quantization;

namespace QuantLab.Engine.Int;

/// <summary>
/// A network quantized for the integer path of DESIGN.md §3: integers only between the input
/// quantizer and the output logits. Built by <see cref="PtqBuilder"/> (or from a QAT model), run by
/// <see cref="IntegerEngine"/>, written and read by the export format of DESIGN.md §4.
/// </summary>
public sealed record IntModel(
    RoundingMode Rounding,
    int InputBits,
    double InputScale,
    IReadOnlyList<IntOp> Ops)
{
    public int[] InputShape { get; init; } = LeNet5Architecture.InputShape;

    public IEnumerable<IntLayer> Layers => Ops.OfType<IntLayer>();

    /// <summary>Quantizes one normalized float image into the input's integers: q = clamp(R(x / s_in)).</summary>
    public void QuantizeInput(ReadOnlySpan<float> pixels, Span<short> into)
    {
        var p = new QuantParams(InputScale, InputBits, Rounding);
        for (int i = 0; i < pixels.Length; i++)
            into[i] = (short)Quantizer.Quantize(pixels[i], p);
    }
}

/// <summary>One step of the integer network.</summary>
public abstract record IntOp(string Name);

public sealed record IntMaxPool(string Name, int Kernel) : IntOp(Name);

public sealed record IntFlatten(string Name) : IntOp(Name);

/// <summary>
/// A conv2d (square kernel, stride 1, no padding) or linear layer with integer weights, integer input
/// and output, and per-output-channel requantization. Linear layers are the 1×1 case with
/// <see cref="Kernel"/> = 1 over a 1×1 map of <see cref="InChannels"/> features.
/// </summary>
public sealed record IntLayer(
    string Name,
    bool IsConv,
    int InChannels,
    int OutChannels,
    int Kernel,
    short[] Weights,            // [out, in, k, k] or [out, in], values within the weight bits
    int WeightBits,
    double[] WeightScale,       // s_w: one entry (per tensor) or one per output channel
    double InputScale,          // s_x
    double OutputScale,         // s_y
    int OutputBits,
    bool Relu,
    BiasMode Bias,
    int[]? BiasInt32,           // bq[c] = R(b[c] / (s_w[c]·s_x)), saturated (Bias = Int32)
    double[]? BiasFloat,        // bf[c] = b[c] / s_y (Bias = Float)
    RequantSpec Requant,
    double[] Multiplier,        // m[c] = s_w[c]·s_x / s_y
    long[]? FixedMultiplier,    // M0[c] (fixed-point)
    int[]? FixedShift)          // k[c] (fixed-point)
    : IntOp(Name)
{
    /// <summary>Whether the output is on the signed grid (DESIGN.md §3); false only for a ReLU output under
    /// <c>unsigned-after-relu</c>, whose integers reach 2^n − 1.</summary>
    public bool OutputSigned { get; init; } = true;

    public int FanIn => InChannels * Kernel * Kernel;

    public double WeightScaleOf(int channel) => WeightScale.Length == 1 ? WeightScale[0] : WeightScale[channel];

    public (int Min, int Max) OutputClamp => (Relu ? 0 : Quantizer.QMin(OutputBits, OutputSigned), Quantizer.QMax(OutputBits, OutputSigned));

    /// <summary>The requantizer of output channel <paramref name="channel"/> (DESIGN.md §3, "Requantizing"):
    /// accumulator (with bq added where the bias is int32) → clamped output integer.</summary>
    public Requantizer RequantizerOf(int channel, RoundingMode rounding) => Requant.IsFixedPoint
        ? Requantizer.FixedPoint(new FixedPointMultiplier(FixedMultiplier![channel], FixedShift![channel]), rounding, OutputBits, Relu, OutputSigned)
        : Requantizer.Float(Multiplier[channel], Bias == BiasMode.Float ? BiasFloat![channel] : 0.0, rounding, OutputBits, Relu, OutputSigned);
}
