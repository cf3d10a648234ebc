using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text;
using K4os.Compression.LZ4;
using ZstdSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace Parse.Federation.Payload;

/// <summary>
/// The binary form of a <see cref="GroupPayload"/>, used by the cluster transport and, for counting bytes, by the
/// simulator (<see cref="GroupPayload.WireBytes"/> is <see cref="EncodedSize"/>). Little-endian:
/// <code>
/// "PRSP" | version u8 (2) | flags u8 (bit 0: delta, bit 1: LZ4 body, bit 2: Zstandard body) | sender i32 | round i32 | degree i32 |
/// [base round i32, delta only] | key length u16 | key UTF-8 | tensor count u16 |
/// per tensor: rank u8, dims i64 x rank, format u8 (TensorFormat), [bits u8, quantized only] |
/// body: [raw length u32 + LZ4 block or Zstandard frame of] per tensor:
///   float32: n x f32 | float16: n x f16 |
///   sparse: count u32, indices (u16 if n &lt;= 65536 else u32, strictly increasing), count x f32 (f16 for SparseHalf) |
///   quantized: scale f32, ceil(n x bits / 8) bytes of levels packed least significant bit first
/// </code>
/// A sparse tensor is written dense when that is smaller, and a quantized one whose values are not on its grid (e.g.
/// values replaced after quantization) as float32: the decoded values always equal the payload's values. Decoding
/// checks the framing only (size limit, lengths, ranks, indices); key, shape and finiteness checks are the receiver's
/// <see cref="PayloadPipeline"/>, the same one the simulator runs.
/// </summary>
public static class PayloadCodec
{
    private static ReadOnlySpan<byte> Magic => "PRSP"u8;
    /// <summary>Format version written and accepted.</summary>
    public const byte Version = 2;
    private const int MaxRank = 8;
    private const int MaxTensors = 1024;
    private const byte FlagDelta = 1, FlagLz4 = 2, FlagZstd = 4;

    /// <summary>The Zstandard compression level of <see cref="LosslessCodec.Zstd"/> bodies (fixed, so sizes are reproducible).</summary>
    public const int ZstdLevel = 19;
    private static readonly ConditionalWeakTable<GroupPayload, StrongBox<long>> Sizes = new();

    private sealed record Plan(TensorFormat Format, int Bits, float Scale, float[] Data, long[] Shape, int NonZero)
    {
        public int IndexWidth => Data.Length <= 65536 ? 2 : 4;
        public int ValueWidth => Format is TensorFormat.Float16 or TensorFormat.SparseHalf ? 2 : 4;
        public long BodyBytes => Format switch
        {
            TensorFormat.Float32 => 4L * Data.Length,
            TensorFormat.Float16 => 2L * Data.Length,
            TensorFormat.Sparse or TensorFormat.SparseHalf => 4 + (long)NonZero * (IndexWidth + ValueWidth),
            _ => 4 + ((long)Data.Length * Bits + 7) / 8,
        };
    }

    /// <summary>
    /// The exact number of bytes <see cref="Encode"/> produces for <paramref name="p"/> (computed once per payload
    /// instance; with LZ4 the payload is encoded to know it).
    /// </summary>
    public static long EncodedSize(GroupPayload p) => Sizes.GetValue(p, x => new StrongBox<long>(ComputeSize(x))).Value;

    private static long ComputeSize(GroupPayload p)
    {
        if (p.Lossless != LosslessCodec.None) return Encode(p).Length;
        if (Enumerable.Range(0, p.Values.Count).Any(i => p.CodingOf(i).Format == TensorFormat.Quantized))
        {
            var plans = Plans(p);
            return HeaderBytes(p, plans, out _) + plans.Sum(x => x.BodyBytes);
        }
        // without quantized tensors the size needs no copy of the values: dense sizes, and non-zero counts for sparse ones
        long total = 4 + 1 + 1 + 12 + (p.Kind == PayloadKind.Delta ? 4 : 0) + 2 + Encoding.UTF8.GetByteCount(p.Key) + 2;
        for (int i = 0; i < p.Values.Count; i++)
        {
            var v = p.Values[i];
            var c = p.CodingOf(i);
            long n = v.numel();
            total += 1 + 8L * v.dim() + 1;
            int width = c.Format is TensorFormat.Float16 or TensorFormat.SparseHalf ? 2 : 4;
            long dense = n * width;
            if (c.Format is TensorFormat.Sparse or TensorFormat.SparseHalf)
            {
                long nz;
                using (var count = v.count_nonzero()) nz = count.item<long>();
                total += Math.Min(dense, 4 + nz * ((n <= 65536 ? 2 : 4) + width)) ;
            }
            else total += dense;
        }
        return total;
    }

