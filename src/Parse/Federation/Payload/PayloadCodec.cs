using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text;
using K4os.Compression.LZ4;
using ZstdSharp;
using ZstdSharp.Unsafe;
using TorchSharp;
using static TorchSharp.torch;

namespace Parse.Federation.Payload;

/// <summary>
/// The binary form of a <see cref="GroupPayload"/>, used by the cluster transport and, for counting bytes, by the
/// simulator (<see cref="GroupPayload.WireBytes"/> is <see cref="EncodedSize"/>). Little-endian, "varint" = unsigned
/// LEB128 (7 bits a byte, at most 5 bytes, at most <see cref="int.MaxValue"/>):
/// <code>
/// "PRSP" | version u8 (3) | flags u8 (bit 0: delta, bit 1: LZ4 body, bit 2: Zstandard body) |
/// sender varint | round varint | degree varint | [base round varint, delta only] | key id u64 (<see cref="PayloadKeys.IdOf"/>) |
/// tensor count varint | per tensor: coding u8 (format in the low 4 bits; bits - 1 in the high 4 bits, quantized only) |
/// body: [raw length varint + LZ4 block or magic-less Zstandard frame of] per tensor:
///   float32: n x f32 | float16: n x f16 |
///   sparse: count u32, indices (u16 if n &lt;= 65536 else u32, strictly increasing), count x f32 (f16 for SparseHalf) |
///   quantized (either grid): scale f32, ceil(n x bits / 8) bytes of levels packed least significant bit first
/// </code>
/// The frame names its group by a 64-bit hash of the key and carries no shapes: the receiver resolves the id with its
/// own keys (<see cref="PayloadKeys"/>; the key spells the shapes), and refuses an id it does not hold as
/// <see cref="RejectReason.UnknownKey"/>. A sparse tensor is written dense when that is smaller, and a quantized one
/// whose values are not on its grid (e.g. values replaced after quantization) as float32: the decoded values always
/// equal the payload's values. Decoding checks the framing (size limit, lengths, tensor count against the key's,
/// indices, levels); shape and finiteness checks are the receiver's <see cref="PayloadPipeline"/>, the same one the
/// simulator runs.
/// </summary>
public static class PayloadCodec
{
    private static ReadOnlySpan<byte> Magic => "PRSP"u8;
    /// <summary>Format version written and accepted (3: key id instead of key and shapes, varints; 2 and older are refused).</summary>
    public const byte Version = 3;
    private const int MaxTensors = 1024;
    private const byte FlagDelta = 1, FlagLz4 = 2, FlagZstd = 4;
    private const int KeyIdBytes = 8;

    /// <summary>The Zstandard compression level of <see cref="LosslessCodec.Zstd"/> bodies (fixed, so sizes are reproducible).</summary>
    public const int ZstdLevel = 19;
    private static readonly ConditionalWeakTable<GroupPayload, StrongBox<long>> Sizes = new();

    private sealed record Plan(TensorCoding Coding, float[] Data, int NonZero)
    {
        public TensorFormat Format => Coding.Format;
        public int IndexWidth => Data.Length <= 65536 ? 2 : 4;
        public int ValueWidth => Format is TensorFormat.Float16 or TensorFormat.SparseHalf ? 2 : 4;
        public long BodyBytes => Format switch
        {
            TensorFormat.Float32 => 4L * Data.Length,
            TensorFormat.Float16 => 2L * Data.Length,
            TensorFormat.Sparse or TensorFormat.SparseHalf => 4 + (long)NonZero * (IndexWidth + ValueWidth),
            _ => 4 + ((long)Data.Length * Coding.Bits + 7) / 8,
        };
    }

    /// <summary>
    /// The exact number of bytes <see cref="Encode"/> produces for <paramref name="p"/> (computed once per payload
    /// instance; with LZ4 or Zstandard the payload is encoded to know it).
    /// </summary>
    public static long EncodedSize(GroupPayload p) => Sizes.GetValue(p, x => new StrongBox<long>(ComputeSize(x))).Value;

