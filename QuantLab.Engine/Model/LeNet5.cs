using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace QuantLab.Engine.Model;

/// <summary>The FP32 LeNet-5 of <see cref="LeNet5Architecture"/> as a TorchSharp module.</summary>
/// <remarks>Parameter names (conv1.weight, …, output.bias) are those of the architecture, and are the
/// names the weight files carry.</remarks>
public sealed class LeNet5 : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d conv1, conv3, conv5;
    private readonly Linear fc6, output;

    public bool HasBias { get; }

    public LeNet5(bool bias) : base(nameof(LeNet5))
    {
        TorchRuntime.EnsureInitialized();
        HasBias = bias;
        conv1 = nn.Conv2d(1, 6, 5, bias: bias);
        conv3 = nn.Conv2d(6, 16, 5, bias: bias);
        conv5 = nn.Conv2d(16, 120, 5, bias: bias);
        fc6 = nn.Linear(120, 84, hasBias: bias);
        output = nn.Linear(84, 10, hasBias: bias);
        RegisterComponents();
    }

    /// <summary>
    /// A LeNet-5 whose initial weights come from <paramref name="seed"/> alone: a generator of its own, never
    /// torch's process-wide one, so concurrent trainings (a node's workers) cannot shift each other's weights,
    /// whatever the scheduling. The distributions and the order of the draws are torch's defaults for Conv2d and
    /// Linear (weight: kaiming_uniform_ with a = √5, i.e. U(±1/√fan_in); bias: U(±1/√fan_in), layer by layer),
    /// so a seed gives the weights torch.manual_seed(seed) followed by construction gave.
    /// </summary>
    public static LeNet5 Seeded(bool bias, int seed)
    {
        var module = new LeNet5(bias);
        using var generator = new torch.Generator((ulong)seed);
        using (no_grad())
        {
            foreach (var layer in new nn.Module[] { module.conv1, module.conv3, module.conv5, module.fc6, module.output })
            {
                var parameters = layer.named_parameters().ToDictionary(p => p.name, p => p.parameter);
                var weight = parameters["weight"];
                long fanIn = weight.shape.Skip(1).Aggregate(1L, (a, b) => a * b);
                // torch.nn.init.kaiming_uniform_(weight, a=sqrt(5)): gain = sqrt(2/(1+a²)), bound = sqrt(3)·gain/sqrt(fan_in).
                double a = Math.Sqrt(5), gain = Math.Sqrt(2.0 / (1 + a * a)), std = gain / Math.Sqrt(fanIn), bound = Math.Sqrt(3.0) * std;
                weight.uniform_(-bound, bound, generator);
                if (parameters.TryGetValue("bias", out var b))
                {
                    double biasBound = 1 / Math.Sqrt(fanIn);
                    b.uniform_(-biasBound, biasBound, generator);
                }
            }
        }
        return module;
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = nn.functional.max_pool2d(nn.functional.relu(conv1.forward(input)), 2);
        x = nn.functional.max_pool2d(nn.functional.relu(conv3.forward(x)), 2);
        x = nn.functional.relu(conv5.forward(x)).flatten(1);
        x = nn.functional.relu(fc6.forward(x));
        return output.forward(x).MoveToOuterDisposeScope();
    }

    /// <summary>The activations at the seed's §2.3 points (input, conv1, conv3, conv5, fc6, output),
    /// after each layer's ReLU, in that order. Used by calibration and the histograms.</summary>
    public IReadOnlyList<(string Point, Tensor Value)> ForwardWithActivations(Tensor input)
    {
        var c1 = nn.functional.relu(conv1.forward(input));
        var c3 = nn.functional.relu(conv3.forward(nn.functional.max_pool2d(c1, 2)));
        var c5 = nn.functional.relu(conv5.forward(nn.functional.max_pool2d(c3, 2)));
        var f6 = nn.functional.relu(fc6.forward(c5.flatten(1)));
        var o = output.forward(f6);
        return [("input", input), ("conv1", c1), ("conv3", c3), ("conv5", c5), ("fc6", f6), ("output", o)];
    }
}