    private static List<Plan> Plans(GroupPayload p)
    {
        using var scope = torch.NewDisposeScope();
        var plans = new List<Plan>(p.Values.Count);
        for (int i = 0; i < p.Values.Count; i++)
        {
            var v = p.Values[i];
            var data = v.detach().to_type(ScalarType.Float32).contiguous().cpu().data<float>().ToArray();
            var c = p.CodingOf(i);
            var shape = v.shape;
            switch (c.Format)
            {
                case TensorFormat.Float32:
                case TensorFormat.Float16:
                    plans.Add(new Plan(c.Format, 0, 0, data, shape, 0));
                    break;
                case TensorFormat.Sparse:
                case TensorFormat.SparseHalf:
                {
                    int nz = 0;
                    foreach (float f in data) if (f != 0 || float.IsNaN(f)) nz++;
                    var sparse = new Plan(c.Format, 0, 0, data, shape, nz);
                    var dense = sparse with { Format = c.Format == TensorFormat.Sparse ? TensorFormat.Float32 : TensorFormat.Float16 };
                    plans.Add(sparse.BodyBytes < dense.BodyBytes ? sparse : dense);
                    break;
                }
                case TensorFormat.Quantized:
                    bool onGrid = c.Bits is >= 1 and <= 16 && data.All(f => Level(f, c.Bits, c.Scale) >= 0);
                    plans.Add(onGrid ? new Plan(c.Format, c.Bits, c.Scale, data, shape, 0) : new Plan(TensorFormat.Float32, 0, 0, data, shape, 0));
                    break;
                default:
                    throw new ArgumentException($"payload '{p.Key}': unknown tensor format {c.Format}");
            }
        }
        return plans;
    }

    /// <summary>The level whose grid value is exactly <paramref name="f"/>, or -1.</summary>
    private static int Level(float f, int bits, float scale)
    {
        int top = (1 << bits) - 1;
        if (scale == 0) return f == 0 ? 0 : -1;
        double guess = ((double)f / scale * top + top) / 2;
        if (!double.IsFinite(guess)) return -1;
        int l = (int)Math.Clamp(Math.Round(guess), 0, top);
        for (int d = 0; d <= 1; d++)
        {
            if (l - d >= 0 && TensorCoding.Dequantize(l - d, bits, scale) == f) return l - d;
            if (l + d <= top && TensorCoding.Dequantize(l + d, bits, scale) == f) return l + d;
        }
        return -1;
    }

    private static long HeaderBytes(GroupPayload p, List<Plan> plans, out byte[] key)
    {
        key = Encoding.UTF8.GetBytes(p.Key);
        if (key.Length > ushort.MaxValue) throw new ArgumentException($"payload key too long ({key.Length} bytes): {p.Key[..40]}...");
        if (p.Values.Count > MaxTensors) throw new ArgumentException($"payload '{p.Key}' has {p.Values.Count} tensors (at most {MaxTensors})");
        return 4 + 1 + 1 + 12 + (p.Kind == PayloadKind.Delta ? 4 : 0) + 2 + key.Length + 2
            + plans.Sum(x => 1 + 8L * x.Shape.Length + 1 + (x.Format == TensorFormat.Quantized ? 1 : 0));
    }

