using QuantLab.Engine.Model;
using static TorchSharp.torch;

namespace QuantLab.Engine.Training;

/// <summary>FP32 inference over an image set.</summary>
public static class Evaluation
{
    /// <summary>The predicted class of every image (the first index of the maximum logit).</summary>
    public static int[] Predict(LeNet5 model, LabeledImages images, int chunk = 1000)
    {
        model.eval();
        var predictions = new int[images.Count];
        using var _ = no_grad();
        using var all = images.ImagesTensor();
        for (int start = 0; start < images.Count; start += chunk)
        {
            using var scope = NewDisposeScope();
            int n = Math.Min(chunk, images.Count - start);
            var logits = model.forward(all.narrow(0, start, n));
            var argmax = logits.argmax(1).data<long>().ToArray();
            for (int i = 0; i < n; i++) predictions[start + i] = (int)argmax[i];
        }
        return predictions;
    }

    public static double Accuracy(LeNet5 model, LabeledImages images) =>
        Accuracy(Predict(model, images), images.Labels);

    public static double Accuracy(int[] predictions, byte[] labels)
    {
        int correct = 0;
        for (int i = 0; i < labels.Length; i++) if (predictions[i] == labels[i]) correct++;
        return (double)correct / labels.Length;
    }
}
