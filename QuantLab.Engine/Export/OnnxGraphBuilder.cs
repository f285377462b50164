using Google.Protobuf;
using Onnx;

namespace QuantLab.Engine.Export;

/// <summary>
/// A small helper over OnnxSharp's ONNX protobuf classes: adds nodes and constant initializers to one
/// <see cref="GraphProto"/> with unique value names. Only what the QuantLab exports need.
/// </summary>
internal sealed class OnnxGraphBuilder(string name)
{
    private int _next;

    public GraphProto Graph { get; } = new() { Name = name };

    /// <summary>A fresh value name with a readable prefix.</summary>
    public string Fresh(string prefix) => $"{prefix}_{_next++}";

    /// <summary>Adds a node and returns the name of its (single) output.</summary>
    public string Node(string op, string prefix, IEnumerable<string> inputs, params AttributeProto[] attributes)
    {
        var output = Fresh(prefix);
        var node = new NodeProto { OpType = op, Name = Fresh("n_" + op) };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        node.Attribute.AddRange(attributes);
        Graph.Node.Add(node);
        return output;
    }

    public string Node(string op, string prefix, params string[] inputs) => Node(op, prefix, (IEnumerable<string>)inputs);

    public string Cast(string input, TensorProto.Types.DataType to) => Node("Cast", "cast", [input], Int("to", (long)to));

    public static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    public static AttributeProto Float(string name, float value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public string Int64(string prefix, long[] values, params long[] dims)
    {
        var t = Tensor(prefix, TensorProto.Types.DataType.Int64, dims);
        t.Int64Data.AddRange(values);
        return Add(t);
    }

    public string Int64Scalar(string prefix, long value) => Int64(prefix, [value]);

    public string Int32(string prefix, int[] values, params long[] dims)
    {
        var t = Tensor(prefix, TensorProto.Types.DataType.Int32, dims);
        t.Int32Data.AddRange(values);
        return Add(t);
    }

    public string Double(string prefix, double[] values, params long[] dims)
    {
        var t = Tensor(prefix, TensorProto.Types.DataType.Double, dims);
        t.DoubleData.AddRange(values);
        return Add(t);
    }

    public string DoubleScalar(string prefix, double value) => Double(prefix, [value]);

    public string Float(string prefix, float[] values, params long[] dims)
    {
        var t = Tensor(prefix, TensorProto.Types.DataType.Float, dims);
        t.FloatData.AddRange(values);
        return Add(t);
    }

    public string FloatScalar(string prefix, float value) => Float(prefix, [value]);

    /// <summary>An int8 tensor (raw little-endian bytes).</summary>
    public string Int8(string prefix, short[] values, params long[] dims)
    {
        var t = Tensor(prefix, TensorProto.Types.DataType.Int8, dims);
        t.RawData = ByteString.CopyFrom(values.Select(v => unchecked((byte)checked((sbyte)v))).ToArray());
        return Add(t);
    }

    /// <summary>A uint8 tensor (raw bytes).</summary>
    public string UInt8(string prefix, byte[] values, params long[] dims)
    {
        var t = Tensor(prefix, TensorProto.Types.DataType.Uint8, dims);
        t.RawData = ByteString.CopyFrom(values);
        return Add(t);
    }

    private TensorProto Tensor(string prefix, TensorProto.Types.DataType type, long[] dims)
    {
        var t = new TensorProto { Name = Fresh(prefix), DataType = (int)type };
        t.Dims.AddRange(dims);
        return t;
    }

    private string Add(TensorProto t)
    {
        Graph.Initializer.Add(t);
        return t.Name;
    }

    /// <summary>Declares a graph input or output tensor with a symbolic batch dimension N.</summary>
    public static ValueInfoProto Value(string name, TensorProto.Types.DataType type, params long[] dimsAfterBatch)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "N" });
        foreach (var d in dimsAfterBatch) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }
}