    /// <summary>Encodes a payload in the formats named by its <see cref="GroupPayload.Codings"/>.</summary>
    public static byte[] Encode(GroupPayload p)
    {
        var plans = Plans(p);
        long header = HeaderBytes(p, plans, out var key);
        long body = plans.Sum(x => x.BodyBytes);
        if (header + body > int.MaxValue - 64) throw new ArgumentException($"payload '{p.Key}' too large to encode ({header + body} bytes)");
        var raw = new byte[body];
        var b = new SpanWriter(raw);
        foreach (var x in plans) WriteBody(ref b, x);

        byte[] stored = raw;
        if (p.Lossless == LosslessCodec.Lz4)
        {
            var packed = new byte[4 + LZ4Codec.MaximumOutputSize(raw.Length)];
            BinaryPrimitives.WriteUInt32LittleEndian(packed, (uint)raw.Length);
            int n = raw.Length == 0 ? 0 : LZ4Codec.Encode(raw, packed.AsSpan(4));
            if (n < 0) throw new InvalidOperationException($"payload '{p.Key}': LZ4 encoding failed");
            stored = packed[..(4 + n)];
        }
        else if (p.Lossless == LosslessCodec.Zstd)
        {
            using var zstd = new Compressor(ZstdLevel);
            var frame = zstd.Wrap(raw);
            stored = new byte[4 + frame.Length];
            BinaryPrimitives.WriteUInt32LittleEndian(stored, (uint)raw.Length);
            frame.CopyTo(stored.AsSpan(4));
        }
        var buf = new byte[header + stored.Length];
        var w = new SpanWriter(buf);
        w.Bytes(Magic);
        w.U8(Version);
        w.U8((byte)((p.Kind == PayloadKind.Delta ? FlagDelta : 0) | (p.Lossless == LosslessCodec.Lz4 ? FlagLz4 : 0) | (p.Lossless == LosslessCodec.Zstd ? FlagZstd : 0)));
        w.I32(p.Sender);
        w.I32(p.Round);
        w.I32(p.SenderDegree);
        if (p.Kind == PayloadKind.Delta) w.I32(p.BaseRound);
        w.U16((ushort)key.Length);
        w.Bytes(key);
        w.U16((ushort)plans.Count);
        foreach (var x in plans)
        {
            w.U8((byte)x.Shape.Length);
            foreach (long d in x.Shape) w.I64(d);
            w.U8((byte)x.Format);
            if (x.Format == TensorFormat.Quantized) w.U8((byte)x.Bits);
        }
        w.Bytes(stored);
        return buf;
    }

    private static void WriteBody(ref SpanWriter w, Plan x)
    {
        switch (x.Format)
        {
            case TensorFormat.Float32:
                foreach (float f in x.Data) w.F32(f);
                break;
            case TensorFormat.Float16:
                foreach (float f in x.Data) w.U16(BitConverter.HalfToUInt16Bits((Half)f));
                break;
            case TensorFormat.Sparse:
            case TensorFormat.SparseHalf:
                w.U32((uint)x.NonZero);
                for (int i = 0; i < x.Data.Length; i++)
                    if (x.Data[i] != 0 || float.IsNaN(x.Data[i]))
                    {
                        if (x.IndexWidth == 2) w.U16((ushort)i);
                        else w.U32((uint)i);
                    }
                for (int i = 0; i < x.Data.Length; i++)
                    if (x.Data[i] != 0 || float.IsNaN(x.Data[i]))
                    {
                        if (x.ValueWidth == 2) w.U16(BitConverter.HalfToUInt16Bits((Half)x.Data[i]));
                        else w.F32(x.Data[i]);
                    }
                break;
            case TensorFormat.Quantized:
            {
                w.F32(x.Scale);
                ulong acc = 0;
                int filled = 0;
                foreach (float f in x.Data)
                {
                    acc |= (ulong)Level(f, x.Bits, x.Scale) << filled;
                    filled += x.Bits;
                    while (filled >= 8) { w.U8((byte)acc); acc >>= 8; filled -= 8; }
                }
                if (filled > 0) w.U8((byte)acc);
                break;
            }
        }
    }

    /// <summary>
    /// Decodes bytes produced by <see cref="Encode"/>. Returns null with <see cref="RejectReason.Oversize"/> or
    /// <see cref="RejectReason.Malformed"/> (and a detail message) when the bytes cannot be a valid payload: more than
    /// <paramref name="maxBytes"/> bytes, or tensors declaring more than <paramref name="maxBytes"/> elements in all, are
    /// oversize. The returned tensors are dense float32 (holding exactly the encoded values), created in the caller's
    /// dispose scope; the payload keeps the formats it was sent in.
    /// </summary>
    public static GroupPayload? TryDecode(ReadOnlySpan<byte> bytes, int maxBytes, out RejectReason reason, out string detail)
    {
        try { return Decode(bytes, maxBytes, out reason, out detail); }
        catch (Exception e) when (e is ArgumentOutOfRangeException or IndexOutOfRangeException or OverflowException)
        {
            reason = RejectReason.Malformed;
            detail = "truncated or inconsistent payload";
            return null;
        }
    }

