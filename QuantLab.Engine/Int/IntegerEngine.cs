using System.Runtime.Intrinsics;
using QuantLab.Engine.Quantization;

namespace QuantLab.Engine.Int;

/// <summary>Runs an <see cref="IntModel"/> over many images, in parallel over blocks of images. Each image's
/// logits depend on that image alone (a block's lanes never mix), so the result does not depend on the
/// thread count or the path.</summary>
public static class IntegerEngine
{
    /// <param name="inputs">Quantized images, N × (C·H·W), C order.</param>
    /// <param name="threads">Worker threads; 0 = one per core.</param>
    /// <returns>The integer logits, N × classes.</returns>
    public static int[] Run(CompiledModel model, ReadOnlyMemory<short> inputs, int threads = 0)
    {
        int n = inputs.Length / model.InputSize, outSize = model.OutputSize, inSize = model.InputSize;
        var logits = new int[n * outSize];
        int workers = threads > 0 ? threads : Environment.ProcessorCount;
        if (model.Path == KernelPath.Scalar)
        {
            Parallel.For(0, n, new ParallelOptions { MaxDegreeOfParallelism = workers },
                i => ReferenceKernels.Run(model.Model, inputs.Span.Slice(i * inSize, inSize)).CopyTo(logits, i * outSize));
            return logits;
        }

        CheckInputRange(model.Model, inputs.Span);
        int lanes = model.Lanes, blocks = (n + lanes - 1) / lanes;
        // Small chunks (4 blocks) keep the workers balanced when the machine is shared (a descheduled worker
        // holds up little). Each worker takes chunks until none is left and allocates its workspace once:
        // Parallel.For would call a local initializer again each time one of its replicas yields (every
        // 100 ms or so), so a slow or busy machine would allocate a workspace (0.3 MB at 16 lanes) per yield.
        const int chunk = 4;
        int parts = (blocks + chunk - 1) / chunk, next = -1;
        var helpers = new Task[Math.Max(0, Math.Min(workers, parts) - 1)];
        for (int i = 0; i < helpers.Length; i++) helpers[i] = Task.Run(Work);
        Work();
        Task.WaitAll(helpers);
        return logits;

        void Work()
        {
            var ws = new SimdKernels.Workspace(model);
            for (int part; (part = Interlocked.Increment(ref next)) < parts;)
            {
                int end = Math.Min(blocks, (part + 1) * chunk);
                for (int b = part * chunk; b < end; b++)
                {
                    int first = b * lanes, count = Math.Min(lanes, n - first);
                    var images = inputs.Span.Slice(first * inSize, count * inSize);
                    var output = logits.AsSpan(first * outSize, count * outSize);
                    if (model.Path == KernelPath.Avx512)
                        SimdKernels.RunBlock<Avx512Simd, Vector512<int>>(model, images, count, output, ws);
                    else
                        SimdKernels.RunBlock<Avx2Simd, Vector256<int>>(model, images, count, output, ws);
                }
            }
        }
    }

    /// <summary>
    /// The SIMD kernels' int32 bounds assume inputs on the model's input grid; an input outside it (e.g. a
    /// hand-edited export) is refused rather than risking a wrapped accumulator.
    /// </summary>
    private static void CheckInputRange(IntModel model, ReadOnlySpan<short> inputs)
    {
        short min = (short)Quantizer.QMin(model.InputBits), max = (short)Quantizer.QMax(model.InputBits);
        if (min == short.MinValue && max == short.MaxValue) return;
        var low = Vector256.Create(short.MaxValue);
        var high = Vector256.Create(short.MinValue);
        int i = 0;
        for (; i + 16 <= inputs.Length; i += 16)
        {
            var v = Vector256.Create(inputs.Slice(i, 16));
            low = Vector256.Min(low, v);
            high = Vector256.Max(high, v);
        }
        short lowest = short.MaxValue, highest = short.MinValue;
        for (int j = 0; j < 16; j++) (lowest, highest) = (Math.Min(lowest, low[j]), Math.Max(highest, high[j]));
        for (; i < inputs.Length; i++) (lowest, highest) = (Math.Min(lowest, inputs[i]), Math.Max(highest, inputs[i]));
        if (inputs.Length > 0 && (lowest < min || highest > max))
            throw new BadInputException($"input values span [{lowest}, {highest}], outside the model's {model.InputBits}-bit input grid [{min}, {max}]");
    }

    /// <summary>Compiles for the best supported path (or <paramref name="path"/>) and runs. Models whose op
    /// sequence the SIMD kernels do not cover run on the scalar reference.</summary>
    public static int[] Run(IntModel model, ReadOnlyMemory<short> inputs, int threads = 0, KernelPath? path = null)
    {
        // Compiled once on the usual path; only a model the SIMD paths refuse is asked why (an unsupported
        // machine path with a compilable model still throws).
        CompiledModel compiled;
        try
        {
            compiled = new CompiledModel(model, path);
        }
        catch (NotSupportedException) when (!CompiledModel.CanCompile(model))
        {
            compiled = new CompiledModel(model, KernelPath.Scalar);
        }
        return Run(compiled, inputs, threads);
    }

    /// <summary>The reference path over many images, one at a time (tests and cross-checks).</summary>
    public static int[] RunReference(IntModel model, ReadOnlySpan<short> inputs)
    {
        int inSize = model.InputShape.Aggregate(1, (a, b) => a * b);
        int n = inputs.Length / inSize;
        var all = new List<int>();
        for (int i = 0; i < n; i++) all.AddRange(ReferenceKernels.Run(model, inputs.Slice(i * inSize, inSize)));
        return all.ToArray();
    }

    /// <summary>Predicted class per image: the first index of the maximum logit.</summary>
    public static int[] Predictions(ReadOnlySpan<int> logits, int classes)
    {
        var predictions = new int[logits.Length / classes];
        for (int i = 0; i < predictions.Length; i++)
        {
            var row = logits.Slice(i * classes, classes);
            int best = 0;
            for (int c = 1; c < classes; c++) if (row[c] > row[best]) best = c;
            predictions[i] = best;
        }
        return predictions;
    }
}
