using QuantLab.Engine.Model;

namespace QuantLab.Engine.Qat;

/// <summary>The FP32 model a QAT run fine-tunes (<c>--from</c>), checked against the run's other options.</summary>
public static class QatStart
{
    /// <summary>
    /// Loads the FP32 model directory <paramref name="directory"/>. Refused (as a <see cref="BadInputException"/>
    /// naming --from): a missing directory or manifest, a model of another format (a QAT or export directory),
    /// another architecture or parameter files of the wrong shape, a request for bias on a model without any
    /// (<paramref name="biasRequested"/>: --bias given without a mode), and an input transform other than the
    /// model's (<paramref name="inputTransform"/>, null: the model's).
    /// </summary>
    public static Fp32Model Load(string directory, bool biasRequested, string? inputTransform)
    {
        string format;
        try { format = Fp32Model.ReadFormat(directory); }
        catch (BadInputException e) { throw new BadInputException($"--from: {e.Message}", e); }
        if (format != Fp32Model.Format)
            throw new BadInputException($"--from {directory}: a '{format}' model; --from needs an FP32 model directory ('{Fp32Model.Format}', written by 'quantlab train' without --qat)");
        Fp32Model model;
        try { model = Fp32Model.Load(directory); }
        catch (BadInputException e) { throw new BadInputException($"--from: {e.Message}", e); }
        if (model.Manifest.Architecture != LeNet5Architecture.Name)
            throw new BadInputException($"--from {directory}: a model of architecture '{model.Manifest.Architecture}'; QAT trains {LeNet5Architecture.Name}");
        if (biasRequested && !model.HasBias)
            throw new BadInputException($"--from {directory} was trained without bias; drop --bias (a model's bias is fixed by its FP32 training)");
        if (inputTransform is not null && !string.Equals(inputTransform.Trim(), model.Manifest.InputTransform, StringComparison.OrdinalIgnoreCase))
            throw new BadInputException($"--from {directory} was trained with --input-transform {model.Manifest.InputTransform}, not {inputTransform}");
        return model;
    }
}