    private static GroupPayload? Decode(ReadOnlySpan<byte> bytes, int maxBytes, out RejectReason reason, out string detail)
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
        byte version = r.U8();
        if (version != Version) { detail = $"unknown version {version}"; return null; }
        byte flags = r.U8();
        if ((flags & ~(FlagDelta | FlagLz4 | FlagZstd)) != 0 || (flags & (FlagLz4 | FlagZstd)) == (FlagLz4 | FlagZstd)) { detail = $"unknown flags {flags}"; return null; }
        bool delta = (flags & FlagDelta) != 0, lz4 = (flags & FlagLz4) != 0, zstd = (flags & FlagZstd) != 0;
        int sender = r.I32(), round = r.I32(), degree = r.I32();
        int baseRound = 0;
        if (delta)
        {
            if (!r.Has(4)) { detail = "truncated header"; return null; }
            baseRound = r.I32();
        }
        if (sender < 0 || round < 0 || degree < 0 || baseRound < 0) { detail = "negative sender, round, degree or base round"; return null; }
        if (!r.Has(2)) { detail = "truncated header"; return null; }
        int keyLen = r.U16();
        if (!r.Has(keyLen + 2)) { detail = "truncated key"; return null; }
        string key;
        try { key = new UTF8Encoding(false, true).GetString(r.Bytes(keyLen)); }
        catch (DecoderFallbackException) { detail = "key is not UTF-8"; return null; }
        int n = r.U16();
        if (n > MaxTensors) { detail = $"{n} tensors"; return null; }
        var shapes = new long[n][];
        var codings = new TensorCoding[n];
        long elements = 0;
        for (int i = 0; i < n; i++)
        {
            if (!r.Has(1)) { detail = "truncated shapes"; return null; }
            int rank = r.U8();
            if (rank > MaxRank || !r.Has(8L * rank + 1)) { detail = $"tensor {i}: bad rank {rank}"; return null; }
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
            if (elements > maxBytes) { reason = RejectReason.Oversize; detail = $"{elements} elements > limit {maxBytes}"; return null; }
            byte format = r.U8();
            if (format is < 1 or > 5) { detail = $"tensor {i}: unknown format {format}"; return null; }
            int bits = 0;
            if ((TensorFormat)format == TensorFormat.Quantized)
            {
                if (!r.Has(1)) { detail = "truncated shapes"; return null; }
                bits = r.U8();
                if (bits is < 1 or > 16) { detail = $"tensor {i}: {bits} bits per value"; return null; }
            }
            codings[i] = new TensorCoding((TensorFormat)format, bits);
        }

        ReadOnlySpan<byte> body = r.Rest();
        if (lz4)
        {
            if (body.Length < 4) { detail = "truncated LZ4 body"; return null; }
            uint rawLen = BinaryPrimitives.ReadUInt32LittleEndian(body);
            // no valid body is larger than float32 values plus sparse counts and quantization scales
            if (rawLen > 4L * elements + 8L * n) { detail = $"LZ4 body declares {rawLen} bytes for {elements} values"; return null; }
            var raw = new byte[rawLen];
            int got = rawLen == 0 && body.Length == 4 ? 0 : LZ4Codec.Decode(body[4..], raw);
            if (got != rawLen) { detail = "LZ4 body does not decode to its declared length"; return null; }
            body = raw;
        }
        else if (zstd)
        {
            if (body.Length < 4) { detail = "truncated Zstandard body"; return null; }
            uint rawLen = BinaryPrimitives.ReadUInt32LittleEndian(body);
            if (rawLen > 4L * elements + 8L * n) { detail = $"Zstandard body declares {rawLen} bytes for {elements} values"; return null; }
            var raw = new byte[rawLen];
            int got;
            try
            {
                using var unzstd = new Decompressor();
                got = unzstd.Unwrap(body[4..], raw);
            }
            catch (ZstdException e) { detail = $"Zstandard body does not decode: {e.Message}"; return null; }
            if (got != rawLen) { detail = "Zstandard body does not decode to its declared length"; return null; }
            body = raw;
        }

