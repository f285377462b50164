using System.Globalization;
using QuantLab.Engine.Calibration;
using QuantLab.Engine.Quantization;

namespace QuantLab.Engine.Qat;

/// <summary>
/// Quantization-aware training settings: the quantization configuration the network trains for (the
/// same <see cref="QuantizationConfig"/> as PTQ) and the activation-range schedule. The schedule:
/// activation thresholds follow an exponential moving average (constant <see cref="EmaConstant"/>, 0.01
/// as PyTorch's moving-average observers) for the first (1 − <see cref="FreezeFraction"/>) of the
/// mini-batch steps, and are frozen for the last <see cref="FreezeFraction"/> (0.25: the last quarter),
/// so the weights finish training against the exact ranges the integer model will use.
/// Weight thresholds always follow the current weights. That is the <c>observe</c> <see cref="Method"/>;
/// under <c>lsq</c> every step is trained instead (<see cref="LsqSteps"/>) and the schedule and range
/// methods have no part.
/// </summary>
public sealed record QatOptions
{
    public const double DefaultEmaConstant = 0.01;
    public const double DefaultFreezeFraction = 0.25;

    public required QuantizationConfig Config { get; init; }
    public double EmaConstant { get; init; } = DefaultEmaConstant;
    public double FreezeFraction { get; init; } = DefaultFreezeFraction;
    public QatMethod Method { get; init; } = QatMethod.Observe;

    /// <summary>The first step (counted from 0 over all epochs) at which the activation ranges are frozen:
    /// total − ⌊total·f⌋; equal to <paramref name="totalSteps"/> (never) when f = 0.</summary>
    public long FreezeStep(long totalSteps) => totalSteps - (long)Math.Floor(totalSteps * FreezeFraction);

    /// <summary>
    /// Refuses what QAT cannot train, as a <see cref="BadInputException"/>, before any training: an invalid
    /// configuration (the PTQ rules), the <c>weights</c> scope (QAT trains for the integer path), range
    /// methods other than minmax and sigma:K (ranges are observed every mini-batch; percentile, entropy and
    /// mse are calibration-set methods; lsq refuses them too, rather than ignore a request for one), a bias
    /// mode the model cannot have, and a bad schedule.
    /// </summary>
    public QatOptions Validate(bool modelHasBias)
    {
        Config.Validate();
        if (Config.Scope != QuantScope.All)
            throw new BadInputException("QAT trains for the integer path: --scope must be all (the weights scope is a PTQ study)");
        CheckRangeMethod(Config.WeightRange, "weight", Method);
        CheckRangeMethod(Config.ActRange, "activation", Method);
        QuantizationOptions.Check(Config, modelHasBias);
        if (!(EmaConstant > 0 && EmaConstant <= 1))
            throw new BadInputException($"the activation-range averaging constant must be in (0, 1] (got {EmaConstant.ToString(CultureInfo.InvariantCulture)})");
        if (!(FreezeFraction >= 0 && FreezeFraction < 1))
            throw new BadInputException($"the frozen fraction of training must be in [0, 1) (got {FreezeFraction.ToString(CultureInfo.InvariantCulture)})");
        return this;
    }

    internal static void CheckRangeMethod(RangeMethod method, string what, QatMethod qat = QatMethod.Observe)
    {
        if (!method.Info.ObservedPerBatch && qat == QatMethod.Lsq)
            throw new BadInputException($"--qat-method lsq learns its steps and reads no calibration set: the {what} range '{method.ToOption()}' " +
                                        $"(--{(what == "weight" ? "weight" : "act")}-range) is a calibration-set method (use it with 'quantlab quantize' on an FP32 model)");
        if (!method.Info.ObservedPerBatch)
            throw new BadInputException($"QAT observes the {what} range every mini-batch and supports " +
                                        string.Join(" and ", RangeObservers.Methods.Where(m => m.ObservedPerBatch).Select(m => m.Form)) + "; " +
                                        $"'{method.ToOption()}' is a calibration-set method (use it with 'quantlab quantize' on an FP32 model)");
    }
}
