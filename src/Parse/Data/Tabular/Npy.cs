using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;
using System.Text.RegularExpressions;
using Parse.Config;

namespace Parse.Data.Tabular;

/// <summary>A NumPy array read as float32: its shape and values in C (row-major) order.</summary>
/// <param name="Shape">Dimensions; the first is the number of samples.</param>
/// <param name="Values">Values, converted to float32.</param>
/// <param name="IsInteger">True when the stored dtype is an integer type (labels).</param>
internal sealed record NpyArray(long[] Shape, float[] Values, bool IsInteger);

/// <summary>
/// Reader of NumPy's <c>.npy</c> format (versions 1-3: magic, header dictionary with <c>descr</c>, <c>fortran_order</c>,
/// <c>shape</c>) for little-endian f4, f8, i4, i8, u1 (and i1, i2, u2) arrays in C order, and of <c>.npz</c> archives
/// (a zip of .npy files, stored or deflated). Every problem names the file.
/// </summary>
internal static partial class Npy
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>True for paths ending in .npy or .npz.</summary>
    public static bool IsArrayFile(string path) =>
        path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".npz", StringComparison.OrdinalIgnoreCase);

    /// <summary>Reads an .npy file, or array <paramref name="array"/> of an .npz file (default: its only array).</summary>
    public static NpyArray Load(string path, string? array = null)
    {
        if (!File.Exists(path)) throw new ConfigException($"file not found: {path}");
        try
        {
            if (path.EndsWith(".npz", StringComparison.OrdinalIgnoreCase)) return LoadNpz(path, array);
            using var f = File.OpenRead(path);
            return Read(f, path);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            throw new ConfigException($"{path}: cannot read: {e.Message}");
        }
    }

    private static NpyArray LoadNpz(string path, string? array)
    {
        using var zip = ZipFile.OpenRead(path);
        var names = zip.Entries.Where(e => e.FullName.EndsWith(".npy", StringComparison.Ordinal)).Select(e => e.FullName[..^4]).ToList();
        if (names.Count == 0) throw new ConfigException($"{path}: the archive holds no .npy arrays");
        string name = array ?? (names.Count == 1 ? names[0]
            : throw new ConfigException($"{path}: the archive holds {names.Count} arrays ({string.Join(", ", names)}); name one (views.NAME.array or data.label_array)"));
        var entry = zip.GetEntry(name + ".npy")
            ?? throw new ConfigException($"{path}: no array '{name}' in the archive (arrays: {string.Join(", ", names)})");
        using var s = entry.Open();
        return Read(s, $"{path}[{name}]");
    }

    /// <summary>Reads one .npy stream; <paramref name="what"/> names it in messages.</summary>
    public static NpyArray Read(Stream s, string what)
    {
        var pre = new byte[8];
        ReadExactly(s, pre, what, "the magic string");
        if (!pre.AsSpan(0, 6).SequenceEqual(Magic)) throw new ConfigException($"{what}: not a NumPy .npy file (bad magic string)");
        int major = pre[6];
        int headerLen;
        if (major == 1)
        {
            var b = new byte[2];
            ReadExactly(s, b, what, "the header length");
            headerLen = BinaryPrimitives.ReadUInt16LittleEndian(b);
        }
        else if (major is 2 or 3)
        {
            var b = new byte[4];
            ReadExactly(s, b, what, "the header length");
            headerLen = checked((int)BinaryPrimitives.ReadUInt32LittleEndian(b));
        }
        else throw new ConfigException($"{what}: unsupported .npy format version {major}.{pre[7]} (expected 1, 2 or 3)");
        var hb = new byte[headerLen];
        ReadExactly(s, hb, what, "the header");
        string header = System.Text.Encoding.Latin1.GetString(hb);
        var descr = DescrPattern().Match(header);
        var order = FortranPattern().Match(header);
        var shape = ShapePattern().Match(header);
        if (!descr.Success || !order.Success || !shape.Success)
            throw new ConfigException($"{what}: malformed .npy header '{header.Trim()}' (needs descr, fortran_order and shape)");
        if (order.Groups[1].Value == "True")
            throw new ConfigException($"{what}: the array is in Fortran order; save it in C order (numpy.ascontiguousarray)");
        var dims = shape.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(d => long.TryParse(d, NumberStyles.None, CultureInfo.InvariantCulture, out long x) ? x
                : throw new ConfigException($"{what}: malformed shape '({shape.Groups[1].Value})' in the .npy header")).ToArray();
        if (dims.Length == 0) throw new ConfigException($"{what}: a 0-dimensional array has no rows; save at least a 1-D array");
        string d = descr.Groups[1].Value;
        (int size, bool integer) = d switch
        {
            "<f4" => (4, false), "<f8" => (8, false), "<i4" => (4, true), "<i8" => (8, true), "|u1" or "<u1" => (1, true),
            "|i1" or "<i1" => (1, true), "<i2" => (2, true), "<u2" => (2, true),
            _ => throw new ConfigException($"{what}: unsupported dtype '{d}' (supported: little-endian float32, float64, int32, int64, uint8, int8, int16, uint16)"),
        };
        long count = dims.Aggregate(1L, (a, b) => checked(a * b));
        if (count > Array.MaxLength) throw new ConfigException($"{what}: {count} values are more than one array can hold");
        var values = new float[count];
        var chunk = new byte[Math.Max(size, (1 << 20) / size * size)];
        long done = 0;
        while (done < count)
        {
            int want = (int)Math.Min(chunk.Length / size, count - done);
            int bytes = want * size, got = 0;
            while (got < bytes)
            {
                int n = s.Read(chunk, got, bytes - got);
                if (n == 0)
                    throw new ConfigException($"{what}: truncated: the header promises {count} values of {d} (shape ({string.Join(", ", dims)})) but the data ends after {done + got / size}");
                got += n;
            }
            var src = chunk.AsSpan(0, bytes);
            var dst = values.AsSpan((int)done, want);
            switch (d)
            {
                case "<f4": for (int i = 0; i < want; i++) dst[i] = BinaryPrimitives.ReadSingleLittleEndian(src[(4 * i)..]); break;
                case "<f8": for (int i = 0; i < want; i++) dst[i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(src[(8 * i)..]); break;
                case "<i4": for (int i = 0; i < want; i++) dst[i] = BinaryPrimitives.ReadInt32LittleEndian(src[(4 * i)..]); break;
                case "<i8": for (int i = 0; i < want; i++) dst[i] = BinaryPrimitives.ReadInt64LittleEndian(src[(8 * i)..]); break;
                case "<i2": for (int i = 0; i < want; i++) dst[i] = BinaryPrimitives.ReadInt16LittleEndian(src[(2 * i)..]); break;
                case "<u2": for (int i = 0; i < want; i++) dst[i] = BinaryPrimitives.ReadUInt16LittleEndian(src[(2 * i)..]); break;
                case "|i1" or "<i1": for (int i = 0; i < want; i++) dst[i] = (sbyte)src[i]; break;
                default: for (int i = 0; i < want; i++) dst[i] = src[i]; break;
            }
            done += want;
        }
        return new NpyArray(dims, values, integer);
    }

    private static void ReadExactly(Stream s, byte[] buf, string what, string part)
    {
        int got = 0;
        while (got < buf.Length)
        {
            int n = s.Read(buf, got, buf.Length - got);
            if (n == 0) throw new ConfigException($"{what}: truncated .npy file (ends inside {part})");
            got += n;
        }
    }

    [GeneratedRegex(@"['""]descr['""]\s*:\s*['""]([^'""]+)['""]")]
    private static partial Regex DescrPattern();

    [GeneratedRegex(@"['""]fortran_order['""]\s*:\s*(True|False)")]
    private static partial Regex FortranPattern();

    [GeneratedRegex(@"['""]shape['""]\s*:\s*\(([^)]*)\)")]
    private static partial Regex ShapePattern();
}