        var br = new SpanReader(body);
        var values = new List<Tensor>(n);
        try
        {
            for (int i = 0; i < n; i++)
            {
                long numel = shapes[i].Aggregate(1L, (a, b) => a * b);
                var data = new float[numel];
                var c = codings[i];
                switch (c.Format)
                {
                    case TensorFormat.Float32:
                        if (!br.Has(4 * numel)) { detail = $"tensor {i}: truncated values"; return Fail(values); }
                        for (long e = 0; e < numel; e++) data[e] = br.F32();
                        break;
                    case TensorFormat.Float16:
                        if (!br.Has(2 * numel)) { detail = $"tensor {i}: truncated values"; return Fail(values); }
                        for (long e = 0; e < numel; e++) data[e] = (float)BitConverter.UInt16BitsToHalf(br.U16());
                        break;
                    case TensorFormat.Sparse:
                    case TensorFormat.SparseHalf:
                    {
                        if (!br.Has(4)) { detail = $"tensor {i}: truncated sparse count"; return Fail(values); }
                        long count = br.U32();
                        int iw = numel <= 65536 ? 2 : 4, vw = c.Format == TensorFormat.Sparse ? 4 : 2;
                        if (count > numel) { detail = $"tensor {i}: {count} sparse values for {numel} elements"; return Fail(values); }
                        if (!br.Has(count * (iw + vw))) { detail = $"tensor {i}: truncated sparse values"; return Fail(values); }
                        var idx = new long[count];
                        for (long k = 0; k < count; k++)
                        {
                            idx[k] = iw == 2 ? br.U16() : br.U32();
                            if (idx[k] >= numel || (k > 0 && idx[k] <= idx[k - 1])) { detail = $"tensor {i}: sparse index {idx[k]} out of order or range"; return Fail(values); }
                        }
                        for (long k = 0; k < count; k++) data[idx[k]] = vw == 4 ? br.F32() : (float)BitConverter.UInt16BitsToHalf(br.U16());
                        break;
                    }
                    case TensorFormat.Quantized:
                    {
                        long packed = (numel * c.Bits + 7) / 8;
                        if (!br.Has(4 + packed)) { detail = $"tensor {i}: truncated quantized values"; return Fail(values); }
                        float scale = br.F32();
                        codings[i] = c with { Scale = scale };
                        ulong acc = 0;
                        int filled = 0;
                        ulong mask = (1UL << c.Bits) - 1;
                        for (long e = 0; e < numel; e++)
                        {
                            while (filled < c.Bits) { acc |= (ulong)br.U8() << filled; filled += 8; }
                            data[e] = TensorCoding.Dequantize((int)(acc & mask), c.Bits, scale);
                            acc >>= c.Bits;
                            filled -= c.Bits;
                        }
                        break;
                    }
                }
                values.Add(torch.tensor(data, shapes[i], dtype: ScalarType.Float32));
            }
        }
        catch
        {
            Fail(values);
            throw;
        }
        if (br.Remaining != 0) { detail = $"{br.Remaining} bytes after the values declared by the shapes"; return Fail(values); }
        bool half = codings.Length > 0 && codings.All(x => x.Format == TensorFormat.Float16);
        return new GroupPayload(key, sender, round, degree, values)
        {
            BytesPerElement = half ? 2 : 4,
            Codings = codings,
            Kind = delta ? PayloadKind.Delta : PayloadKind.Full,
            BaseRound = baseRound,
            Lossless = lz4 ? LosslessCodec.Lz4 : zstd ? LosslessCodec.Zstd : LosslessCodec.None,
        };
    }

    private static GroupPayload? Fail(List<Tensor> made)
    {
        foreach (var t in made) t.Dispose();
        return null;
    }

    private ref struct SpanWriter(Span<byte> buf)
    {
        private readonly Span<byte> _buf = buf;
        private int _pos;
        public void U8(byte v) => _buf[_pos++] = v;
        public void U16(ushort v) { BinaryPrimitives.WriteUInt16LittleEndian(_buf[_pos..], v); _pos += 2; }
        public void U32(uint v) { BinaryPrimitives.WriteUInt32LittleEndian(_buf[_pos..], v); _pos += 4; }
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
        public uint U32() { var v = BinaryPrimitives.ReadUInt32LittleEndian(_buf[_pos..]); _pos += 4; return v; }
        public int I32() { var v = BinaryPrimitives.ReadInt32LittleEndian(_buf[_pos..]); _pos += 4; return v; }
        public long I64() { var v = BinaryPrimitives.ReadInt64LittleEndian(_buf[_pos..]); _pos += 8; return v; }
        public float F32() { var v = BinaryPrimitives.ReadSingleLittleEndian(_buf[_pos..]); _pos += 4; return v; }
        public ReadOnlySpan<byte> Bytes(int n) { var s = _buf.Slice(_pos, n); _pos += n; return s; }
        public ReadOnlySpan<byte> Rest() { var s = _buf[_pos..]; _pos = _buf.Length; return s; }
    }
}
