using System.Security.Cryptography;
using System.Text;

namespace Parse.Data;

/// <summary>Builds a content hash (SHA-256) over files and parameters, for cache keys.</summary>
public sealed class ContentHash : IDisposable
{
    private readonly IncrementalHash _h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    /// <summary>Adds a string (length-prefixed, so concatenations cannot collide).</summary>
    public ContentHash Add(string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        _h.AppendData(BitConverter.GetBytes(bytes.Length));
        _h.AppendData(bytes);
        return this;
    }

    /// <summary>Adds raw bytes (length-prefixed).</summary>
    public ContentHash Add(ReadOnlySpan<byte> bytes)
    {
        _h.AppendData(BitConverter.GetBytes(bytes.Length));
        _h.AppendData(bytes);
        return this;
    }

    /// <summary>Hex digest (first <paramref name="chars"/> characters).</summary>
    public string Hex(int chars = 20) => Convert.ToHexStringLower(_h.GetHashAndReset())[..chars];

    /// <summary>Releases the hash state.</summary>
    public void Dispose() => _h.Dispose();
}

/// <summary>
/// A binary cache of named float arrays with shapes. Files are written to a temporary name in the same
/// directory and renamed into place, so a reader sees either a complete file or none; a corrupt or
/// foreign file is ignored (treated as a miss) and rebuilt.
/// </summary>
public static class DataCache
{
    private const string Magic = "PARSE-CACHE-1";

    /// <summary>Reads a cache file; null if missing or unreadable.</summary>
    public static Dictionary<string, (long[] Shape, float[] Data)>? TryRead(string path)
    {
        if (!File.Exists(path)) return null;
        try
        {
            using var r = new BinaryReader(File.OpenRead(path), Encoding.UTF8);
            if (r.ReadString() != Magic) return null;
            int n = r.ReadInt32();
            var result = new Dictionary<string, (long[], float[])>(StringComparer.Ordinal);
            for (int i = 0; i < n; i++)
            {
                string name = r.ReadString();
                var shape = new long[r.ReadInt32()];
                for (int d = 0; d < shape.Length; d++) shape[d] = r.ReadInt64();
                long count = shape.Aggregate(1L, (a, b) => a * b);
                var data = new float[count];
                var bytes = r.ReadBytes(checked((int)(count * sizeof(float))));
                if (bytes.Length != count * sizeof(float)) return null;
                Buffer.BlockCopy(bytes, 0, data, 0, bytes.Length);
                result[name] = (shape, data);
            }
            return r.ReadString() == "end" ? result : null;
        }
        catch (Exception e) when (e is IOException or EndOfStreamException or InvalidDataException or OverflowException or FormatException)
        {
            return null;
        }
    }

    /// <summary>Writes arrays atomically (temp file + rename).</summary>
    public static void Write(string path, IReadOnlyDictionary<string, (long[] Shape, float[] Data)> arrays)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        string tmp = $"{path}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        try
        {
            using (var w = new BinaryWriter(File.Create(tmp), Encoding.UTF8))
            {
                w.Write(Magic);
                w.Write(arrays.Count);
                foreach (var (name, (shape, data)) in arrays)
                {
                    if (shape.Aggregate(1L, (a, b) => a * b) != data.Length)
                        throw new ArgumentException($"cache array '{name}': shape does not match {data.Length} values");
                    w.Write(name);
                    w.Write(shape.Length);
                    foreach (long d in shape) w.Write(d);
                    var bytes = new byte[data.Length * sizeof(float)];
                    Buffer.BlockCopy(data, 0, bytes, 0, bytes.Length);
                    w.Write(bytes);
                }
                w.Write("end");
            }
            File.Move(tmp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }
}
