using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace QuantLab.Engine.Export;

/// <summary>Runs an exported ONNX model (int32 quantized images in, int32 logits out) through ONNX Runtime.</summary>
public static class OnnxRunner
{
    public const string RuntimeVersion = "1.31.1";

    /// <summary>The logits [count, classes] of <paramref name="count"/> quantized images, in batches.</summary>
    public static int[] Run(byte[] model, short[] inputs, int count, int[] imageShape, int batch = 500, int threads = 0)
    {
        using var options = new SessionOptions();
        if (threads > 0) options.IntraOpNumThreads = threads;
        // No busy-waiting between ops: on a shared machine spinning threads cost more than they save.
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        using var session = new InferenceSession(model, options);
        int per = imageShape.Aggregate(1, (a, b) => a * b);
        var result = new List<int>(count * 10);
        for (int start = 0; start < count; start += batch)
        {
            int n = Math.Min(batch, count - start);
            var data = new int[n * per];
            for (int i = 0; i < data.Length; i++) data[i] = inputs[start * per + i];
            var tensor = new DenseTensor<int>(data, new[] { n }.Concat(imageShape).ToArray());
            using var outputs = session.Run([NamedOnnxValue.CreateFromTensor(OnnxExport.InputName, tensor)]);
            result.AddRange(outputs.First().AsEnumerable<int>());
        }
        return result.ToArray();
    }

    public static int[] Run(string path, short[] inputs, int count, int[] imageShape, int batch = 500, int threads = 0) =>
        Run(File.ReadAllBytes(path), inputs, count, imageShape, batch, threads);
}