    private static long ComputeSize(GroupPayload p)
    {
        if (p.Lossless != LosslessCodec.None) return Encode(p).Length;
        if (Enumerable.Range(0, p.Values.Count).Any(i => p.CodingOf(i).IsQuantized)) return HeaderBytes(p) + Plans(p).Sum(x => x.BodyBytes);
        // without quantized tensors the size needs no copy of the values: dense sizes, and non-zero counts for sparse ones
        long total = HeaderBytes(p);
        for (int i = 0; i < p.Values.Count; i++)
        {
            var v = p.Values[i];
            var c = p.CodingOf(i);
            long n = v.numel();
            int width = c.Format is TensorFormat.Float16 or TensorFormat.SparseHalf ? 2 : 4;
            long dense = n * width;
            if (c.Format is TensorFormat.Sparse or TensorFormat.SparseHalf)
            {
                long nz;
                using (var count = v.count_nonzero()) nz = count.item<long>();
                total += Math.Min(dense, 4 + nz * ((n <= 65536 ? 2 : 4) + width));
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
            switch (c.Format)
            {
                case TensorFormat.Float32:
                case TensorFormat.Float16:
                    plans.Add(new Plan(new TensorCoding(c.Format), data, 0));
                    break;
                case TensorFormat.Sparse:
                case TensorFormat.SparseHalf:
                {
                    int nz = 0;
                    foreach (float f in data) if (f != 0 || float.IsNaN(f)) nz++;
                    var sparse = new Plan(new TensorCoding(c.Format), data, nz);
                    var dense = sparse with { Coding = new TensorCoding(c.Format == TensorFormat.Sparse ? TensorFormat.Float32 : TensorFormat.Float16) };
                    plans.Add(sparse.BodyBytes < dense.BodyBytes ? sparse : dense);
                    break;
                }
                case TensorFormat.Quantized:
                case TensorFormat.QuantizedZero:
                    bool bitsOk = c.Format == TensorFormat.Quantized ? c.Bits is >= 1 and <= 16 : c.Bits is >= 2 and <= 16;
                    bool onGrid = bitsOk && data.All(f => Level(f, c) >= 0);
                    plans.Add(onGrid ? new Plan(c, data, 0) : new Plan(TensorCoding.Float32, data, 0));
                    break;
                default:
                    throw new ArgumentException($"payload '{p.Key}': unknown tensor format {c.Format}");
            }
        }
        return plans;
    }

    /// <summary>The level of coding <paramref name="c"/>'s grid whose value is exactly <paramref name="f"/>, or -1.</summary>
    private static int Level(float f, TensorCoding c)
    {
        int top = c.TopLevel;
        if (c.Scale == 0) return f == 0 ? (c.Format == TensorFormat.QuantizedZero ? top / 2 : 0) : -1;
        double guess = c.Format == TensorFormat.QuantizedZero ? (double)f / c.Scale * (top / 2) + top / 2 : ((double)f / c.Scale * top + top) / 2;
        if (!double.IsFinite(guess)) return -1;
        int l = (int)Math.Clamp(Math.Round(guess), 0, top);
        for (int d = 0; d <= 1; d++)
        {
            if (l - d >= 0 && c.ValueOf(l - d) == f) return l - d;
            if (l + d <= top && c.ValueOf(l + d) == f) return l + d;
        }
        return -1;
    }

    private static int VarintBytes(long v)
    {
        int n = 1;
        while (v >= 0x80) { v >>= 7; n++; }
        return n;
    }

    private static long HeaderBytes(GroupPayload p)
    {
        if (p.Values.Count > MaxTensors) throw new ArgumentException($"payload '{p.Key}' has {p.Values.Count} tensors (at most {MaxTensors})");
        if (p.Sender < 0 || p.Round < 0 || p.SenderDegree < 0 || p.BaseRound < 0)
            throw new ArgumentException($"payload '{p.Key}': negative sender, round, degree or base round");
        return 4 + 1 + 1 + VarintBytes(p.Sender) + VarintBytes(p.Round) + VarintBytes(p.SenderDegree)
            + (p.Kind == PayloadKind.Delta ? VarintBytes(p.BaseRound) : 0) + KeyIdBytes + VarintBytes(p.Values.Count) + p.Values.Count;
    }

    /// <summary>Encodes a payload in the formats named by its <see cref="GroupPayload.Codings"/>.</summary>
    public static byte[] Encode(GroupPayload p)
    {
        var plans = Plans(p);
        long header = HeaderBytes(p);
        long body = plans.Sum(x => x.BodyBytes);
        if (header + body > int.MaxValue - 64) throw new ArgumentException($"payload '{p.Key}' too large to encode ({header + body} bytes)");
        var raw = new byte[body];
        var b = new SpanWriter(raw);
        foreach (var x in plans) WriteBody(ref b, x);

        byte[] stored = raw;
        if (p.Lossless == LosslessCodec.Lz4)
        {
            int prefix = VarintBytes(raw.Length);
            var packed = new byte[prefix + LZ4Codec.MaximumOutputSize(raw.Length)];
            new SpanWriter(packed).Varint(raw.Length);
            int n = raw.Length == 0 ? 0 : LZ4Codec.Encode(raw, packed.AsSpan(prefix));
            if (n < 0) throw new InvalidOperationException($"payload '{p.Key}': LZ4 encoding failed");
            stored = packed[..(prefix + n)];
        }
        else if (p.Lossless == LosslessCodec.Zstd)
        {
            using var zstd = new Compressor(ZstdLevel);
            // the raw length and the group are in our own header: no magic number, content size or dictionary id in the frame
            zstd.SetParameter(ZSTD_cParameter.ZSTD_c_experimentalParam2, (int)ZSTD_format_e.ZSTD_f_zstd1_magicless);
            zstd.SetParameter(ZSTD_cParameter.ZSTD_c_contentSizeFlag, 0);
            zstd.SetParameter(ZSTD_cParameter.ZSTD_c_dictIDFlag, 0);
            var frame = zstd.Wrap(raw);
            int prefix = VarintBytes(raw.Length);
            stored = new byte[prefix + frame.Length];
            new SpanWriter(stored).Varint(raw.Length);
            frame.CopyTo(stored.AsSpan(prefix));
        }
        var buf = new byte[header + stored.Length];
        var w = new SpanWriter(buf);
        w.Bytes(Magic);
        w.U8(Version);
        w.U8((byte)((p.Kind == PayloadKind.Delta ? FlagDelta : 0) | (p.Lossless == LosslessCodec.Lz4 ? FlagLz4 : 0) | (p.Lossless == LosslessCodec.Zstd ? FlagZstd : 0)));
        w.Varint(p.Sender);
        w.Varint(p.Round);
        w.Varint(p.SenderDegree);
        if (p.Kind == PayloadKind.Delta) w.Varint(p.BaseRound);
        w.U64(PayloadKeys.IdOf(p.Key));
        w.Varint(plans.Count);
        foreach (var x in plans) w.U8((byte)((int)x.Format | (x.Coding.IsQuantized ? (x.Coding.Bits - 1) << 4 : 0)));
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
            case TensorFormat.QuantizedZero:
            {
                w.F32(x.Coding.Scale);
                ulong acc = 0;
                int filled = 0;
                foreach (float f in x.Data)
                {
                    acc |= (ulong)Level(f, x.Coding) << filled;
                    filled += x.Coding.Bits;
                    while (filled >= 8) { w.U8((byte)acc); acc >>= 8; filled -= 8; }
                }
                if (filled > 0) w.U8((byte)acc);
                break;
            }
        }
    }

