using System.Buffers.Binary;
using System.Text;
using Parse.Federation.Payload;
using TorchSharp;
using static TorchSharp.torch;

namespace Parse.Cluster.Wire;

/// <summary>
/// Compact binary form of a <see cref="GroupPayload"/>, little-endian:
/// <c>"PRSP" | version u8 | dtype u8 (1 = float32, 2 = float16) | sender i32 | round i32 | degree i32 |
/// key length u16 | key UTF-8 | tensor count u16 | per tensor: rank u8, dims i64 x rank | values</c>.
/// Decoding checks the framing only (size limit, lengths, ranks); key, shape and finiteness checks are the
/// receiver's <see cref="PayloadPipeline"/>, the same one the simulator runs.
/// </summary>
public static class PayloadCodec
{
    private static ReadOnlySpan<byte> Magic => "PRSP"u8;
    private const byte Version = 1;
    private const int MaxRank = 8;
    private const int MaxTensors = 1024;

    /// <summary>Encodes a payload; values are written as float16 when <see cref="GroupPayload.BytesPerElement"/> is 2.</summary>
    public static byte[] Encode(GroupPayload p)
    {
        using var scope = torch.NewDisposeScope();
        bool half = p.BytesPerElement == 2;
        byte[] key = Encoding.UTF8.GetBytes(p.Key);
        if (key.Length > ushort.MaxValue) throw new ArgumentException($"payload key too long ({key.Length} bytes): {p.Key[..40]}...");
        var flat = p.Values.Select(v => v.detach().to_type(ScalarType.Float32).contiguous().cpu()).ToList();
        long count = flat.Sum(v => v.numel());
        long header = 4 + 1 + 1 + 12 + 2 + key.Length + 2 + p.Values.Sum(v => 1 + 8L * v.dim());
        long total = header + count * (half ? 2 : 4);
        if (total > int.MaxValue) throw new ArgumentException($"payload '{p.Key}' too large to encode ({total} bytes)");
        var buf = new byte[total];
        var w = new SpanWriter(buf);
        w.Bytes(Magic);
        w.U8(Version);
        w.U8(half ? (byte)2 : (byte)1);
        w.I32(p.Sender);
        w.I32(p.Round);
        w.I32(p.SenderDegree);
        w.U16((ushort)key.Length);
        w.Bytes(key);
        w.U16((ushort)p.Values.Count);
        foreach (var v in p.Values)
        {
            w.U8((byte)v.dim());
            foreach (long d in v.shape) w.I64(d);
        }
        foreach (var v in flat)
        {
            var data = v.data<float>().ToArray();
            foreach (float f in data)
            {
                if (half) w.U16(BitConverter.HalfToUInt16Bits((Half)f));
                else w.F32(f);
            }
        }
        return buf;
    }

