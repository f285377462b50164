namespace QuantLab.Engine.Int;

/// <summary>Runs an <see cref="IntModel"/> over many images, batch-parallel. Each image is independent,
/// so the result does not depend on the thread count.</summary>
public static class IntegerEngine
{
    /// <param name="inputs">Quantized images, N × (C·H·W), C order.</param>
    /// <returns>The integer logits, N × classes.</returns>
    public static int[] Run(CompiledModel model, ReadOnlyMemory<short> inputs, int threads = 0)
    {
        int n = inputs.Length / model.InputSize, outSize = model.OutputSize, inSize = model.InputSize;
        var logits = new int[n * outSize];
        int workers = threads > 0 ? threads : Environment.ProcessorCount;
        int chunk = Math.Max(1, (n + workers * 8 - 1) / (workers * 8));
        Parallel.For(0, (n + chunk - 1) / chunk, new ParallelOptions { MaxDegreeOfParallelism = workers },
            () => new FastKernels.Workspace(model),
            (block, _, ws) =>
            {
                int end = Math.Min(n, (block + 1) * chunk);
                for (int i = block * chunk; i < end; i++)
                    FastKernels.Run(model, inputs.Span.Slice(i * inSize, inSize), logits.AsSpan(i * outSize, outSize), ws);
                return ws;
            },
            _ => { });
        return logits;
    }

    public static int[] Run(IntModel model, ReadOnlyMemory<short> inputs, int threads = 0) => Run(new CompiledModel(model), inputs, threads);

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
