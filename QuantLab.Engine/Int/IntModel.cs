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
    public void QuantizeInput(ReadOnlySpan<float> pixels, Span<short> into) =>
        Quantizer.Quantize(pixels, new QuantParams(InputScale, InputBits, Rounding), into);
}

/// <summary>One step of the integer network.</summary>
public abstract record IntOp(string Name);

public sealed record IntMaxPool(string Name, int Kernel) : IntOp(Name);

public sealed record IntFlatten(string Name) : IntOp(Name);

/// <summary>
/// A conv2d or linear layer with integer weights, integer input and output, and per-output-channel
/// requantization (DESIGN.md §3). What differs between the two is the type of <see cref="Shape"/>
/// (<see cref="Conv2dShape"/>, <see cref="LinearShape"/>); what differs between bias and requantization modes
/// is carried by the type of <see cref="Bias"/> and <see cref="Requant"/>, so no field is valid in one mode only.
/// </summary>
public sealed record IntLayer(string Name) : IntOp(Name)
{
    public required LayerShape Shape { get; init; }
    public required int InChannels { get; init; }
    public required int OutChannels { get; init; }
    /// <summary>[out, in, k, k] (conv) or [out, in] (linear), values within <see cref="WeightBits"/>.</summary>
    public required short[] Weights { get; init; }
    public required int WeightBits { get; init; }
    /// <summary>s_w: one entry (per tensor) or one per output channel.</summary>
    public required double[] WeightScale { get; init; }
    /// <summary>s_x.</summary>
    public required double InputScale { get; init; }
    /// <summary>s_y.</summary>
    public required double OutputScale { get; init; }
    public required int OutputBits { get; init; }
    public required bool Relu { get; init; }
    public required LayerBias Bias { get; init; }
    public required LayerRequant Requant { get; init; }

    /// <summary>Whether the output is on the signed grid (DESIGN.md §3); false only for a ReLU output under
    /// <c>unsigned-after-relu</c>, whose integers reach 2^n − 1.</summary>
    public bool OutputSigned { get; init; } = true;

    /// <summary>The side of the square kernel; 1 for a linear layer, the 1×1 case over a 1×1 map of
    /// <see cref="InChannels"/> features.</summary>
    public int KernelSide => Shape is Conv2dShape conv ? conv.Kernel : 1;

    public int FanIn => InChannels * KernelSide * KernelSide;

    /// <summary>The output's [C, H, W] for an input of [c, h, w].</summary>
    public (int C, int H, int W) OutputShape(int c, int h, int w) =>
        Shape is Conv2dShape conv ? (OutChannels, h - conv.Kernel + 1, w - conv.Kernel + 1) : (OutChannels, 1, 1);

    public double WeightScaleOf(int channel) => WeightScale.Length == 1 ? WeightScale[0] : WeightScale[channel];

    public (int Min, int Max) OutputClamp => (Relu ? 0 : Quantizer.QMin(OutputBits, OutputSigned), Quantizer.QMax(OutputBits, OutputSigned));

    /// <summary>bq[c] where the bias is int32 (added to the accumulator), else 0.</summary>
    public int AccumulatorBias(int channel) => Bias is Int32Bias b ? b.Quantized[channel] : 0;

    /// <summary>The requantizer of output channel <paramref name="channel"/> (DESIGN.md §3, "Requantizing"):
    /// accumulator (with bq added where the bias is int32) → clamped output integer.</summary>
    public Requantizer RequantizerOf(int channel, RoundingMode rounding) => Requant switch
    {
        FixedPointRequant f => Requantizer.FixedPoint(new FixedPointMultiplier(f.M0[channel], f.Shift[channel]), rounding, OutputBits, Relu, OutputSigned),
        FloatRequant f => Requantizer.Float(f.Multiplier[channel], Bias is FloatBias b ? b.OverOutputStep[channel] : 0.0, rounding, OutputBits, Relu, OutputSigned),
        _ => throw new InvalidOperationException(Requant.GetType().Name),
    };
}

/// <summary>What a layer computes over its input.</summary>
public abstract record LayerShape;

/// <summary>conv2d, square kernel, stride 1, no padding: [Cin, H, W] → [Cout, H−k+1, W−k+1].</summary>
public sealed record Conv2dShape(int Kernel) : LayerShape;

/// <summary>Fully connected: [in] → [out].</summary>
public sealed record LinearShape : LayerShape
{
    public static readonly LinearShape Instance = new();
}

/// <summary>A layer's bias as the integer path uses it (DESIGN.md §3, bias modes).</summary>
public abstract record LayerBias
{
    public abstract BiasMode Mode { get; }
}

public sealed record NoBias : LayerBias
{
    public static readonly NoBias Instance = new();
    public override BiasMode Mode => BiasMode.None;
}

/// <summary>bq[c] = R(b[c] / (s_w[c]·s_x)), saturated to int32, added to the accumulator.</summary>
public sealed record Int32Bias(int[] Quantized) : LayerBias
{
    public override BiasMode Mode => BiasMode.Int32;
}

/// <summary>bf[c] = b[c] / s_y, added after the multiplier in float requantization (never with fixed-point).</summary>
public sealed record FloatBias(double[] OverOutputStep) : LayerBias
{
    public override BiasMode Mode => BiasMode.Float;
}

/// <summary>A layer's requantization multipliers, one per output channel (DESIGN.md §3, "Requantizing").</summary>
public abstract record LayerRequant
{
    public abstract RequantSpec Spec { get; }
}

/// <summary>m[c] = s_w[c]·s_x / s_y in double.</summary>
public sealed record FloatRequant(double[] Multiplier) : LayerRequant
{
    public override RequantSpec Spec => RequantSpec.Float;
}

/// <summary>m[c] ≈ M0[c]·2^−k[c], M0 of <paramref name="Precision"/> bits.</summary>
public sealed record FixedPointRequant(int Precision, long[] M0, int[] Shift) : LayerRequant
{
    public override RequantSpec Spec => RequantSpec.FixedPoint(Precision);

    /// <summary>M0[c]·2^−k[c], the multiplier it represents.</summary>
    public double MultiplierOf(int channel) => M0[channel] * Math.Pow(2, -Shift[channel]);
}
