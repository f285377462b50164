using System.Buffers.Binary;
using System.IO.Compression;

namespace QuantLab.Tests.Data;

/// <summary>Builds IDX file bytes for tests.</summary>
internal static class Idx
{
    public static byte[] Bytes(int[] dims, byte[] data, byte type = 0x08, byte[]? magic = null)
    {
        var result = new byte[4 + 4 * dims.Length + data.Length];
        (magic ?? [0, 0]).CopyTo(result, 0);
        result[2] = type;
        result[3] = (byte)dims.Length;
        for (var i = 0; i < dims.Length; i++)
            BinaryPrimitives.WriteInt32BigEndian(result.AsSpan(4 + 4 * i), dims[i]);
        data.CopyTo(result, 4 + 4 * dims.Length);
        return result;
    }

    public static byte[] Gzip(byte[] raw)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
            gzip.Write(raw);
        return output.ToArray();
    }

    /// <summary>Deterministic pseudo-random bytes.</summary>
    public static byte[] Pattern(int length, int seed)
    {
        var random = new Random(seed);
        var data = new byte[length];
        random.NextBytes(data);
        return data;
    }
}
