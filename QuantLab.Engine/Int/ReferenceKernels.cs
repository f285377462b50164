using QuantLab.Engine.Quantization;

namespace QuantLab.Engine.Int;

/// <summary>
/// The plainly correct integer path: nested loops, int64 accumulators, no tricks. The fast path
/// (<see cref="SimdKernels"/>, every <see cref="KernelPath"/>) must equal it bit for bit; tests hold them together.
/// </summary>
public static class ReferenceKernels
{
    /// <summary>conv2d, stride 1, no padding, over input [Cin, H, W] → output [Cout, H−k+1, W−k+1].</summary>
    public static int[] Conv2d(IntLayer layer, ReadOnlySpan<int> input, int height, int width, RoundingMode rounding)
    {
        int k = layer.KernelSide, oh = height - k + 1, ow = width - k + 1;
        var output = new int[layer.OutChannels * oh * ow];
        for (int co = 0; co < layer.OutChannels; co++)
        for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++)
        {
            long acc = 0;
            for (int ci = 0; ci < layer.InChannels; ci++)
            for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++)
                acc += (long)layer.Weights[((co * layer.InChannels + ci) * k + ky) * k + kx] * input[(ci * height + y + ky) * width + x + kx];
            acc += layer.AccumulatorBias(co);
            output[(co * oh + y) * ow + x] = layer.RequantizerOf(co, rounding).Apply(acc);
        }
        return output;
    }

    /// <summary>Fully connected: input [in] → output [out].</summary>
    public static int[] Linear(IntLayer layer, ReadOnlySpan<int> input, RoundingMode rounding)
    {
        var output = new int[layer.OutChannels];
        for (int o = 0; o < layer.OutChannels; o++)
        {
            long acc = 0;
            for (int i = 0; i < layer.InChannels; i++)
                acc += (long)layer.Weights[o * layer.InChannels + i] * input[i];
            acc += layer.AccumulatorBias(o);
            output[o] = layer.RequantizerOf(o, rounding).Apply(acc);
        }
        return output;
    }

    /// <summary>Max-pool with window = stride = <paramref name="k"/> over [C, H, W].</summary>
    public static int[] MaxPool(ReadOnlySpan<int> input, int channels, int height, int width, int k)
    {
        int oh = height / k, ow = width / k;
        var output = new int[channels * oh * ow];
        for (int c = 0; c < channels; c++)
        for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++)
        {
            int best = int.MinValue;
            for (int dy = 0; dy < k; dy++)
            for (int dx = 0; dx < k; dx++)
                best = Math.Max(best, input[(c * height + y * k + dy) * width + x * k + dx]);
            output[(c * oh + y) * ow + x] = best;
        }
        return output;
    }

    /// <summary>The integer logits of one quantized image [C,H,W].</summary>
    public static int[] Run(IntModel model, ReadOnlySpan<short> image)
    {
        var x = new int[image.Length];
        for (int i = 0; i < x.Length; i++) x[i] = image[i];
        int c = model.InputShape[0], h = model.InputShape[1], w = model.InputShape[2];
        foreach (var op in model.Ops)
        {
            switch (op)
            {
                case IntLayer layer:
                    x = layer.Shape is Conv2dShape ? Conv2d(layer, x, h, w, model.Rounding) : Linear(layer, x, model.Rounding);
                    (c, h, w) = layer.OutputShape(c, h, w);
                    break;
                case IntMaxPool pool:
                    x = MaxPool(x, c, h, w, pool.Kernel);
                    (h, w) = (h / pool.Kernel, w / pool.Kernel);
                    break;
                case IntFlatten:
                    (c, h, w) = (c * h * w, 1, 1);
                    break;
            }
        }
        return x;
    }
}
