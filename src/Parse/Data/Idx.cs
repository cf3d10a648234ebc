using System.IO.Compression;
using Parse.Config;

namespace Parse.Data;

/// <summary>An IDX array (the MNIST file format): unsigned bytes with their dimensions.</summary>
/// <param name="Dims">Dimension sizes, outermost first (e.g. [60000, 28, 28]).</param>
/// <param name="Data">Row-major values.</param>
public sealed record IdxArray(int[] Dims, byte[] Data)
{
    /// <summary>Number of items along the first dimension.</summary>
    public int Count => Dims[0];
    /// <summary>Values per item (product of the remaining dimensions).</summary>
    public int ItemSize => Dims.Skip(1).Aggregate(1, (a, b) => a * b);
}

/// <summary>
/// Reads IDX files (http://yann.lecun.com/exdb/mnist/ format): magic 0x00 0x00 type ndims, then ndims big-endian
/// int32 sizes, then the data. Only unsigned-byte data (type 0x08) is supported. Gzip-compressed files are
/// detected by their magic bytes (0x1f 0x8b) whatever their name.
/// </summary>
public static class IdxReader
{
    /// <summary>Reads a plain or gzip-compressed IDX file; errors name the file.</summary>
    public static IdxArray Read(string path)
    {
        if (!File.Exists(path)) throw new ConfigException($"IDX file not found: {path}");
        using var file = File.OpenRead(path);
        int b0 = file.ReadByte(), b1 = file.ReadByte();
        file.Position = 0;
        using Stream s = b0 == 0x1f && b1 == 0x8b ? new GZipStream(file, CompressionMode.Decompress) : file;
        try { return Read(s, path); }
        catch (InvalidDataException e) { throw new ConfigException($"{path}: not a valid IDX file ({e.Message})"); }
    }

    /// <summary>Reads an IDX array from an uncompressed stream; <paramref name="source"/> names it in errors.</summary>
    public static IdxArray Read(Stream s, string source)
    {
        var head = new byte[4];
        ReadExactly(s, head, source, "header");
        if (head[0] != 0 || head[1] != 0) throw new ConfigException($"{source}: not an IDX file (bad magic {head[0]:x2}{head[1]:x2})");
        if (head[2] != 0x08) throw new ConfigException($"{source}: IDX data type 0x{head[2]:x2} is not supported (only unsigned byte, 0x08)");
        int nd = head[3];
        if (nd < 1) throw new ConfigException($"{source}: IDX file declares {nd} dimensions");
        var dims = new int[nd];
        var buf = new byte[4];
        long total = 1;
        for (int i = 0; i < nd; i++)
        {
            ReadExactly(s, buf, source, $"dimension {i}");
            dims[i] = (buf[0] << 24) | (buf[1] << 16) | (buf[2] << 8) | buf[3];
            if (dims[i] < 0) throw new ConfigException($"{source}: negative size in dimension {i}");
            total *= dims[i];
            if (total > Array.MaxLength) throw new ConfigException($"{source}: IDX array too large (dimensions 0..{i} already hold more than {Array.MaxLength} values)");
        }
        // a header may declare far more than the file holds: check the remaining length when known, and never allocate
        // the declared size up front for a stream of unknown length (a gzip file)
        if (s.CanSeek && s.Length - s.Position < total)
            throw new ConfigException($"{source}: truncated IDX file (the header declares {total} data bytes, {s.Length - s.Position} follow)");
        byte[] data = s.CanSeek ? new byte[total] : ReadUpTo(s, (int)total, source);
        if (s.CanSeek) ReadExactly(s, data, source, "data");
        return new IdxArray(dims, data);
    }

    /// <summary>Reads exactly <paramref name="count"/> bytes from a stream of unknown length, growing the buffer as data arrives.</summary>
    private static byte[] ReadUpTo(Stream s, int count, string source)
    {
        using var ms = new MemoryStream(Math.Min(count, 1 << 20));
        var buf = new byte[1 << 16];
        while (ms.Length < count)
        {
            int n = s.Read(buf, 0, (int)Math.Min(buf.Length, count - ms.Length));
            if (n == 0) throw new ConfigException($"{source}: truncated IDX file (while reading data: {ms.Length} of {count} bytes)");
            ms.Write(buf, 0, n);
        }
        return ms.Length == ms.Capacity ? ms.GetBuffer() : ms.ToArray();
    }

    private static void ReadExactly(Stream s, byte[] buf, string source, string what)
    {
        int read = 0;
        while (read < buf.Length)
        {
            int n = s.Read(buf, read, buf.Length - read);
            if (n == 0) throw new ConfigException($"{source}: truncated IDX file (while reading {what}: {read} of {buf.Length} bytes)");
            read += n;
        }
    }
}
