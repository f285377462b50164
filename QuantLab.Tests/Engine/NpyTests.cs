using QuantLab.Engine;
using QuantLab.Engine.Export;

namespace QuantLab.Tests.Engine;

public sealed class NpyTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ql-npy-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void Arrays_round_trip_with_shape_and_type()
    {
        var path = Path.Combine(_dir, "a.npy");
        Npy.Write<sbyte>(path, new sbyte[] { -128, 0, 127, 5, -5, 1 }, 2, 3);
        var back = Npy.Read<sbyte>(path);
        Assert.Equal(new[] { 2, 3 }, back.Shape);
        Assert.Equal(new sbyte[] { -128, 0, 127, 5, -5, 1 }, back.Data);

        Npy.Write<double>(path, new[] { 1.5, -2.25 }, 2);
        Assert.Equal(new[] { 1.5, -2.25 }, Npy.Read<double>(path).Data);
    }

    [Fact]
    public void The_header_is_what_numpy_writes_and_data_starts_on_a_64_byte_boundary()
    {
        var path = Path.Combine(_dir, "b.npy");
        Npy.Write<int>(path, new[] { 1, 2, 3 }, 3);
        var bytes = File.ReadAllBytes(path);
        Assert.Equal(0x93, bytes[0]);
        Assert.Equal("NUMPY", System.Text.Encoding.ASCII.GetString(bytes, 1, 5));
        Assert.Equal(1, bytes[6]);
        int headerLength = bytes[8] | bytes[9] << 8;
        Assert.Equal(0, (10 + headerLength) % 64);
        var header = System.Text.Encoding.ASCII.GetString(bytes, 10, headerLength);
        Assert.StartsWith("{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", header);
        Assert.EndsWith("\n", header);
        Assert.Equal(10 + headerLength + 12, bytes.Length);
        Assert.Equal(2, BitConverter.ToInt32(bytes, 10 + headerLength + 4));
    }

    [Fact]
    public void A_wrong_type_or_a_truncated_file_is_refused_with_the_file_named()
    {
        var path = Path.Combine(_dir, "c.npy");
        Npy.Write<float>(path, new float[] { 1, 2, 3, 4 }, 4);
        var wrongType = Assert.Throws<BadInputException>(() => Npy.Read<int>(path));
        Assert.Contains("c.npy", wrongType.Message);
        Assert.Contains("'<f4'", wrongType.Message);

        File.WriteAllBytes(path, File.ReadAllBytes(path)[..^3]);
        var truncated = Assert.Throws<BadInputException>(() => Npy.Read<float>(path));
        Assert.Contains("needs 16 bytes", truncated.Message);
    }
}
