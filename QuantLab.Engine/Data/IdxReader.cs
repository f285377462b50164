using System.IO.Compression;

namespace QuantLab.Engine.Data;

/// <summary>The contents of an IDX file of unsigned bytes: its dimensions and its data in row-major order.</summary>
public sealed class IdxFile(int[] dimensions, byte[] data)
{
    public IReadOnlyList<int> Dimensions { get; } = dimensions;

    /// <summary>The data, exactly the product of <see cref="Dimensions"/> bytes long.</summary>
    public byte[] Data { get; } = data;

    /// <summary>The first dimension: the number of items (images, labels).</summary>
    public int Count => Dimensions[0];

    /// <summary>Bytes per item: the product of every dimension after the first.</summary>
    public int ItemSize
    {
        get
        {
            var size = 1;
            for (var i = 1; i < Dimensions.Count; i++) size *= Dimensions[i];
            return size;
        }
    }
}

/// <summary>
/// Reads IDX files (the format of the MNIST distribution), raw or gzip-compressed. Compression is
/// recognised by the gzip magic bytes, not by the file name, because mirrors and users rename files.
/// </summary>
/// <remarks>
/// Layout: two zero bytes, a type byte (only 0x08, unsigned byte, is supported), the number of
/// dimensions, then each dimension as a big-endian int32, then the data. The data must be exactly
/// as long as the dimensions say: a short file is a broken download, a long one is not the file we
/// think it is.
/// </remarks>
public static class IdxReader
{
    private const byte UnsignedByteType = 0x08;

    /// <summary>True when the file starts with the gzip magic bytes 1f 8b.</summary>
    public static bool IsGzip(string path)
    {
        using var stream = File.OpenRead(path);
        return IsGzip(stream);
    }

    internal static bool IsGzip(Stream seekable)
    {
        Span<byte> magic = stackalloc byte[2];
        var start = seekable.Position;
        var read = seekable.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
        seekable.Position = start;
        return read == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    }

    /// <summary>Opens a file for reading its uncompressed content, decompressing it if it is gzip.</summary>
    public static Stream OpenContent(string path)
    {
        var file = File.OpenRead(path);
        if (!IsGzip(file)) return file;
        return new GZipStream(file, CompressionMode.Decompress);
    }

    /// <summary>Reads and validates an IDX file.</summary>
    /// <exception cref="BadInputException">The file is missing, unreadable, or not a well-formed IDX file of unsigned bytes.</exception>
    public static IdxFile Read(string path)
    {
        try
        {
            using var file = File.OpenRead(path);
            var gzip = IsGzip(file);
            using var content = gzip ? new GZipStream(file, CompressionMode.Decompress) : (Stream)file;
            return Read(content, path, gzip ? null : file.Length);
        }
        catch (FileNotFoundException)
        {
            throw new BadInputException($"{path}: file not found");
        }
        catch (DirectoryNotFoundException)
        {
            throw new BadInputException($"{path}: file not found");
        }
        catch (InvalidDataException e)
        {
            throw new BadInputException($"{path}: corrupt gzip data: {e.Message}", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new BadInputException($"{path}: cannot read: {e.Message}", e);
        }
    }

    /// <param name="content">The uncompressed content.</param>
    /// <param name="name">Names the file in error messages.</param>
    /// <param name="length">The content's length when known (lets a raw file be checked before its data is allocated).</param>
    internal static IdxFile Read(Stream content, string name, long? length)
    {
        Span<byte> head = stackalloc byte[4];
        var got = content.ReadAtLeast(head, 4, throwOnEndOfStream: false);
        if (got < 4)
            throw new BadInputException($"{name}: not an IDX file: {got} bytes, shorter than the 4-byte header");
        if (head[0] != 0 || head[1] != 0)
            throw new BadInputException($"{name}: not an IDX file: magic number starts with 0x{head[0]:x2} 0x{head[1]:x2}, expected 0x00 0x00");
        if (head[2] != UnsignedByteType)
            throw new BadInputException($"{name}: unsupported IDX data type 0x{head[2]:x2}, expected 0x08 (unsigned byte)");
        var rank = head[3];
        if (rank == 0)
            throw new BadInputException($"{name}: IDX header declares 0 dimensions");

        var dimBytes = new byte[4 * rank];
        got = content.ReadAtLeast(dimBytes, dimBytes.Length, throwOnEndOfStream: false);
        if (got < dimBytes.Length)
            throw new BadInputException($"{name}: truncated: header declares {rank} dimensions but the file ends inside them");
        var dims = new int[rank];
        long expected = 1;
        for (var i = 0; i < rank; i++)
        {
            var d = (uint)(dimBytes[4 * i] << 24 | dimBytes[4 * i + 1] << 16 | dimBytes[4 * i + 2] << 8 | dimBytes[4 * i + 3]);
            if (d > int.MaxValue)
                throw new BadInputException($"{name}: dimension {i} is {d}, too large");
            dims[i] = (int)d;
            expected = Math.Min(expected * d, long.MaxValue / int.MaxValue); // saturates: compared to Array.MaxLength below
        }

        var shape = string.Join("×", dims);
        if (expected > Array.MaxLength)
            throw new BadInputException($"{name}: header says {shape} bytes of data, more than one array can hold");

        var headerLength = 4 + 4L * rank;
        if (length is { } total && total - headerLength != expected)
        {
            var holds = total - headerLength;
            var problem = holds < expected ? "truncated" : "trailing bytes";
            throw new BadInputException($"{name}: {problem}: header says {shape} = {expected} bytes of data, file holds {holds}");
        }

        // The length of a compressed stream is unknown until it is read; grow the buffer as data
        // arrives, so a bogus header cannot make us allocate more than the content holds.
        byte[] data;
        if (length is not null)
        {
            data = new byte[expected];
            got = content.ReadAtLeast(data, data.Length, throwOnEndOfStream: false);
            if (got != expected)
                throw new BadInputException($"{name}: truncated: header says {shape} = {expected} bytes of data, file holds {got}");
        }
        else
        {
            using var buffer = new MemoryStream();
            CopyAtMost(content, buffer, expected);
            var extra = buffer.Length < expected ? 0 : CountRemaining(content);
            if (buffer.Length != expected || extra != 0)
            {
                var holds = buffer.Length + extra;
                var problem = holds < expected ? "truncated" : "trailing bytes";
                throw new BadInputException($"{name}: {problem}: header says {shape} = {expected} bytes of data, decompressed file holds {holds}");
            }
            data = buffer.ToArray();
        }
        return new IdxFile(dims, data);
    }

    private static long CountRemaining(Stream from)
    {
        var chunk = new byte[1 << 16];
        long count = 0;
        int n;
        while ((n = from.Read(chunk, 0, chunk.Length)) > 0) count += n;
        return count;
    }

    private static void CopyAtMost(Stream from, Stream to, long limit)
    {
        var chunk = new byte[1 << 16];
        while (limit > 0)
        {
            var n = from.Read(chunk, 0, (int)Math.Min(chunk.Length, limit));
            if (n == 0) return;
            to.Write(chunk, 0, n);
            limit -= n;
        }
    }
}
