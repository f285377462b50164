using QuantLab.Engine.Training;

namespace QuantLab.Engine.Data;

/// <summary>MNIST as the network reads it: normalized 32×32 images with labels.</summary>
public static class MnistImages
{
    public const string AllowedTransforms = "resize, pad";

    /// <param name="source">Where the text came from (an option, a setting, a field), named in the error.</param>
    public static InputTransform ParseTransform(string? text, string source = "input transform") => text?.Trim().ToLowerInvariant() switch
    {
        "resize" => InputTransform.Resize,
        "pad" => InputTransform.Pad,
        _ => throw new BadInputException($"{source}: '{text}' is not one of: {AllowedTransforms}"),
    };

    public static string Name(InputTransform transform) => transform == InputTransform.Pad ? "pad" : "resize";

    public static LabeledImages ToLabeledImages(MnistSplit split) => new(split.Normalized(0, split.Count), split.Labels);

    /// <summary>Loads the verified files in <paramref name="directory"/> and prepares both splits.</summary>
    public static (LabeledImages Train, LabeledImages Test) Load(string directory, InputTransform transform, Action<string>? log = null)
    {
        var dataset = MnistDataset.Load(directory, transform, log: log);
        return (ToLabeledImages(dataset.Train), ToLabeledImages(dataset.Test));
    }
}
