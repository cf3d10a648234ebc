using Parse.Federation.Payload;
using TorchSharp;

namespace Parse.Tests;

public class PayloadCodecFormatTests
{
    private const int Limit = 1 << 22;

    private static GroupPayload Dense(params long[][] shapes)
    {
        var gen = new Random(5);
        var values = shapes.Select(s =>
        {
            long n = s.Aggregate(1L, (a, b) => a * b);
            return torch.tensor(Enumerable.Range(0, (int)n).Select(_ => (float)(gen.NextDouble() * 2 - 1)).ToArray(), s);
        }).ToList();
        return new GroupPayload(KeyOf(shapes), 3, 9, 2, values);
    }

    private static string KeyOf(long[][] shapes) => "enc/a/mlp/trunk|" + string.Join(';', shapes.Select(s => string.Join('x', s)));

    /// <summary>The receiver's keys: those of <see cref="Make"/>'s two payload shapes.</summary>
    private static PayloadKeys Keys()
    {
        var keys = new PayloadKeys();
        foreach (var shapes in new[] { new long[][] { [12, 5], [5] }, [[300, 300], [7]] }) keys.Add(KeyOf(shapes), shapes);
        return keys;
    }

    /// <summary>Every format the codec knows, on small and large (u32-index) tensors, with and without LZ4 and the delta header.</summary>
    public static IEnumerable<object[]> Formats()
    {
        yield return ["float32"];
        yield return ["float16"];
        yield return ["sparse"];
        yield return ["sparse-large"];
        yield return ["sparse-half"];
        yield return ["qsgd-1"];
        yield return ["qsgd-3"];
        yield return ["qsgd-8"];
        yield return ["qsgd-16"];
        yield return ["qsgd-zero-2"];
        yield return ["qsgd-zero-4"];
        yield return ["qsgd-zero-16"];
        yield return ["qsgd-zero-4+zstd"];
        yield return ["lz4"];
        yield return ["top-k+f16+lz4"];
        yield return ["zstd"];
        yield return ["qsgd-4+zstd"];
        yield return ["top-k+f16+zstd"];
        yield return ["delta"];
    }

