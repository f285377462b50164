using QuantLab.Engine;
using QuantLab.Engine.Data;

namespace QuantLab.Tests.Data;

public sealed class IdxReaderTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Write(string name, byte[] bytes)
    {
        var path = _dir.Combine(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void Reads_a_raw_file()
    {
        var data = Idx.Pattern(3 * 4 * 5, seed: 1);
        var idx = IdxReader.Read(Write("images-idx3-ubyte", Idx.Bytes([3, 4, 5], data)));
        Assert.Equal([3, 4, 5], idx.Dimensions);
        Assert.Equal(3, idx.Count);
        Assert.Equal(20, idx.ItemSize);
        Assert.Equal(data, idx.Data);
    }

    [Fact]
    public void Reads_a_gzip_file_recognised_by_its_magic_bytes_not_its_name()
    {
        var data = Idx.Pattern(7, seed: 2);
        // No .gz in the name: detection must come from the content.
        var path = Write("labels-idx1-ubyte", Idx.Gzip(Idx.Bytes([7], data)));
        Assert.True(IdxReader.IsGzip(path));
        var idx = IdxReader.Read(path);
        Assert.Equal([7], idx.Dimensions);
        Assert.Equal(data, idx.Data);
    }

    [Fact]
    public void A_raw_file_named_gz_is_read_as_raw()
    {
        var data = Idx.Pattern(6, seed: 3);
        var idx = IdxReader.Read(Write("labels.gz", Idx.Bytes([6], data)));
        Assert.Equal(data, idx.Data);
    }

    [Fact]
    public void A_truncated_file_is_rejected_with_the_sizes_and_the_path()
    {
        var path = Write("train-images-idx3-ubyte", Idx.Bytes([60000, 28, 28], new byte[1200]));
        var e = Assert.Throws<BadInputException>(() => IdxReader.Read(path));
        Assert.Equal($"{path}: truncated: header says 60000×28×28 = 47040000 bytes of data, file holds 1200", e.Message);
        Assert.Equal(2, e.ExitCode);
    }

    [Fact]
    public void A_truncated_gzip_file_is_rejected()
    {
        var path = Write("t", Idx.Gzip(Idx.Bytes([10, 2], new byte[15])));
        var e = Assert.Throws<BadInputException>(() => IdxReader.Read(path));
        Assert.Contains("truncated: header says 10×2 = 20 bytes of data, decompressed file holds 15", e.Message);
        Assert.StartsWith(path, e.Message);
    }

    [Fact]
    public void Trailing_bytes_are_rejected()
    {
        var path = Write("labels", Idx.Bytes([5], new byte[6]));
        var e = Assert.Throws<BadInputException>(() => IdxReader.Read(path));
        Assert.Equal($"{path}: trailing bytes: header says 5 = 5 bytes of data, file holds 6", e.Message);
    }

    [Fact]
    public void Trailing_bytes_in_a_gzip_file_are_rejected()
    {
        var path = Write("labels", Idx.Gzip(Idx.Bytes([5], new byte[9])));
        var e = Assert.Throws<BadInputException>(() => IdxReader.Read(path));
        Assert.Contains("trailing bytes: header says 5 = 5 bytes of data, decompressed file holds 9", e.Message);
    }

    [Fact]
    public void A_wrong_magic_number_is_rejected()
    {
        var path = Write("not-idx", Idx.Bytes([4], new byte[4], magic: [0x50, 0x4b]));
        var e = Assert.Throws<BadInputException>(() => IdxReader.Read(path));
        Assert.Equal($"{path}: not an IDX file: magic number starts with 0x50 0x4b, expected 0x00 0x00", e.Message);
    }

    [Fact]
    public void A_type_other_than_unsigned_byte_is_rejected()
    {
        var path = Write("floats", Idx.Bytes([1], new byte[4], type: 0x0D));
        var e = Assert.Throws<BadInputException>(() => IdxReader.Read(path));
        Assert.Contains("unsupported IDX data type 0x0d", e.Message);
    }

    [Fact]
    public void A_header_cut_inside_the_dimensions_is_rejected()
    {
        var path = Write("short", Idx.Bytes([60000, 28, 28], [])[..10]);
        var e = Assert.Throws<BadInputException>(() => IdxReader.Read(path));
        Assert.Contains("truncated: header declares 3 dimensions", e.Message);
    }

    [Fact]
    public void A_file_shorter_than_the_header_is_rejected()
    {
        var path = Write("tiny", [0, 0]);
        var e = Assert.Throws<BadInputException>(() => IdxReader.Read(path));
        Assert.Contains("shorter than the 4-byte header", e.Message);
    }

    [Fact]
    public void Corrupt_gzip_data_is_a_bad_input_naming_the_file()
    {
        var gz = Idx.Gzip(Idx.Bytes([100], Idx.Pattern(100, seed: 4)));
        for (var i = 12; i < gz.Length - 8; i++) gz[i] ^= 0x5a;
        var path = Write("broken", gz);
        var e = Assert.Throws<BadInputException>(() => IdxReader.Read(path));
        Assert.StartsWith(path, e.Message);
    }

    [Fact]
    public void A_missing_file_is_a_bad_input_naming_the_file()
    {
        var path = _dir.Combine("absent");
        var e = Assert.Throws<BadInputException>(() => IdxReader.Read(path));
        Assert.Equal($"{path}: file not found", e.Message);
    }
}
