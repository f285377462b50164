using QuantLab.Engine.Quantization;

namespace QuantLab.Engine.Int;

/// <summary>
/// An <see cref="IntModel"/> laid out for <see cref="FastKernels"/>: weights padded to whole vectors,
/// im2col gather tables, and per layer the accumulator width that the bounds allow.
/// </summary>
public sealed class CompiledModel
{
    public const int Lanes = 16; // int16 elements in a 256-bit vector

    public IntModel Model { get; }
    public IReadOnlyList<CompiledOp> Ops { get; }
    public int InputSize { get; }
    public int OutputSize { get; }
    /// <summary>The largest activation and im2col buffers any op needs (for the per-thread workspace).</summary>
    public int MaxActivation { get; }
    public int MaxColumns { get; }

    public CompiledModel(IntModel model)
    {
        Model = model;
        var ops = new List<CompiledOp>();
        int c = model.InputShape[0], h = model.InputShape[1], w = model.InputShape[2];
        InputSize = c * h * w;
        int maxActivation = InputSize, maxColumns = 0;
        int inputMin = Quantizer.QMin(model.InputBits), inputMax = Quantizer.QMax(model.InputBits);
        foreach (var op in model.Ops)
        {
            switch (op)
            {
                case IntLayer layer:
                {
                    int k = layer.IsConv ? layer.Kernel : 1;
                    int oh = layer.IsConv ? h - k + 1 : 1, ow = layer.IsConv ? w - k + 1 : 1;
                    var compiled = new CompiledLayer(layer, model.Rounding, h, w, oh, ow, inputMin, inputMax);
                    ops.Add(compiled);
                    maxColumns = Math.Max(maxColumns, compiled.Positions * compiled.PaddedFanIn);
                    (c, h, w) = (layer.OutChannels, oh, ow);
                    (inputMin, inputMax) = layer.OutputClamp;
                    break;
                }
                case IntMaxPool pool:
                    ops.Add(new CompiledPool(c, h, w, pool.Kernel));
                    (h, w) = (h / pool.Kernel, w / pool.Kernel);
                    break;
                case IntFlatten:
                    (c, h, w) = (c * h * w, 1, 1);
                    break;
            }
            maxActivation = Math.Max(maxActivation, c * h * w);
        }
        Ops = ops;
        OutputSize = c * h * w;
        MaxActivation = maxActivation;
        MaxColumns = maxColumns;
    }
}

public abstract class CompiledOp;

public sealed class CompiledPool(int channels, int height, int width, int kernel) : CompiledOp
{
    public int Channels { get; } = channels;
    public int Height { get; } = height;
    public int Width { get; } = width;
    public int Kernel { get; } = kernel;
}

public sealed class CompiledLayer : CompiledOp
{
    public IntLayer Layer { get; }
    public Requantizer[] Requantizers { get; }
    public int FanIn { get; }
    public int PaddedFanIn { get; }
    /// <summary>Output positions per channel (OH·OW; 1 for linear layers).</summary>
    public int Positions { get; }
    /// <summary>Weights [out, PaddedFanIn], zero beyond FanIn.</summary>
    public short[] PaddedWeights { get; }
    /// <summary>For output position p and tap j &lt; FanIn: the input index that multiplies weight j.</summary>
    public int[] Gather { get; }
    /// <summary>
    /// True where int32 accumulation cannot overflow. Every partial sum of Σ wq·xq (in any order, so also
    /// the pairwise sums of a multiply-add-adjacent instruction and each vector lane) is bounded by
    /// Σ|wq[c,j]| · max|xq| + |bq[c]|; we take the largest over channels c with the actual weights, and
    /// int32 is used only when that stays below 2^31. At 8×8 bits LeNet-5's worst case is about
    /// 400·127·128 ≈ 6.5·10^6; at 16×16 bits it can reach 400·32767·32768 ≈ 4.3·10^11, which needs int64.
    /// </summary>
    public bool Int32Safe { get; }
    public long AccumulatorBound { get; }

    public CompiledLayer(IntLayer layer, RoundingMode rounding, int height, int width, int outHeight, int outWidth, int inputMin, int inputMax)
    {
        Layer = layer;
        Requantizers = Enumerable.Range(0, layer.OutChannels).Select(c => layer.RequantizerOf(c, rounding)).ToArray();
        FanIn = layer.FanIn;
        PaddedFanIn = (FanIn + CompiledModel.Lanes - 1) / CompiledModel.Lanes * CompiledModel.Lanes;
        Positions = outHeight * outWidth;
        PaddedWeights = new short[layer.OutChannels * PaddedFanIn];
        for (int o = 0; o < layer.OutChannels; o++)
            Array.Copy(layer.Weights, o * FanIn, PaddedWeights, o * PaddedFanIn, FanIn);

        Gather = new int[Positions * FanIn];
        int k = layer.IsConv ? layer.Kernel : 1;
        for (int y = 0; y < outHeight; y++)
        for (int x = 0; x < outWidth; x++)
        {
            int p = y * outWidth + x, j = 0;
            if (!layer.IsConv)
            {
                for (; j < FanIn; j++) Gather[j] = j;
                continue;
            }
            for (int ci = 0; ci < layer.InChannels; ci++)
            for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++)
                Gather[p * FanIn + j++] = (ci * height + y + ky) * width + x + kx;
        }

        AccumulatorBound = Bound(layer, Math.Max(Math.Abs((long)inputMin), Math.Abs((long)inputMax)));
        Int32Safe = AccumulatorBound <= int.MaxValue;
    }

    /// <summary>max over c of Σ|wq[c,j]|·xMax + |bq[c]|: no partial sum of the accumulator exceeds it.</summary>
    public static long Bound(IntLayer layer, long xMax)
    {
        long worst = 0;
        for (int o = 0; o < layer.OutChannels; o++)
        {
            long sum = 0;
            for (int j = 0; j < layer.FanIn; j++) sum += Math.Abs((long)layer.Weights[o * layer.FanIn + j]);
            long bound = sum * xMax + (layer.Bias == BiasMode.Int32 ? Math.Abs((long)layer.BiasInt32![o]) : 0);
            worst = Math.Max(worst, bound);
        }
        return worst;
    }
}