    /// <summary>
    /// Decodes bytes produced by <see cref="Encode"/>, resolving the group with <paramref name="keys"/> (the receiver's
    /// groups). Returns null with <see cref="RejectReason.Oversize"/>, <see cref="RejectReason.UnknownKey"/> (a key id
    /// <paramref name="keys"/> does not hold) or <see cref="RejectReason.Malformed"/> (and a detail message) when the
    /// bytes cannot be a valid payload: more than <paramref name="maxBytes"/> bytes, or a key whose tensors hold more
    /// than <paramref name="maxBytes"/> elements in all, are oversize. The returned tensors are dense float32 (holding
    /// exactly the encoded values), created in the caller's dispose scope; the payload keeps the formats it was sent in.
    /// </summary>
    public static GroupPayload? TryDecode(ReadOnlySpan<byte> bytes, int maxBytes, PayloadKeys keys, out RejectReason reason, out string detail)
    {
        try { return Decode(bytes, maxBytes, keys, out reason, out detail); }
        catch (Exception e) when (e is ArgumentOutOfRangeException or IndexOutOfRangeException or OverflowException)
        {
            reason = RejectReason.Malformed;
            detail = "truncated or inconsistent payload";
            return null;
        }
    }

    private static GroupPayload? Decode(ReadOnlySpan<byte> bytes, int maxBytes, PayloadKeys keys, out RejectReason reason, out string detail)
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
        if (!r.Has(4 + 1 + 1) || !r.Bytes(4).SequenceEqual(Magic)) { detail = "bad magic"; return null; }
        byte version = r.U8();
        if (version != Version) { detail = $"unknown version {version} (this build reads version {Version})"; return null; }
        byte flags = r.U8();
        if ((flags & ~(FlagDelta | FlagLz4 | FlagZstd)) != 0 || (flags & (FlagLz4 | FlagZstd)) == (FlagLz4 | FlagZstd)) { detail = $"unknown flags {flags}"; return null; }
        bool delta = (flags & FlagDelta) != 0, lz4 = (flags & FlagLz4) != 0, zstd = (flags & FlagZstd) != 0;
        if (!r.TryVarint(out int sender) || !r.TryVarint(out int round) || !r.TryVarint(out int degree)) { detail = "truncated or overlong header number"; return null; }
        int baseRound = 0;
        if (delta && !r.TryVarint(out baseRound)) { detail = "truncated or overlong base round"; return null; }
        if (!r.Has(KeyIdBytes)) { detail = "truncated key id"; return null; }
        ulong keyId = r.U64();
        if (!r.TryVarint(out int n)) { detail = "truncated tensor count"; return null; }
        if (n > MaxTensors) { detail = $"{n} tensors"; return null; }
        if (!keys.TryResolve(keyId, out string key, out var shapes))
        {
            reason = RejectReason.UnknownKey;
            detail = $"key id {keyId:x16} is not one of this agent's {keys.Count} keys";
            return null;
        }
        if (n != shapes.Count) { detail = $"{n} tensors for key '{key}', which has {shapes.Count}"; return null; }
        var codings = new TensorCoding[n];
        long elements = 0;
        for (int i = 0; i < n; i++)
        {
            long numel = shapes[i].Aggregate(1L, (a, b) => a * b);
            elements += numel;
            if (elements > maxBytes) { reason = RejectReason.Oversize; detail = $"{elements} elements > limit {maxBytes}"; return null; }
            if (!r.Has(1)) { detail = "truncated tensor codings"; return null; }
            byte coding = r.U8();
            int format = coding & 0xF, bits = (coding >> 4) + 1;
            if (format is < 1 or > 6) { detail = $"tensor {i}: unknown format {format}"; return null; }
            var f = (TensorFormat)format;
            if (f is TensorFormat.Quantized or TensorFormat.QuantizedZero)
            {
                if (f == TensorFormat.QuantizedZero && bits < 2) { detail = $"tensor {i}: {bits} bits per value on a grid with a zero level (at least 2)"; return null; }
                codings[i] = new TensorCoding(f, bits);
            }
            else
            {
                if (coding >> 4 != 0) { detail = $"tensor {i}: bits {bits} given for an unquantized format"; return null; }
                codings[i] = new TensorCoding(f);
            }
        }

