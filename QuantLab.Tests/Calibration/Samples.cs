namespace QuantLab.Tests.Calibration;

/// <summary>Deterministic test distributions.</summary>
internal static class Samples
{
    /// <summary>n values evenly spaced over [−a, a]: the midpoints of n equal cells, so |x| is uniform on [0, a].</summary>
    public static float[] Uniform(int n, double a)
    {
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)(-a + 2 * a * (i + 0.5) / n);
        return x;
    }

    /// <summary>n draws of N(mean, sigma²) by Box–Muller from a seeded generator.</summary>
    public static float[] Gaussian(int n, double mean, double sigma, int seed)
    {
        var random = new Random(seed);
        var x = new float[n];
        for (int i = 0; i < n; i += 2)
        {
            double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
            double r = Math.Sqrt(-2 * Math.Log(u1));
            x[i] = (float)(mean + sigma * r * Math.Cos(2 * Math.PI * u2));
            if (i + 1 < n) x[i + 1] = (float)(mean + sigma * r * Math.Sin(2 * Math.PI * u2));
        }
        return x;
    }

    /// <summary>Feeds values in batches of <paramref name="batch"/>, as activations arrive.</summary>
    public static void ObserveInBatches(this QuantLab.Engine.Calibration.IRangeObserver observer, float[] values, int batch)
    {
        for (int i = 0; i < values.Length; i += batch)
            observer.Observe(values.AsSpan(i, Math.Min(batch, values.Length - i)));
    }
}
