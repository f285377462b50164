using System.CommandLine;
using QuantLab.Engine.Model;

namespace QuantLab.Host.Cli;

/// <summary><c>quantlab model summary</c>: the seed's §1.3.1 and §1.3.2 tables.</summary>
public static class ModelCommand
{
    public static Command Create(Func<CliContext> context)
    {
        var bias = new Option<bool>("--bias") { Description = "LeNet-5 with bias in every layer (the seed's §2.5 model)" };
        var batch = new Option<int>("--batch") { Description = "Batch size of the shapes and mult-adds (the seed's table uses 4)", DefaultValueFactory = _ => 4 };
        var json = new Option<bool>("--json") { Description = "Print one JSON document: layers (name, type, outputShape, params), totalParams, multAdds, activations" };
        var summary = new Command("summary", "Layers, output shapes, parameters and mult-adds of LeNet-5 (seed §1.3.1), and activation sizes (§1.3.2)") { bias, batch, json };
        summary.SetAction(parse =>
        {
            var ctx = context();
            var s = ModelSummary.For(parse.GetValue(bias), parse.GetValue(batch));
            if (parse.GetValue(json)) ctx.WriteJson(ToJson(s));
            else Print(s, ctx.Out);
            return 0;
        });
        return new Command("model", "The LeNet-5 architecture") { summary };
    }

    public static object ToJson(ModelSummary s) => new
    {
        batch = s.Batch,
        bias = s.Bias,
        layers = s.Layers.Select(l => new { name = l.Name, type = l.Type, outputShape = l.OutputShape, @params = l.Params }),
        totalParams = s.TotalParams,
        multAdds = s.MultAdds,
        activations = s.Activations.Select(a => new
        {
            layer = a.Layer, type = a.Type, inputShape = a.InputShape, inputSize = ActivationRow.Size(a.InputShape),
            outputShape = a.OutputShape, outputSize = ActivationRow.Size(a.OutputShape), activation = a.Activation,
        }),
    };

    private static void Print(ModelSummary s, TextWriter o)
    {
        string Shape(int[] d) => "[" + string.Join(", ", d) + "]";
        o.WriteLine($"LeNet-5{(s.Bias ? " with bias" : "")}, input [{s.Batch}, 1, 32, 32]");
        o.WriteLine();
        o.WriteLine($"{"Layer",-14}{"Type",-11}{"Output shape",-20}{"Params",10}");
        o.WriteLine(new string('-', 55));
        foreach (var l in s.Layers)
            o.WriteLine($"{l.Name,-14}{l.Type,-11}{Shape(l.OutputShape),-20}{(l.Params > 0 ? l.Params.ToString("N0") : "-"),10}");
        o.WriteLine(new string('-', 55));
        o.WriteLine($"Total params: {s.TotalParams:N0}");
        o.WriteLine($"Total mult-adds: {s.MultAdds:N0} ({s.MultAdds / 1e6:F2} M)");
        o.WriteLine();
        o.WriteLine($"{"Layer",-9}{"Type",-11}{"Input (C, H, W)",-24}{"Output (C, H, W)",-24}Activation");
        o.WriteLine(new string('-', 78));
        foreach (var a in s.Activations)
        {
            string Size(int[] d) => $"({string.Join(", ", d)}) = {ActivationRow.Size(d)}";
            o.WriteLine($"{a.Layer,-9}{a.Type,-11}{Size(a.InputShape),-24}{Size(a.OutputShape),-24}{a.Activation}");
        }
    }
}
