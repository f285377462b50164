using static TorchSharp.torch;

namespace QuantLab.Engine.Training;

/// <summary>Images ready for the network: normalized pixels [N,1,32,32] in C order, and labels 0..9.</summary>
public sealed record LabeledImages(float[] Pixels, byte[] Labels)
{
    public const int Height = 32, Width = 32, PixelsPerImage = Height * Width;

    public int Count => Labels.Length;

    public LabeledImages Take(int count) => count >= Count ? this
        : new LabeledImages(Pixels[..(count * PixelsPerImage)], Labels[..count]);

    /// <summary>All images as one tensor [N,1,32,32] (the caller disposes it).</summary>
    public Tensor ImagesTensor() => tensor(Pixels, [Count, 1, Height, Width]);

    /// <summary>All labels as one int64 tensor [N] (the caller disposes it).</summary>
    public Tensor LabelsTensor() => tensor(Labels.Select(l => (long)l).ToArray(), [Count]);
}
