using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using QuantLab.Engine;
using QuantLab.Engine.Export;
using QuantLab.Engine.Jobs;
using QuantLab.Engine.Model;
using QuantLab.Engine.Ptq;
using QuantLab.Engine.Qat;
using QuantLab.Engine.Quantization;
using QuantLab.Engine.Reports;
using QuantLab.Host.Output;

namespace QuantLab.Host.Cli;

/// <summary><c>quantlab quantize</c>: one calibration + quantization + evaluation by hand, optionally
/// writing the export format (DESIGN.md §4) and the seed's §2.1/§2.3 range report.</summary>
public static class QuantizeCommand
{
    public static Command Create(Func<CliContext> context)
    {
        var flags = new QuantizationFlags();
        var model = new Option<string>("--model") { Description = "Directory of a trained model (written by 'quantlab train --out'); a QAT model (train --qat) converts with its learned ranges, no calibration", Required = true };
        var output = new Option<string?>("--out") { Description = "Write the quantized model in the export format (model.json, .npy arrays, testset/); needs --scope all" };
        var report = new Option<string?>("--report") { Description = "Write weight and activation histograms (PNG) and the 3-sigma vs real range table (ranges.md, ranges.csv)" };
        var calibration = new Option<string?>(QuantizationOptions.Calibration.Flag) { Description = $"{QuantizationOptions.Calibration.Description} (default {QuantizationOptions.Calibration.Default})" };
        var threads = new Option<int>("--threads") { Description = "Threads of the integer engine (0: all cores); results do not depend on it", DefaultValueFactory = _ => 0 };
        var data = DataCommand.DataDirOption();
        var json = new Option<bool>("--json") { Description = "Print one JSON document: accuracy, fp32Accuracy, agreement (fractions), predictionsSha256, the configuration, …" };

        var command = new Command("quantize", "Calibrate, quantize and evaluate a trained model (post-training quantization, seed §2)")
        {
            model, output, report, calibration, threads, data, json,
        };
        foreach (var option in flags.All) command.Add(option);
        command.SetAction(parse =>
        {
            var ctx = context();
            var modelDir = parse.GetValue(model)!;
            QatModel? qat = null;
            Fp32Model fp32;
            QuantizationConfig config;
            if (Fp32Model.ReadFormat(modelDir) == QatModel.Format)
            {
                // A QAT model converts with its learned ranges: only the requantization may differ from training.
                qat = QatModel.Load(modelDir);
                fp32 = qat.Weights;
                var conflicts = flags.Conflicts(parse, qat.Config, QuantizationOptions.Requant);
                if (conflicts.Count > 0)
                    throw new BadInputException($"{modelDir} is a QAT model trained for {QuantizationOptions.Describe(qat.Config)}; its learned ranges fix {string.Join(", ", conflicts)} (only --requant may change at conversion)");
                if (parse.GetResult(calibration) is { Implicit: false })
                    throw new BadInputException($"--calibration does not apply: {modelDir} is a QAT model, converted with its learned ranges (no calibration)");
                config = flags.Value(parse, QuantizationOptions.Requant) is { } requant
                    ? (qat.Config with { Requant = RequantSpec.Parse(requant) }).Validate()
                    : qat.Config;
            }
            else
            {
                fp32 = Fp32Model.Load(modelDir);
                config = flags.Read(parse, fp32.HasBias);
            }
            int calibrationImages = int.Parse(QuantizationOptions.Calibration.Canonical(parse.GetValue(calibration) ?? QuantizationOptions.Calibration.Default!), System.Globalization.CultureInfo.InvariantCulture);
            var outDir = parse.GetValue(output);
            var reportDir = parse.GetValue(report);
            if (outDir is not null && config.Scope != QuantScope.All)
                throw new BadInputException("--out writes the integer export format, which needs --scope all (the weights scope runs in float)");
            if (outDir is not null) DataCommand.EnsureWritableParent(outDir);
            if (reportDir is not null) DataCommand.EnsureWritableParent(reportDir);
            bool asJson = parse.GetValue(json);
            Action<string> log = ctx.Err.WriteLine;
            var dataset = DataAccess.Load(ctx, parse.GetValue(data), fp32.Manifest.InputTransform, log);

            // The same records and entry points as a campaign's calibrate and evaluate jobs; the model's
            // reference is its directory instead of a training's key.
            var selection = new DataSelection(fp32.Manifest.InputTransform);
            var modelRef = Path.GetFullPath(modelDir);
            QuantizeResult result;
            int threadCount = parse.GetValue(threads);
            if (qat is null)
            {
                var calibrate = CalibrateJob.For(modelRef, config, calibrationImages, selection.InputTransform);
                if (calibrate.Ranges.CalibrationImages is { } n) log($"calibrating on {n} training images (weights: {config.WeightRange.ToOption()}, activations: {config.ActRange.ToOption()})");
                var ranges = JobExecution.Calibrate(calibrate, fp32, dataset.Train).Ranges;
                result = JobExecution.Evaluate(EvaluateJob.Ptq(modelRef, calibrate, "local", config, selection), fp32, ranges, dataset.Test, threadCount).Result;
            }
            else result = JobExecution.Evaluate(EvaluateJob.Qat(modelRef, config, selection), qat, dataset.Test, threadCount).Result;
            if (outDir is not null)
            {
                IntExport.Write(outDir, result.IntModel!, result.TestSet, new JsonObject
                {
                    ["inputTransform"] = fp32.Manifest.InputTransform,
                    ["quantization"] = JsonSerializer.SerializeToNode(ConfigJson(config), JsonOutput.Options),
                    ["source"] = Path.GetFullPath(modelDir),
                    ["ranges"] = qat is null ? "calibration" : "qat",
                });
                log($"export written to {Path.GetFullPath(outDir)}");
            }
            if (reportDir is not null)
            {
                RangeReport.Write(reportDir, fp32, Calibrator.Sample(dataset.Train, calibrationImages));
                log($"range report written to {Path.GetFullPath(reportDir)}");
            }

            if (asJson)
            {
                ctx.WriteJson(new
                {
                    accuracy = result.Accuracy,
                    fp32Accuracy = result.Fp32Accuracy,
                    agreement = result.Agreement,
                    predictionsSha256 = result.PredictionsSha256,
                    perClassAccuracy = result.PerClassAccuracy,
                    quantization = ConfigJson(config),
                    calibrationImages = result.CalibrationImages,
                    weightSqnrDb = result.WeightSqnrDb,
                    activationSqnrDb = result.ActivationSqnrDb,
                    ranges = qat is null ? "calibration" : "qat",
                    seconds = result.Seconds,
                    @out = outDir is null ? null : Path.GetFullPath(outDir),
                    report = reportDir is null ? null : Path.GetFullPath(reportDir),
                });
            }
            else
            {
                ctx.Out.WriteLine($"Quantization: {QuantizationOptions.Describe(config)}");
                ctx.Out.WriteLine($"Accuracy: {result.Accuracy * 100:F2}% (FP32 {result.Fp32Accuracy * 100:F2}%, agreement with FP32 {result.Agreement * 100:F2}%)");
                ctx.Out.WriteLine($"Predictions SHA-256: {result.PredictionsSha256}");
            }
            return 0;
        });
        return command;
    }

    public static object ConfigJson(QuantizationConfig c) => QuantizationSettings.From(c);
}