        ReadOnlySpan<byte> body = r.Rest();
        if (lz4 || zstd)
        {
            string name = lz4 ? "LZ4" : "Zstandard";
            var br0 = new SpanReader(body);
            if (!br0.TryVarint(out int rawLen)) { detail = $"truncated {name} body"; return null; }
            // no valid body is larger than float32 values plus sparse counts and quantization scales
            if (rawLen > 4L * elements + 8L * n) { detail = $"{name} body declares {rawLen} bytes for {elements} values"; return null; }
            var packed = br0.Rest();
            var raw = new byte[rawLen];
            int got;
            if (lz4) got = rawLen == 0 && packed.Length == 0 ? 0 : LZ4Codec.Decode(packed, raw);
            else
                try
                {
                    using var unzstd = new Decompressor();
                    unzstd.SetParameter(ZSTD_dParameter.ZSTD_d_experimentalParam1, (int)ZSTD_format_e.ZSTD_f_zstd1_magicless);
                    got = unzstd.Unwrap(packed, raw);
                }
                catch (ZstdException e) { detail = $"Zstandard body does not decode: {e.Message}"; return null; }
            if (got != rawLen) { detail = $"{name} body does not decode to its declared length"; return null; }
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
                    case TensorFormat.QuantizedZero:
                    {
                        long packed = (numel * c.Bits + 7) / 8;
                        if (!br.Has(4 + packed)) { detail = $"tensor {i}: truncated quantized values"; return Fail(values); }
                        c = codings[i] = c with { Scale = br.F32() };
                        ulong acc = 0;
                        int filled = 0, top = c.TopLevel;
                        ulong mask = (1UL << c.Bits) - 1;
                        for (long e = 0; e < numel; e++)
                        {
                            while (filled < c.Bits) { acc |= (ulong)br.U8() << filled; filled += 8; }
                            int level = (int)(acc & mask);
                            if (level > top) { detail = $"tensor {i}: level {level} above the grid's top {top}"; return Fail(values); }
                            data[e] = c.ValueOf(level);
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
        public void U64(ulong v) { BinaryPrimitives.WriteUInt64LittleEndian(_buf[_pos..], v); _pos += 8; }
        public void F32(float v) { BinaryPrimitives.WriteSingleLittleEndian(_buf[_pos..], v); _pos += 4; }
        public void Bytes(ReadOnlySpan<byte> b) { b.CopyTo(_buf[_pos..]); _pos += b.Length; }
        public void Varint(int v)
        {
            uint u = (uint)v;
            while (u >= 0x80) { U8((byte)(u | 0x80)); u >>= 7; }
            U8((byte)u);
        }
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
        public ulong U64() { var v = BinaryPrimitives.ReadUInt64LittleEndian(_buf[_pos..]); _pos += 8; return v; }
        public float F32() { var v = BinaryPrimitives.ReadSingleLittleEndian(_buf[_pos..]); _pos += 4; return v; }
        public ReadOnlySpan<byte> Bytes(int n) { var s = _buf.Slice(_pos, n); _pos += n; return s; }
        public ReadOnlySpan<byte> Rest() { var s = _buf[_pos..]; _pos = _buf.Length; return s; }

        /// <summary>An unsigned LEB128 number of at most 5 bytes and at most int.MaxValue, in its shortest form; false if truncated, overlong or too large.</summary>
        public bool TryVarint(out int value)
        {
            value = 0;
            ulong v = 0;
            for (int i = 0; i < 5; i++)
            {
                if (Remaining < 1) return false;
                byte b = U8();
                v |= (ulong)(b & 0x7F) << (7 * i);
                if ((b & 0x80) == 0)
                {
                    if (i > 0 && b == 0) return false;   // not the shortest form
                    if (v > int.MaxValue) return false;
                    value = (int)v;
                    return true;
                }
            }
            return false;
        }
    }
}
