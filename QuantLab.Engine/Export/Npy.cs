using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

namespace QuantLab.Engine.Export;

/// <summary>An array read from a .npy file: its shape and its elements in C order.</summary>
public sealed record NpyArray<T>(int[] Shape, T[] Data) where T : unmanaged
{
    public long Count => Shape.Aggregate(1L, (a, b) => a * b);
}

/// <summary>
/// NumPy .npy files, format 1.0, little-endian, C order (DESIGN.md §4). Only the element types the
/// export uses: int8, uint8, int16, int32, int64, float32, float64.
/// </summary>
public static partial class Npy
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    public static string Descr<T>() where T : unmanaged => typeof(T) switch
    {
        var t when t == typeof(sbyte) => "|i1",
        var t when t == typeof(byte) => "|u1",
        var t when t == typeof(short) => "<i2",
        var t when t == typeof(int) => "<i4",
        var t when t == typeof(long) => "<i8",
        var t when t == typeof(float) => "<f4",
        var t when t == typeof(double) => "<f8",
        var t => throw new NotSupportedException($"no .npy type for {t.Name}"),
    };

    /// <summary>Writes <paramref name="data"/> with <paramref name="shape"/> to <paramref name="path"/> atomically.</summary>
    public static void Write<T>(string path, ReadOnlySpan<T> data, params int[] shape) where T : unmanaged
    {
        long count = shape.Aggregate(1L, (a, b) => a * b);
        if (count != data.Length) throw new ArgumentException($"shape [{string.Join(",", shape)}] holds {count} elements, data {data.Length}");
        var bytes = MemoryMarshal.AsBytes(data).ToArray();
        AtomicFile.Write(path, s => WriteTo(s, Descr<T>(), shape, bytes));
    }

    private static void WriteTo(Stream stream, string descr, int[] shape, byte[] payload)
    {
        var shapeText = shape.Length == 1 ? $"({shape[0]},)" : $"({string.Join(", ", shape)})";
        var header = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shapeText}, }}";
        // Magic (6) + version (2) + header length (2) + header, padded with spaces and a final '\n'
        // so the data starts on a 64-byte boundary, as NumPy itself writes.
        int total = 10 + header.Length + 1;
        int padded = (total + 63) / 64 * 64;
        header = header.PadRight(padded - 10 - 1) + "\n";
        stream.Write(Magic);
        stream.WriteByte(1);
        stream.WriteByte(0);
        stream.WriteByte((byte)(header.Length & 0xff));
        stream.WriteByte((byte)(header.Length >> 8));
        stream.Write(Encoding.ASCII.GetBytes(header));
        stream.Write(payload);
    }

    /// <summary>Reads a .npy file of element type <typeparamref name="T"/>; any mismatch is a
    /// <see cref="BadInputException"/> naming the file and the problem.</summary>
    public static NpyArray<T> Read<T>(string path) where T : unmanaged
    {
        if (!File.Exists(path)) throw new BadInputException($"{path}: file not found");
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 10 || !bytes.AsSpan(0, 6).SequenceEqual(Magic))
            throw new BadInputException($"{path}: not a .npy file (bad magic)");
        int major = bytes[6];
        int headerLength, headerStart;
        if (major == 1) { headerLength = bytes[8] | (bytes[9] << 8); headerStart = 10; }
        else if (major is 2 or 3)
        {
            // Versions 2 and 3 store the header length in four bytes, so the prefix is 12 bytes, not 10.
            if (bytes.Length < 12) throw new BadInputException($"{path}: truncated header");
            headerLength = BitConverter.ToInt32(bytes, 8); headerStart = 12;
        }
        else throw new BadInputException($"{path}: unsupported .npy version {major}");
        // As a long: a version 2/3 length read as int32 can be negative, or overflow the sum.
        if (headerLength < 0 || (long)headerStart + headerLength > bytes.Length) throw new BadInputException($"{path}: truncated header");
        var header = Encoding.ASCII.GetString(bytes, headerStart, headerLength);
        var descr = DescrPattern().Match(header);
        var fortran = FortranPattern().Match(header);
        var shapeMatch = ShapePattern().Match(header);
        if (!descr.Success || !fortran.Success || !shapeMatch.Success)
            throw new BadInputException($"{path}: malformed .npy header: {header.Trim()}");
        var expected = Descr<T>();
        var actual = descr.Groups[1].Value;
        if (actual != expected && !(actual.Length == 3 && expected.Length == 3 && actual[1..] == expected[1..] && Marshal.SizeOf<T>() == 1))
            throw new BadInputException($"{path}: element type is '{actual}', expected '{expected}'");
        if (fortran.Groups[1].Value != "False") throw new BadInputException($"{path}: Fortran order is not supported");
        var dims = shapeMatch.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var shape = new int[dims.Length];
        long count = 1;
        for (int i = 0; i < dims.Length; i++)
        {
            if (!int.TryParse(dims[i], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out shape[i]))
                throw new BadInputException($"{path}: malformed .npy shape ({shapeMatch.Groups[1].Value}): '{dims[i]}' is not a dimension (a non-negative integer)");
            count = Math.Min(count * shape[i], Array.MaxLength + 1L);   // saturates: compared with the file's size below
        }
        int dataStart = headerStart + headerLength;
        long size = count * Marshal.SizeOf<T>();
        if (bytes.Length - dataStart != size)
            throw new BadInputException($"{path}: shape [{string.Join(",", shape)}] needs {size} bytes of data, file holds {bytes.Length - dataStart}");
        var data = MemoryMarshal.Cast<byte, T>(bytes.AsSpan(dataStart)).ToArray();
        return new NpyArray<T>(shape, data);
    }

    [GeneratedRegex(@"'descr':\s*'([^']+)'")] private static partial Regex DescrPattern();
    [GeneratedRegex(@"'fortran_order':\s*(True|False)")] private static partial Regex FortranPattern();
    [GeneratedRegex(@"'shape':\s*\(([^)]*)\)")] private static partial Regex ShapePattern();
}
