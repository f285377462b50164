using QuantLab.Engine.Model;
using QuantLab.Engine.Quantization;

namespace QuantLab.Engine.Ptq;

/// <summary>The seed's §2.3 activation points and which one feeds each weight layer.</summary>
public static class ActivationPoints
{
    public static readonly IReadOnlyList<string> All = ["input", "conv1", "conv3", "conv5", "fc6", "output"];

    /// <summary>The point whose step is the input step s_x of <paramref name="layer"/> (max-pool and
    /// flatten keep the step of what they read).</summary>
    public static string InputOf(string layer) => layer switch
    {
        "conv1" => "input",
        "conv3" => "conv1",
        "conv5" => "conv3",
        "fc6" => "conv5",
        "output" => "fc6",
        _ => throw new ArgumentException($"no weight layer '{layer}'"),
    };

    /// <summary>Whether <paramref name="point"/> is quantized on the signed grid: the input image and a layer
    /// output without ReLU always; a ReLU output unless <see cref="ActSignedness.UnsignedAfterRelu"/>.</summary>
    public static bool Signed(string point, ActSignedness signedness) =>
        point == "input" || signedness.OutputSigned(LeNet5Architecture.Layers.Single(l => l.Name == point) is ConvSpec { Relu: true } or LinearSpec { Relu: true });

    public static IEnumerable<string> WeightLayers => LeNet5Architecture.WeightLayers.Select(l => l.Name);
}