    /// <summary>
    /// Decodes bytes produced by <see cref="Encode"/>. Returns null with <see cref="RejectReason.Oversize"/> or
    /// <see cref="RejectReason.Malformed"/> (and a detail message) when the bytes cannot be a valid payload.
    /// The returned tensors are float32, created in the caller's dispose scope.
    /// </summary>
    public static GroupPayload? TryDecode(ReadOnlySpan<byte> bytes, int maxBytes, out RejectReason reason, out string detail)
    {
        reason = RejectReason.Malformed;
        detail = "";
        if (bytes.Length > maxBytes)
        {
            reason = RejectReason.Oversize;
            detail = $"{bytes.Length} bytes > limit {maxBytes}";
            return null;
        }
        var r = new SpanReader(bytes);
        if (!r.Has(4 + 1 + 1 + 12 + 2) || !r.Bytes(4).SequenceEqual(Magic)) { detail = "bad magic"; return null; }
        if (r.U8() != Version) { detail = "unknown version"; return null; }
        byte dtype = r.U8();
        if (dtype is not (1 or 2)) { detail = $"unknown dtype {dtype}"; return null; }
        int sender = r.I32(), round = r.I32(), degree = r.I32();
        if (sender < 0 || round < 0 || degree < 0) { detail = "negative sender, round or degree"; return null; }
        int keyLen = r.U16();
        if (!r.Has(keyLen + 2)) { detail = "truncated key"; return null; }
        string key;
        try { key = new UTF8Encoding(false, true).GetString(r.Bytes(keyLen)); }
        catch (DecoderFallbackException) { detail = "key is not UTF-8"; return null; }
        int n = r.U16();
        if (n > MaxTensors) { detail = $"{n} tensors"; return null; }
        var shapes = new long[n][];
        long elements = 0;
        int width = dtype == 2 ? 2 : 4;
        for (int i = 0; i < n; i++)
        {
            if (!r.Has(1)) { detail = "truncated shapes"; return null; }
            int rank = r.U8();
            if (rank > MaxRank || !r.Has(8 * rank)) { detail = $"tensor {i}: bad rank {rank}"; return null; }
            shapes[i] = new long[rank];
            long numel = 1;
            for (int d = 0; d < rank; d++)
            {
                long dim = r.I64();
                if (dim < 0 || dim > maxBytes) { detail = $"tensor {i}: bad dimension {dim}"; return null; }
                shapes[i][d] = dim;
                numel *= dim;
                if (numel > maxBytes) { reason = RejectReason.Oversize; detail = $"tensor {i} too large"; return null; }
            }
            elements += numel;
        }
        if (elements * width != r.Remaining) { detail = $"value bytes {r.Remaining} != {elements * width} declared by the shapes"; return null; }
        var values = new List<Tensor>(n);
        for (int i = 0; i < n; i++)
        {
            long numel = shapes[i].Aggregate(1L, (a, b) => a * b);
            var data = new float[numel];
            for (long e = 0; e < numel; e++) data[e] = width == 2 ? (float)BitConverter.UInt16BitsToHalf(r.U16()) : r.F32();
            values.Add(torch.tensor(data, shapes[i], dtype: ScalarType.Float32));
        }
        return new GroupPayload(key, sender, round, degree, values) { BytesPerElement = width };
    }

    private ref struct SpanWriter(Span<byte> buf)
    {
        private readonly Span<byte> _buf = buf;
        private int _pos;
        public void U8(byte v) => _buf[_pos++] = v;
        public void U16(ushort v) { BinaryPrimitives.WriteUInt16LittleEndian(_buf[_pos..], v); _pos += 2; }
        public void I32(int v) { BinaryPrimitives.WriteInt32LittleEndian(_buf[_pos..], v); _pos += 4; }
        public void I64(long v) { BinaryPrimitives.WriteInt64LittleEndian(_buf[_pos..], v); _pos += 8; }
        public void F32(float v) { BinaryPrimitives.WriteSingleLittleEndian(_buf[_pos..], v); _pos += 4; }
        public void Bytes(ReadOnlySpan<byte> b) { b.CopyTo(_buf[_pos..]); _pos += b.Length; }
    }

    private ref struct SpanReader(ReadOnlySpan<byte> buf)
    {
        private readonly ReadOnlySpan<byte> _buf = buf;
        private int _pos;
        public readonly int Remaining => _buf.Length - _pos;
        public readonly bool Has(long n) => n <= Remaining;
        public byte U8() => _buf[_pos++];
        public ushort U16() { var v = BinaryPrimitives.ReadUInt16LittleEndian(_buf[_pos..]); _pos += 2; return v; }
        public int I32() { var v = BinaryPrimitives.ReadInt32LittleEndian(_buf[_pos..]); _pos += 4; return v; }
        public long I64() { var v = BinaryPrimitives.ReadInt64LittleEndian(_buf[_pos..]); _pos += 8; return v; }
        public float F32() { var v = BinaryPrimitives.ReadSingleLittleEndian(_buf[_pos..]); _pos += 4; return v; }
        public ReadOnlySpan<byte> Bytes(int n) { var s = _buf.Slice(_pos, n); _pos += n; return s; }
    }
}
