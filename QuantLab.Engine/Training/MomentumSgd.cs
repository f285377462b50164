using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace QuantLab.Engine.Training;

/// <summary>
/// SGD with momentum as PyTorch defines it (no dampening, weight decay or Nesterov): the first step sets
/// buf ← g, later steps buf ← momentum·buf + g, and every step p ← p − lr·buf. The same tensor operations,
/// in the same order and with the same Scalar types, as TorchSharp's <c>optim.SGD</c>, so the weights are
/// bit for bit the same (a test trains with both).
/// </summary>
/// <remarks>
/// Why not <c>optim.SGD</c>: its step passes momentum, 1 and −lr as temporary Scalars, which a collection
/// can finalize while libtorch reads them (see <see cref="ScalarOps"/>; seen as "Expected false to be true"
/// in <c>Scalar::toFloat</c> during QAT tests). Here the three Scalars live as long as the optimizer.
/// </remarks>
public sealed class MomentumSgd : IDisposable
{
    private readonly Parameter[] _parameters;
    private readonly Tensor?[] _buffers;
    private readonly Scalar _momentum, _one, _minusLr;
    private readonly bool _hasMomentum;

    public MomentumSgd(IEnumerable<Parameter> parameters, double lr, double momentum)
    {
        _parameters = parameters.ToArray();
        _buffers = new Tensor?[_parameters.Length];
        _hasMomentum = momentum != 0;
        _momentum = momentum;
        _one = 1.0;
        _minusLr = -lr;
    }

    /// <summary>Zeroes every gradient (before the next backward pass accumulates into it).</summary>
    public void ZeroGrad()
    {
        foreach (var p in _parameters)
        {
            using var grad = p.grad;
            grad?.zero_();
        }
    }

    /// <summary>One update of every parameter from its gradient (parameters without one are left alone).</summary>
    public void Step()
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        for (int i = 0; i < _parameters.Length; i++)
        {
            var grad = _parameters[i].grad;
            if (grad is null) continue;
            if (_hasMomentum)
            {
                if (_buffers[i] is { } buf) buf.mul_(_momentum).add_(grad, _one);
                else _buffers[i] = grad.clone().detach().DetachFromDisposeScope();
                grad = _buffers[i]!;
            }
            _parameters[i].add_(grad, _minusLr);
        }
    }

    public void Dispose()
    {
        foreach (var buf in _buffers) buf?.Dispose();
        _momentum.Dispose();
        _one.Dispose();
        _minusLr.Dispose();
    }
}
