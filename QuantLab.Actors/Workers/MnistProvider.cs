using System.Collections.Concurrent;
using QuantLab.Engine.Data;
using QuantLab.Engine.Training;

namespace QuantLab.Actors.Workers;

/// <summary>
/// MNIST for the jobs of one process: acquired and prepared once per input transform, then shared by
/// every worker of the node (the arrays are only read).
/// </summary>
/// <param name="acquireDirectory">Gets (fetching and verifying if needed) the directory of the four IDX files.</param>
public sealed class MnistProvider(Func<string> acquireDirectory)
{
    private readonly Lazy<string> _directory = new(acquireDirectory, LazyThreadSafetyMode.ExecutionAndPublication);
    private readonly ConcurrentDictionary<InputTransform, Lazy<(LabeledImages Train, LabeledImages Test)>> _splits = new();

    /// <summary>Both splits under the named transform (<c>resize</c> or <c>pad</c>).</summary>
    public (LabeledImages Train, LabeledImages Test) Get(string transform)
    {
        var parsed = MnistImages.ParseTransform(transform);
        return _splits.GetOrAdd(parsed, t => new Lazy<(LabeledImages, LabeledImages)>(
            () => MnistImages.Load(_directory.Value, t), LazyThreadSafetyMode.ExecutionAndPublication)).Value;
    }
}
