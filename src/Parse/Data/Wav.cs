using System.Buffers.Binary;
using Parse.Config;

namespace Parse.Data;

/// <summary>Mono audio decoded from a WAV file: samples in [-1, 1) and the sample rate.</summary>
public sealed record WavAudio(float[] Samples, int SampleRate);

/// <summary>
/// Reads RIFF/WAVE files with 16-bit PCM data (format tag 1). Multi-channel audio is averaged to mono.
/// Unknown chunks (LIST, fact, ...) are skipped; errors name the file. A data chunk shorter than its declared size
/// (a truncated file) or without a single sample frame is an error, never silence.
/// </summary>
public static class WavReader
{
    /// <summary>Reads a WAV file.</summary>
    public static WavAudio Read(string path)
    {
        if (!File.Exists(path)) throw new ConfigException($"WAV file not found: {path}");
        return Parse(File.ReadAllBytes(path), path);
    }

    /// <summary>Decodes WAV bytes; <paramref name="source"/> names them in errors.</summary>
    public static WavAudio Parse(ReadOnlySpan<byte> b, string source)
    {
        if (b.Length < 12 || !b[..4].SequenceEqual("RIFF"u8) || !b.Slice(8, 4).SequenceEqual("WAVE"u8))
            throw new ConfigException($"{source}: not a RIFF/WAVE file");
        int pos = 12, channels = 0, rate = 0, bits = 0;
        bool haveFmt = false;
        while ((long)pos + 8 <= b.Length)
        {
            var id = b.Slice(pos, 4);
            int size = BinaryPrimitives.ReadInt32LittleEndian(b.Slice(pos + 4, 4));
            int body = pos + 8;
            if (size < 0) throw new ConfigException($"{source}: corrupt chunk size at byte {pos}");
            if (id.SequenceEqual("fmt "u8))
            {
                if (size < 16 || body + 16 > b.Length) throw new ConfigException($"{source}: truncated fmt chunk");
                int format = BinaryPrimitives.ReadUInt16LittleEndian(b.Slice(body, 2));
                channels = BinaryPrimitives.ReadUInt16LittleEndian(b.Slice(body + 2, 2));
                rate = BinaryPrimitives.ReadInt32LittleEndian(b.Slice(body + 4, 4));
                bits = BinaryPrimitives.ReadUInt16LittleEndian(b.Slice(body + 14, 2));
                if (format != 1 || bits != 16)
                    throw new ConfigException($"{source}: unsupported WAV encoding (format tag {format}, {bits} bits); only 16-bit PCM is supported");
                if (channels < 1) throw new ConfigException($"{source}: WAV declares {channels} channels");
                if (rate < 1) throw new ConfigException($"{source}: WAV declares a sample rate of {rate} Hz");
                haveFmt = true;
            }
            else if (id.SequenceEqual("data"u8))
            {
                if (!haveFmt) throw new ConfigException($"{source}: data chunk before fmt chunk");
                if ((long)body + size > b.Length)
                    throw new ConfigException($"{source}: truncated WAV file: the data chunk declares {size} bytes but only {b.Length - body} follow (an incomplete download or copy?)");
                int frames = size / (2 * channels);
                if (frames == 0) throw new ConfigException($"{source}: the WAV data chunk holds no complete sample ({size} bytes, {channels} channel(s) of 16 bits)");
                var samples = new float[frames];
                for (int i = 0; i < frames; i++)
                {
                    float acc = 0;
                    for (int c = 0; c < channels; c++)
                        acc += BinaryPrimitives.ReadInt16LittleEndian(b.Slice(body + 2 * (i * channels + c), 2)) / 32768f;
                    samples[i] = acc / channels;
                }
                return new WavAudio(samples, rate);
            }
            long next = (long)body + size + (size & 1);   // chunks are word aligned
            if (next > b.Length) break;                     // a chunk running past the end: no data chunk follows
            pos = (int)next;
        }
        throw new ConfigException($"{source}: no {(haveFmt ? "data" : "fmt")} chunk found");
    }
}
