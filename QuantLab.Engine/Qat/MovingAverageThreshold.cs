using QuantLab.Engine.Calibration;
using static TorchSharp.torch;

namespace QuantLab.Engine.Qat;

/// <summary>
/// The activation range of one point during QAT: an exponential moving average of the threshold each
/// mini-batch shows, T ← (1 − c)·T + c·T_batch (the first batch sets T), in double. T_batch is the
/// range method's threshold on that batch alone: max |x| for <c>minmax</c>, |mean| + K·σ (population σ)
/// for <c>sigma:K</c>, as the PTQ observers define them. Once <see cref="Freeze"/> is called the
/// threshold no longer moves (the last part of training, see <see cref="QatOptions.FreezeFraction"/>).
/// </summary>
public sealed class MovingAverageThreshold
{
    public MovingAverageThreshold(RangeMethod method, double constant, double? initial = null)
    {
        QatOptions.CheckRangeMethod(method, "activation");
        if (!(constant > 0 && constant <= 1)) throw new ArgumentOutOfRangeException(nameof(constant), constant, "The averaging constant must be in (0, 1].");
        Method = method;
        Constant = constant;
        Threshold = initial;
    }

    public RangeMethod Method { get; }
    public double Constant { get; }

    /// <summary>The current threshold; null before the first observation.</summary>
    public double? Threshold { get; private set; }

    public bool Frozen { get; private set; }

    /// <summary>Mini-batches that moved the threshold.</summary>
    public long Updates { get; private set; }

    public void Freeze() => Frozen = true;

    /// <summary>Moves the threshold towards this batch's (unless frozen). Non-finite values mean divergence.</summary>
    public void Observe(Tensor values)
    {
        if (Frozen) return;
        double batch = BatchThreshold(values, Method);
        if (!double.IsFinite(batch)) throw new Training.TrainingDivergedException($"training diverged: an activation range became {batch}");
        Threshold = Threshold is { } t ? (1 - Constant) * t + Constant * batch : batch;
        Updates++;
    }

    /// <summary>The threshold of one batch alone, by the range method (minmax or sigma:K).</summary>
    public static double BatchThreshold(Tensor values, RangeMethod method)
    {
        using var scope = NewDisposeScope();
        var v = values.detach();
        if (method.Is("minmax")) return v.abs().max().item<float>();
        var d = v.to(float64);
        double mean = d.mean().item<double>();
        double sigma = d.std(unbiased: false).item<double>();
        return Math.Abs(mean) + method.Parameter * sigma;
    }
}
