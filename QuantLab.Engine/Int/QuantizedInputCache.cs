using System.Runtime.CompilerServices;
using QuantLab.Engine.Quantization;
using QuantLab.Engine.Training;

namespace QuantLab.Engine.Int;

/// <summary>
/// The test set quantized once per input step: a sweep evaluates many configurations on the same images,
/// and those sharing (s_in, input bits, rounding) share the quantized inputs. Keyed weakly by the pixel
/// array (an image set that is collected drops its entries), then by the quantization; a few entries per
/// image set (see <see cref="EntriesPerImageSet"/>), least recently used dropped first. The arrays handed out are shared: callers must not modify them.
/// </summary>
public static class QuantizedInputCache
{
    // Up to 16 × 20 MB for the 10k test set. A sweep's jobs run in plan order, where the axes that set the input step
    // (activation range and bits, rounding) vary faster than the weight axes: the bit-width sweep cycles through 15
    // input steps per weight range. In a 600-evaluation slice of it (7 and 8 bits), 42 % of the evaluations quantized
    // the test set again with 4 entries (15 ms each, on both cores), 6.5 % with 16.
    private const int EntriesPerImageSet = 16;
    private readonly record struct Key(double Step, int Bits, RoundingMode Rounding);
    private static readonly ConditionalWeakTable<float[], List<(Key Key, short[] Inputs)>> Cache = new();

    /// <summary>The images quantized with the model's input step (q = clamp(R(x / s_in))), N × pixels per image.</summary>
    public static short[] Get(IntModel model, LabeledImages images)
    {
        var key = new Key(model.InputScale, model.InputBits, model.Rounding);
        var entries = Cache.GetOrCreateValue(images.Pixels);
        lock (entries)
        {
            int found = entries.FindIndex(e => e.Key == key);
            if (found >= 0)
            {
                var hit = entries[found];
                entries.RemoveAt(found);
                entries.Add(hit);
                return hit.Inputs;
            }
        }
        var inputs = Quantize(model, images);
        lock (entries)
        {
            // Another thread may have quantized the same images meanwhile: keep one copy.
            int found = entries.FindIndex(e => e.Key == key);
            if (found >= 0) return entries[found].Inputs;
            if (entries.Count >= EntriesPerImageSet) entries.RemoveAt(0);
            entries.Add((key, inputs));
        }
        return inputs;
    }

    private static short[] Quantize(IntModel model, LabeledImages images)
    {
        var inputs = new short[images.Pixels.Length];
        int size = images.Count == 0 ? 0 : images.Pixels.Length / images.Count;
        Parallel.For(0, images.Count, i => model.QuantizeInput(images.Pixels.AsSpan(i * size, size), inputs.AsSpan(i * size, size)));
        return inputs;
    }
}
