namespace QuantLab.Engine.Calibration;

/// <summary>
/// A calibration range. <see cref="Threshold"/> T = max(|Min|, |Max|) is what symmetric quantization uses
/// (s = 2T/(2^n − 1), DESIGN.md §3); Min and Max are kept for the range tables and plots of seed §2.1/§2.3.
/// Threshold methods (percentile, entropy, mse) report the real range clipped to [−T, T], so that
/// Threshold is again their T.
/// </summary>
public readonly record struct ObservedRange(double Min, double Max)
{
    public double Threshold => Math.Max(Math.Abs(Min), Math.Abs(Max));
}

/// <summary>
/// One range method (PyTorch AO observer style): feed it values with any number of <see cref="Observe"/>
/// calls (activations arrive batch by batch), then <see cref="Compute"/> the range. Observers are
/// deterministic: the same values in the same calls give the same range. Not thread-safe.
/// </summary>
public interface IRangeObserver
{
    /// <summary>Adds values. A NaN or infinity is a <see cref="BadInputException"/> (the model or data diverged).</summary>
    void Observe(ReadOnlySpan<float> values);

    /// <summary>The range of everything observed so far; InvalidOperationException if nothing was observed.</summary>
    ObservedRange Compute();
}

internal static class ObservedValues
{
    internal static BadInputException NonFinite() =>
        new("Calibration observed a non-finite value (NaN or infinity): the model or the data has diverged.");

    internal static InvalidOperationException Empty(string observer) =>
        new($"The {observer} observer has observed no values; call Observe before Compute.");

    /// <summary>The real range [min, max] clipped to [−T, T]. T ≤ max(|min|, |max|) keeps Threshold = T.</summary>
    internal static ObservedRange Clip(double min, double max, double threshold) =>
        new(Math.Max(min, -threshold), Math.Min(max, threshold));
}
