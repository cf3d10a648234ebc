using System.Buffers.Binary;
using System.Text;

namespace Parse.Tests;

/// <summary>
/// An independent reader of TensorBoard event files for the tests: TFRecord framing (length, masked CRC-32C of the
/// length, payload, masked CRC-32C of the payload; every CRC checked) and a hand decoder for the protobuf fields of
/// <c>Event</c> (wall_time 1, step 2, file_version 3, summary 5) and <c>Summary.Value</c> (tag 1, simple_value 2).
/// </summary>
internal static class TfEventReader
{
    public sealed record Scalar(string Tag, long Step, float Value, double WallTime);

    public sealed record Record(double WallTime, long Step, string? FileVersion, IReadOnlyList<(string Tag, float Value)> Values);

    public static IReadOnlyList<Record> Read(string path)
    {
        var data = File.ReadAllBytes(path);
        var records = new List<Record>();
        int pos = 0;
        while (pos < data.Length)
        {
            if (pos + 12 > data.Length) throw new InvalidDataException($"{path}: truncated header at byte {pos}");
            ulong length = BinaryPrimitives.ReadUInt64LittleEndian(data.AsSpan(pos));
            uint lengthCrc = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(pos + 8));
            if (lengthCrc != MaskedCrc(data.AsSpan(pos, 8))) throw new InvalidDataException($"{path}: bad length CRC at byte {pos}");
            pos += 12;
            if ((ulong)(data.Length - pos) < length + 4) throw new InvalidDataException($"{path}: truncated record at byte {pos}");
            var payload = data.AsSpan(pos, (int)length);
            uint payloadCrc = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(pos + (int)length));
            if (payloadCrc != MaskedCrc(payload)) throw new InvalidDataException($"{path}: bad payload CRC at byte {pos}");
            records.Add(DecodeEvent(payload.ToArray()));
            pos += (int)length + 4;
        }
        return records;
    }

    /// <summary>Every scalar of every event file under <paramref name="dir"/>, in file order.</summary>
    public static IReadOnlyList<Scalar> Scalars(string dir) =>
        Directory.GetFiles(dir, "events.out.tfevents.*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
            .SelectMany(Read).SelectMany(r => r.Values.Select(v => new Scalar(v.Tag, r.Step, v.Value, r.WallTime))).ToList();

    private static Record DecodeEvent(byte[] b)
    {
        double wall = 0;
        long step = 0;
        string? version = null;
        var values = new List<(string, float)>();
        foreach (var (field, wire, value, bytes) in Fields(b))
        {
            switch (field, wire)
            {
                case (1, 1): wall = BitConverter.Int64BitsToDouble((long)value); break;
                case (2, 0): step = (long)value; break;
                case (3, 2): version = Encoding.UTF8.GetString(bytes!); break;
                case (5, 2):
                    foreach (var (vf, vw, _, vb) in Fields(bytes!))
                        if ((vf, vw) == (1, 2)) values.Add(DecodeValue(vb!));
                    break;
            }
        }
        return new Record(wall, step, version, values);
    }

    private static (string, float) DecodeValue(byte[] b)
    {
        string tag = "";
        float v = float.NaN;
        foreach (var (f, w, value, bytes) in Fields(b))
        {
            if ((f, w) == (1, 2)) tag = Encoding.UTF8.GetString(bytes!);
            else if ((f, w) == (2, 5)) v = BitConverter.Int32BitsToSingle((int)value);
        }
        return (tag, v);
    }

    private static IEnumerable<(int Field, int Wire, ulong Value, byte[]? Bytes)> Fields(byte[] b)
    {
        int pos = 0;
        var list = new List<(int, int, ulong, byte[]?)>();
        while (pos < b.Length)
        {
            ulong key = Varint(b, ref pos);
            int field = (int)(key >> 3), wire = (int)(key & 7);
            switch (wire)
            {
                case 0: list.Add((field, wire, Varint(b, ref pos), null)); break;
                case 1: list.Add((field, wire, BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(pos)), null)); pos += 8; break;
                case 5: list.Add((field, wire, BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(pos)), null)); pos += 4; break;
                case 2:
                    int len = (int)Varint(b, ref pos);
                    list.Add((field, wire, 0, b.AsSpan(pos, len).ToArray()));
                    pos += len;
                    break;
                default: throw new InvalidDataException($"unsupported protobuf wire type {wire}");
            }
        }
        return list;
    }

    private static ulong Varint(byte[] b, ref int pos)
    {
        ulong v = 0;
        for (int shift = 0; ; shift += 7)
        {
            byte x = b[pos++];
            v |= (ulong)(x & 0x7f) << shift;
            if ((x & 0x80) == 0) return v;
        }
    }

    /// <summary>CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), bit by bit.</summary>
    public static uint Crc32C(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte x in data)
        {
            crc ^= x;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
        }
        return ~crc;
    }

    /// <summary>TFRecord's masked CRC: rotate right by 15 bits and add 0xa282ead8.</summary>
    public static uint MaskedCrc(ReadOnlySpan<byte> data)
    {
        uint c = Crc32C(data);
        return ((c >> 15) | (c << 17)) + 0xa282ead8u;
    }
}
