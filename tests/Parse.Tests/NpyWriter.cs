using System.IO.Compression;
using System.Text;

namespace Parse.Tests;

/// <summary>Writes small NumPy .npy/.npz files for tests (version 1.0 header, little-endian, C order).</summary>
internal static class NpyWriter
{
    /// <summary>The .npy bytes of <paramref name="values"/> (given as doubles) stored as <paramref name="descr"/> with <paramref name="shape"/>.</summary>
    public static byte[] Bytes(string descr, long[] shape, double[] values, bool fortran = false, int dropBytes = 0)
    {
        string dims = shape.Length == 1 ? $"({shape[0]},)" : $"({string.Join(", ", shape)})";
        string dict = $"{{'descr': '{descr}', 'fortran_order': {(fortran ? "True" : "False")}, 'shape': {dims}, }}";
        int pad = 64 - (10 + dict.Length + 1) % 64;
        string header = dict + new string(' ', pad % 64) + "\n";
        var ms = new MemoryStream();
        var w = new BinaryWriter(ms);
        w.Write(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0 });
        w.Write((ushort)header.Length);
        w.Write(Encoding.ASCII.GetBytes(header));
        foreach (double v in values)
        {
            switch (descr)
            {
                case "<f4": w.Write((float)v); break;
                case "<f8": w.Write(v); break;
                case "<i4": w.Write((int)v); break;
                case "<i8": w.Write((long)v); break;
                case "|u1": w.Write((byte)v); break;
                default: throw new ArgumentException(descr);
            }
        }
        w.Flush();
        var bytes = ms.ToArray();
        return bytes[..^dropBytes];
    }

    /// <summary>Writes an .npy file.</summary>
    public static string Write(string path, string descr, long[] shape, double[] values)
    {
        File.WriteAllBytes(path, Bytes(descr, shape, values));
        return path;
    }

    /// <summary>Writes an .npz archive of named .npy arrays.</summary>
    public static string WriteNpz(string path, params (string Name, byte[] Npy)[] arrays)
    {
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        foreach (var (name, npy) in arrays)
        {
            using var s = zip.CreateEntry(name + ".npy").Open();
            s.Write(npy);
        }
        return path;
    }
}
