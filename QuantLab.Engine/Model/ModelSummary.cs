namespace QuantLab.Engine.Model;

/// <summary>The seed's §1.3.1 (layers, output shapes, parameters) and §1.3.2 (activation sizes) tables,
/// computed from the architecture rather than from a traced model.</summary>
public sealed record ModelSummary(
    int Batch,
    bool Bias,
    IReadOnlyList<SummaryLayer> Layers,
    IReadOnlyList<ActivationRow> Activations,
    long TotalParams,
    long MultAdds)
{
    public static ModelSummary For(bool bias, int batch = 4)
    {
        if (batch < 1) throw new BadInputException($"--batch must be at least 1 (got {batch})");
        var layers = new List<SummaryLayer>();
        var activations = new List<ActivationRow>();
        var shape = LeNet5Architecture.InputShape;
        long totalParams = 0, multAdds = 0;
        foreach (var layer in LeNet5Architecture.Layers)
        {
            var output = layer.OutputShape(shape);
            var (type, relu) = layer switch
            {
                ConvSpec c => ("Conv2d", c.Relu),
                LinearSpec l => ("Linear", l.Relu),
                MaxPoolSpec => ("MaxPool2d", false),
                _ => ("Flatten", false),
            };
            long @params = layer.Params(bias);
            totalParams += @params;
            multAdds += layer.MultAdds(shape, bias) * batch;
            layers.Add(new SummaryLayer(layer.Name, type, [batch, .. output], @params));
            if (relu) layers.Add(new SummaryLayer($"{layer.Name}.relu", "ReLU", [batch, .. output], 0));
            if (layer is not FlattenSpec)
                activations.Add(new ActivationRow(layer.Name, type, shape, output, relu ? "ReLU" : ""));
            shape = output;
        }
        return new ModelSummary(batch, bias, layers, activations, totalParams, multAdds);
    }
}

public sealed record SummaryLayer(string Name, string Type, int[] OutputShape, long Params);

public sealed record ActivationRow(string Layer, string Type, int[] InputShape, int[] OutputShape, string Activation)
{
    public static long Size(int[] shape) => shape.Aggregate(1L, (a, b) => a * b);
}
