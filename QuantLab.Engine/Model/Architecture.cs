namespace QuantLab.Engine.Model;

/// <summary>One layer of a feed-forward network over NCHW tensors (batch dimension omitted).</summary>
public abstract record LayerSpec(string Name)
{
    /// <summary>The output shape (C,H,W) or (F) for the given input shape.</summary>
    public abstract int[] OutputShape(int[] input);
    public virtual long Params(bool bias) => 0;
    /// <summary>Multiply-accumulates for one image, counted as torchinfo does: parameters × output positions.</summary>
    public virtual long MultAdds(int[] input, bool bias) => 0;
}

/// <summary>Square-kernel, stride-1, unpadded convolution, optionally followed by ReLU.</summary>
public sealed record ConvSpec(string Name, int InChannels, int OutChannels, int Kernel, bool Relu) : LayerSpec(Name)
{
    public override int[] OutputShape(int[] input) => [OutChannels, input[1] - Kernel + 1, input[2] - Kernel + 1];
    public override long Params(bool bias) => (long)OutChannels * InChannels * Kernel * Kernel + (bias ? OutChannels : 0);
    public override long MultAdds(int[] input, bool bias)
    {
        var output = OutputShape(input);
        return Params(bias) * output[1] * output[2];
    }
}

/// <summary>Max-pooling with a square window and a stride equal to the window.</summary>
public sealed record MaxPoolSpec(string Name, int Kernel) : LayerSpec(Name)
{
    public override int[] OutputShape(int[] input) => [input[0], input[1] / Kernel, input[2] / Kernel];
}

/// <summary>Flattens (C,H,W) to C·H·W features in C,H,W order.</summary>
public sealed record FlattenSpec(string Name) : LayerSpec(Name)
{
    public override int[] OutputShape(int[] input) => [input.Aggregate(1, (a, b) => a * b)];
}

/// <summary>Fully-connected layer, optionally followed by ReLU.</summary>
public sealed record LinearSpec(string Name, int InFeatures, int OutFeatures, bool Relu) : LayerSpec(Name)
{
    public override int[] OutputShape(int[] input) => [OutFeatures];
    public override long Params(bool bias) => (long)InFeatures * OutFeatures + (bias ? OutFeatures : 0);
    public override long MultAdds(int[] input, bool bias) => Params(bias);
}

/// <summary>
/// LeNet-5 as the seed's §1.3.1 builds it: max-pooling instead of subsampling, ReLU everywhere,
/// conv5 as a 5×5 convolution over the 5×5 maps (so a 120×1×1 output), no bias unless asked.
/// The names are the activation points of the seed's §2.3 (conv1, conv3, conv5, fc6, output).
/// </summary>
public static class LeNet5Architecture
{
    /// <summary>The <c>architecture</c> of the model directories QuantLab writes.</summary>
    public const string Name = "lenet5";

    public static readonly int[] InputShape = [1, 32, 32];

    public static readonly IReadOnlyList<LayerSpec> Layers =
    [
        new ConvSpec("conv1", 1, 6, 5, Relu: true),
        new MaxPoolSpec("pool2", 2),
        new ConvSpec("conv3", 6, 16, 5, Relu: true),
        new MaxPoolSpec("pool4", 2),
        new ConvSpec("conv5", 16, 120, 5, Relu: true),
        new FlattenSpec("flatten"),
        new LinearSpec("fc6", 120, 84, Relu: true),
        new LinearSpec("output", 84, 10, Relu: false),
    ];

    /// <summary>The layers that carry weights, in order: conv1, conv3, conv5, fc6, output.</summary>
    public static IEnumerable<LayerSpec> WeightLayers => Layers.Where(l => l is ConvSpec or LinearSpec);

    public const int Classes = 10;
}