    private static GroupPayload Make(string format)
    {
        var p = format == "sparse-large" ? Dense([300, 300], [7]) : Dense([12, 5], [5]);
        var delta = p with { Kind = PayloadKind.Delta, BaseRound = 8 };
        switch (format)
        {
            case "float32": return p;
            case "float16": return new Float16Compressor().Outgoing(p);
            case "sparse": case "sparse-large": return new TopKCompressor().Outgoing(delta);
            case "sparse-half": return new Float16Compressor().Outgoing(new TopKCompressor().Outgoing(delta));
            case "lz4": return new Lz4Compressor().Outgoing(p);
            case "top-k+f16+lz4": return new Lz4Compressor().Outgoing(new Float16Compressor().Outgoing(new TopKCompressor().Outgoing(delta)));
            case "delta": return delta;
            case "zstd": return new ZstdCompressor().Outgoing(p);
            case "qsgd-4+zstd": return new ZstdCompressor().Outgoing(new StochasticQuantizer(4, seed: 1).Outgoing(delta));
            case "qsgd-zero-4+zstd": return new ZstdCompressor().Outgoing(new StochasticQuantizer(4, seed: 1, zeroLevel: true).Outgoing(delta));
            case "top-k+f16+zstd": return new ZstdCompressor().Outgoing(new Float16Compressor().Outgoing(new TopKCompressor().Outgoing(delta)));
            case var z when z.StartsWith("qsgd-zero-"):
                return new StochasticQuantizer(int.Parse(z["qsgd-zero-".Length..]), seed: 1, zeroLevel: true).Outgoing(delta);
            default:
                int bits = int.Parse(format["qsgd-".Length..]);
                return new StochasticQuantizer(bits, seed: 1).Outgoing(delta);
        }
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void Every_format_round_trips_exactly_and_its_size_is_the_encoded_length(string format)
    {
        using var scope = torch.NewDisposeScope();
        var p = Make(format);
        var bytes = PayloadCodec.Encode(p);
        Assert.Equal(bytes.Length, PayloadCodec.EncodedSize(p));
        Assert.Equal(bytes.Length, p.WireBytes);
        var q = PayloadCodec.TryDecode(bytes, Limit, PayloadKeys.Of(p), out _, out string detail);
        Assert.True(q is not null, detail);
        Assert.Equal((p.Key, p.Sender, p.Round, p.SenderDegree, p.Kind, p.Lossless), (q!.Key, q.Sender, q.Round, q.SenderDegree, q.Kind, q.Lossless));
        if (p.Kind == PayloadKind.Delta) Assert.Equal(8, q.BaseRound);
        for (int i = 0; i < p.Values.Count; i++)
        {
            Assert.Equal(p.Values[i].shape, q.Values[i].shape);
            Assert.Equal(p.Values[i].data<float>().ToArray(), q.Values[i].data<float>().ToArray());   // bit-exact
        }
        // re-encoding what was decoded gives the same bytes
        Assert.Equal(bytes, PayloadCodec.Encode(q));
    }

    [Fact]
    public void Compressed_formats_are_smaller_by_the_expected_amount()
    {
        using var scope = torch.NewDisposeScope();
        var p = Dense([100, 100]);
        long dense = PayloadCodec.EncodedSize(p);
        long header = dense - 40_000;
        var delta = p with { Kind = PayloadKind.Delta };
        Assert.Equal(header + 20_000, PayloadCodec.EncodedSize(new Float16Compressor().Outgoing(p)));
        // top-k 10%: count + 1000 x (u16 index + f32 value), plus the base round of a difference (a 1-byte varint)
        Assert.Equal(header + 1 + 4 + 1000 * 6, PayloadCodec.EncodedSize(new TopKCompressor().Outgoing(delta)));
        // 4-bit quantization: scale + 10,000 x 4 bits (the bits share the tensor's coding byte), plus the base round
        Assert.Equal(header + 1 + 4 + 5000, PayloadCodec.EncodedSize(new StochasticQuantizer(4).Outgoing(delta)));
        // a "sparse" tensor that is mostly non-zero is written dense
        var full = p with { Kind = PayloadKind.Delta, Codings = [new TensorCoding(TensorFormat.Sparse)] };
        Assert.Equal(dense + 1, PayloadCodec.EncodedSize(full));
        // the header: magic, version, flags, sender 3, round 9, degree 2 (varints), key id, tensor count, one coding byte
        Assert.Equal(4 + 1 + 1 + 3 + 8 + 1 + 1, header);
    }

    [Fact]
    public void Zstd_entropy_codes_concentrated_quantized_levels_well_below_lz4()
    {
        using var scope = torch.NewDisposeScope();
        // a difference with one large value and the rest small: at 4 bits nearly every level is 7 or 8 (one bit of entropy)
        var gen = new Random(3);
        var v = Enumerable.Range(0, 20_000).Select(_ => (float)(gen.NextDouble() * 0.02 - 0.01)).ToArray();
        v[17] = 1f;
        var delta = new GroupPayload("enc/a/mlp/trunk|20000", 1, 2, 2, [torch.tensor(v)]) { Kind = PayloadKind.Delta };
        var q = new StochasticQuantizer(4, seed: 2).Outgoing(delta);
        long packed = PayloadCodec.EncodedSize(q), lz4 = PayloadCodec.EncodedSize(new Lz4Compressor().Outgoing(q));
        var z = new ZstdCompressor().Outgoing(q);
        long zstd = PayloadCodec.EncodedSize(z);
        Assert.True(packed > 10_000, $"packed {packed}");
        // entropy is about 1 bit per value (2,500 bytes): zstd gets under a third of the packed size, LZ4 (repeats only) does not
        Assert.True(lz4 > packed / 2, $"lz4 {lz4} vs packed {packed}");
        Assert.True(zstd < packed / 3, $"zstd {zstd} vs packed {packed}");
        Assert.True(zstd < lz4 / 2, $"zstd {zstd} vs lz4 {lz4}");
        var back = PayloadCodec.TryDecode(PayloadCodec.Encode(z), Limit, PayloadKeys.Of(z), out _, out string detail);
        Assert.True(back is not null, detail);
        Assert.Equal(q.Values[0].data<float>().ToArray(), back!.Values[0].data<float>().ToArray());
    }

    [Fact]
    public void A_corrupt_zstd_body_or_both_lossless_flags_are_malformed()
    {
        using var scope = torch.NewDisposeScope();
        var p = Make("float32");
        var z = PayloadCodec.Encode(new ZstdCompressor().Outgoing(p));
        int bodyAt = (int)PayloadCodec.EncodedSize(p) - 65 * 4;   // same header; the body starts with the raw length
        // the raw length (a 2-byte varint: 260), the frame header descriptor (0x5A sets its reserved bit), the block
        // header (no checksum: like LZ4, integrity of the values is the transport's job)
        foreach (int at in new[] { bodyAt, bodyAt + 1, bodyAt + 2, bodyAt + 4 })
        {
            var bad = (byte[])z.Clone();
            bad[at] ^= 0x5A;
            Assert.Null(PayloadCodec.TryDecode(bad, Limit, Keys(), out var r, out string d));
            Assert.Equal(RejectReason.Malformed, r);
            Assert.NotEmpty(d);
        }
        var both = (byte[])z.Clone();
        both[5] |= 2;   // LZ4 and Zstandard flags together
        Assert.Null(PayloadCodec.TryDecode(both, Limit, Keys(), out var r2, out string d2));
        Assert.Equal(RejectReason.Malformed, r2);
        Assert.Contains("flags", d2);
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void Every_truncation_and_trailing_garbage_is_malformed_never_an_exception(string format)
    {
        using var scope = torch.NewDisposeScope();
        var bytes = PayloadCodec.Encode(Make(format));
        int step = Math.Max(1, bytes.Length / 200);
        for (int n = 0; n < bytes.Length; n += step)
        {
            Assert.Null(PayloadCodec.TryDecode(bytes.AsSpan(0, n), Limit, Keys(), out var reason, out string detail));
            Assert.Equal(RejectReason.Malformed, reason);
            Assert.NotEmpty(detail);
        }
        Assert.Null(PayloadCodec.TryDecode([.. bytes, 1, 2, 3], Limit, Keys(), out var r2, out _));
        Assert.Equal(RejectReason.Malformed, r2);
    }

    [Fact]
    public void Corrupt_fields_are_malformed_and_huge_declarations_oversize()
    {
        using var scope = torch.NewDisposeScope();
        var sparse = PayloadCodec.Encode(Make("sparse"));
        int header = sparse.Length - (int)(4 + 6 * 6 + 4 + 1 * 6);   // body of tensor 0: count + 6 x (u16, f32); tensor 1: count + 1 x (u16, f32)
        // swap two sparse indices: out of order
        var swapped = (byte[])sparse.Clone();
        (swapped[header + 4], swapped[header + 6]) = (swapped[header + 6], swapped[header + 4]);
        (swapped[header + 5], swapped[header + 7]) = (swapped[header + 7], swapped[header + 5]);
        Assert.Null(PayloadCodec.TryDecode(swapped, Limit, Keys(), out var r1, out string d1));
        Assert.Equal(RejectReason.Malformed, r1);
        Assert.Contains("sparse index", d1);

        // unknown flags, unknown format, bits out of range
        var bad = PayloadCodec.Encode(Make("float32"));
        var flags = (byte[])bad.Clone();
        flags[5] = 0x80;
        Assert.Null(PayloadCodec.TryDecode(flags, Limit, Keys(), out var r2, out _));
        Assert.Equal(RejectReason.Malformed, r2);
        // magic, version, flags, sender, round, degree, base round (varints), key id, count; tensor 0's coding byte:
        // the format in the low 4 bits, bits - 1 in the high 4
        const int codingAt = 4 + 1 + 1 + 1 + 1 + 1 + 1 + 8 + 1;
        var q = PayloadCodec.Encode(Make("qsgd-3"));
        Assert.Equal((byte)((int)TensorFormat.Quantized | (2 << 4)), q[codingAt]);
        var z = PayloadCodec.Encode(Make("qsgd-zero-2"));
        Assert.Equal((byte)((int)TensorFormat.QuantizedZero | (1 << 4)), z[codingAt]);
        foreach (var (frame, coding, what) in new[]
        {
            (q, (byte)7, "unknown format"),
            (q, (byte)0x11, "bits"),   // float32 with bits
            (z, (byte)TensorFormat.QuantizedZero, "bits"),   // a zero-level grid of 1 bit
        })
        {
            var copy = (byte[])frame.Clone();
            copy[codingAt] = coding;
            Assert.Null(PayloadCodec.TryDecode(copy, Limit, Keys(), out var r3, out string d3));
            Assert.Equal(RejectReason.Malformed, r3);
            Assert.Contains(what, d3);
        }
        // on a 2-bit zero-level grid (levels 0, 1, 2) the code 3 is no level
        var top = (byte[])z.Clone();
        top[codingAt + 2 + 4] |= 3;   // tensor 0's first level, after both coding bytes and its scale
        Assert.Null(PayloadCodec.TryDecode(top, Limit, Keys(), out var r6, out string d6));
        Assert.Equal(RejectReason.Malformed, r6);
        Assert.Contains("level 3", d6);

        // LZ4 body whose declared length is a lie
        var lz = PayloadCodec.Encode(Make("lz4"));
        int bodyAt = (int)PayloadCodec.EncodedSize(Make("float32")) - 65 * 4;   // same header; the body starts with the raw length
        var lie = (byte[])lz.Clone();
        lie[bodyAt] ^= 0x01;
        Assert.Null(PayloadCodec.TryDecode(lie, Limit, Keys(), out var r4, out _));
        Assert.Equal(RejectReason.Malformed, r4);

        // a tiny sparse payload declaring more elements than the limit allows is refused before any allocation
        Assert.Null(PayloadCodec.TryDecode(PayloadCodec.Encode(Make("sparse-large")), 50_000, Keys(), out var r5, out _));
        Assert.Equal(RejectReason.Oversize, r5);
    }

    [Fact]
    public void A_key_id_the_receiver_does_not_hold_is_an_unknown_key_and_other_header_faults_are_malformed()
    {
        using var scope = torch.NewDisposeScope();
        var p = Make("float32");
        var bytes = PayloadCodec.Encode(p);
        // only the receiver's keys resolve: another key (even with the same shapes) is refused before any value is read
        var other = new PayloadKeys();
        other.Add("enc/b/mlp/trunk|12x5;5", [[12, 5], [5]]);
        Assert.Null(PayloadCodec.TryDecode(bytes, Limit, other, out var r1, out string d1));
        Assert.Equal(RejectReason.UnknownKey, r1);
        Assert.Contains("key id", d1);
        // the key id is a 64-bit hash of the key's UTF-8 bytes, at a fixed place after the varints
        Assert.Equal(PayloadKeys.IdOf(p.Key), BitConverter.ToUInt64(bytes, 4 + 1 + 1 + 3));
        // a frame of the previous format (version 2, key string and shapes) is refused with the reason
        var old = (byte[])bytes.Clone();
        old[4] = 2;
        Assert.Null(PayloadCodec.TryDecode(old, Limit, Keys(), out var r2, out string d2));
        Assert.Equal(RejectReason.Malformed, r2);
        Assert.Contains("version 2", d2);
        // a tensor count other than the key's
        var count = (byte[])bytes.Clone();
        count[4 + 1 + 1 + 3 + 8] = 3;
        Assert.Null(PayloadCodec.TryDecode(count, Limit, Keys(), out var r3, out string d3));
        Assert.Equal(RejectReason.Malformed, r3);
        Assert.Contains("3 tensors", d3);
        // a varint that is not in its shortest form (sender 3 as 0x83 0x00) or runs past 5 bytes
        byte[] overlong = [.. bytes[..6], 0x83, 0x00, .. bytes[7..]];
        Assert.Null(PayloadCodec.TryDecode(overlong, Limit, Keys(), out var r4, out _));
        Assert.Equal(RejectReason.Malformed, r4);
        byte[] endless = [.. bytes[..6], 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, .. bytes[7..]];
        Assert.Null(PayloadCodec.TryDecode(endless, Limit, Keys(), out var r5, out _));
        Assert.Equal(RejectReason.Malformed, r5);
    }

    [Fact]
    public void Varint_header_fields_round_trip_at_their_size_boundaries()
    {
        using var scope = torch.NewDisposeScope();
        var p = Make("delta");
        long small = PayloadCodec.EncodedSize(p);
        foreach (var (sender, round, baseRound, extra) in new[] { (127, 127, 127, 0), (128, 200, 16_384, 1 + 1 + 2), (int.MaxValue, 1 << 21, 0, 4 + 3) })
        {
            var big = p with { Sender = sender, Round = round, BaseRound = baseRound };
            var bytes = PayloadCodec.Encode(big);
            Assert.Equal(small + extra, bytes.Length);
            var q = PayloadCodec.TryDecode(bytes, Limit, Keys(), out _, out string detail);
            Assert.True(q is not null, detail);
            Assert.Equal((sender, round, baseRound), (q!.Sender, q.Round, q.BaseRound));
        }
    }

    [Fact]
    public void Key_tables_refuse_a_key_added_with_other_shapes()
    {
        var keys = new PayloadKeys();
        keys.Add("head/redundant|10x16;10", [[10, 16], [10]]);
        keys.Add("head/redundant|10x16;10", [[10, 16], [10]]);   // again, the same: nothing happens
        Assert.Equal(1, keys.Count);
        Assert.Throws<ArgumentException>(() => keys.Add("head/redundant|10x16;10", [[16, 10], [10]]));
        Assert.True(keys.TryResolve(PayloadKeys.IdOf("head/redundant|10x16;10"), out string key, out var shapes));
        Assert.Equal("head/redundant|10x16;10", key);
        Assert.Equal(new long[] { 10, 16 }, shapes[0]);
        Assert.False(keys.TryResolve(PayloadKeys.IdOf("head/redundant|10x16"), out _, out _));
    }

    [Fact]
    public void Values_replaced_after_quantization_are_sent_as_float32_so_decoding_stays_exact()
    {
        using var scope = torch.NewDisposeScope();
        var q = Make("qsgd-3");
        var tampered = q with { Values = q.Values.Select(v => v + 0.001f).ToList() };
        var back = PayloadCodec.TryDecode(PayloadCodec.Encode(tampered), Limit, Keys(), out _, out _)!;
        Assert.All(back.Codings!, c => Assert.Equal(TensorFormat.Float32, c.Format));
        Assert.Equal(tampered.Values[0].data<float>().ToArray(), back.Values[0].data<float>().ToArray());
    }
}
