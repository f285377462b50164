using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace QuantLab.Engine.Int;

/// <summary>
/// An input array's blocks already in a compiled model's input layout (lanes = images, rows or channels paired),
/// kept with the array: a sweep runs thousands of models over the same few quantized test sets
/// (<see cref="QuantizedInputCache"/>), and staging a block (the pairing and the transpose into lanes) was 6 % of
/// an evaluation's engine time. Keyed weakly by the array (collected with it), then by layout and lanes. About
/// twice the array's size (int32 pairs): 40 MB for the 10k test set.
/// </summary>
internal static class StagedInputs
{
    private static readonly ConditionalWeakTable<short[], ConcurrentDictionary<(TensorLayout Layout, int Lanes), Lazy<int[][]>>> Cache = new();

    /// <summary>Block b of <paramref name="inputs"/> in <paramref name="model"/>'s input layout, at index b; staged
    /// on the first call for this array and layout (concurrent callers wait for that one). The blocks are shared:
    /// read only.</summary>
    public static int[][] Get(CompiledModel model, short[] inputs)
    {
        var byLayout = Cache.GetValue(inputs, _ => new());
        return byLayout.GetOrAdd((model.InputLayout, model.Lanes), _ => new Lazy<int[][]>(() => Stage(model, inputs))).Value;
    }

    private static int[][] Stage(CompiledModel model, short[] inputs)
    {
        int lanes = model.Lanes, n = inputs.Length / model.InputSize, size = model.InputSize;
        var blocks = new int[(n + lanes - 1) / lanes][];
        var pairs = new int[8 * model.InputLayout.Vectors];
        for (int b = 0; b < blocks.Length; b++)
        {
            int first = b * lanes, count = Math.Min(lanes, n - first);
            blocks[b] = new int[model.InputLayout.Vectors * lanes];
            SimdKernels.StageBlock(model.InputLayout, inputs.AsSpan(first * size, count * size), count, lanes, blocks[b], pairs);
        }
        return blocks;
    }
}
