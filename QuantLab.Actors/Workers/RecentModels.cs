using QuantLab.Engine.Model;

namespace QuantLab.Actors.Workers;

/// <summary>
/// The FP32 models of the last few jobs in this process, by the hashes of their files (content-addressed, so one
/// key is one model whatever store it came from). The calibrate and evaluate jobs of a sweep then share one model
/// object, and with it what <see cref="QuantLab.Engine.Ptq.ModelStatistics"/> computed from it: each FP32 forward
/// pass and range computation runs once per process instead of once per job.
/// </summary>
public static class RecentModels
{
    /// <summary>Models kept: a few, as each holds its activations on the calibration and SQNR sets (tens of MB).</summary>
    public const int Capacity = 4;

    private static readonly LinkedList<(string Key, Fp32Model Model)> Recent = new();
    private static readonly Lock Gate = new();

    public static Fp32Model GetOrLoad(IReadOnlyDictionary<string, string> modelFiles, Func<Fp32Model> load)
    {
        var key = string.Join(';', modelFiles.OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => f.Key + '=' + f.Value));
        lock (Gate)
        {
            for (var node = Recent.First; node is not null; node = node.Next)
            {
                if (node.Value.Key != key) continue;
                Recent.Remove(node);
                Recent.AddFirst(node);
                return node.Value.Model;
            }
        }
        var model = load();
        lock (Gate)
        {
            // Another job may have loaded the same model meanwhile: keep (and return) the first, so its statistics are shared.
            var existing = Recent.FirstOrDefault(r => r.Key == key);
            if (existing.Model is not null) return existing.Model;
            Recent.AddFirst((key, model));
            if (Recent.Count > Capacity) Recent.RemoveLast();
            return model;
        }
    }
}
