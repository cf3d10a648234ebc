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
        return new GroupPayload("enc/a/mlp/trunk|" + string.Join(';', shapes.Select(s => string.Join('x', s))), 3, 9, 2, values);
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
            case "top-k+f16+zstd": return new ZstdCompressor().Outgoing(new Float16Compressor().Outgoing(new TopKCompressor().Outgoing(delta)));
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
        var q = PayloadCodec.TryDecode(bytes, Limit, out _, out string detail);
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
        // top-k 10%: count + 1000 x (u16 index + f32 value), plus the 4-byte base round of a difference
        Assert.Equal(header + 4 + 4 + 1000 * 6, PayloadCodec.EncodedSize(new TopKCompressor().Outgoing(delta)));
        // 4-bit quantization: scale + 10,000 x 4 bits, plus the bits byte in the header
        Assert.Equal(header + 4 + 1 + 4 + 5000, PayloadCodec.EncodedSize(new StochasticQuantizer(4).Outgoing(delta)));
        // a "sparse" tensor that is mostly non-zero is written dense
        var full = p with { Kind = PayloadKind.Delta, Codings = [new TensorCoding(TensorFormat.Sparse)] };
        Assert.Equal(dense + 4, PayloadCodec.EncodedSize(full));
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
        var back = PayloadCodec.TryDecode(PayloadCodec.Encode(z), Limit, out _, out string detail);
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
        // the raw length, the frame's magic number (no checksum: like LZ4, integrity of the values is the transport's job)
        foreach (int at in new[] { bodyAt, bodyAt + 1, bodyAt + 4, bodyAt + 7 })
        {
            var bad = (byte[])z.Clone();
            bad[at] ^= 0x5A;
            Assert.Null(PayloadCodec.TryDecode(bad, Limit, out var r, out string d));
            Assert.Equal(RejectReason.Malformed, r);
            Assert.NotEmpty(d);
        }
        var both = (byte[])z.Clone();
        both[5] |= 2;   // LZ4 and Zstandard flags together
        Assert.Null(PayloadCodec.TryDecode(both, Limit, out var r2, out string d2));
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
            Assert.Null(PayloadCodec.TryDecode(bytes.AsSpan(0, n), Limit, out var reason, out string detail));
            Assert.Equal(RejectReason.Malformed, reason);
            Assert.NotEmpty(detail);
        }
        Assert.Null(PayloadCodec.TryDecode([.. bytes, 1, 2, 3], Limit, out var r2, out _));
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
        Assert.Null(PayloadCodec.TryDecode(swapped, Limit, out var r1, out string d1));
        Assert.Equal(RejectReason.Malformed, r1);
        Assert.Contains("sparse index", d1);

        // unknown flags, unknown format, bits out of range
        var bad = PayloadCodec.Encode(Make("float32"));
        var flags = (byte[])bad.Clone();
        flags[5] = 0x80;
        Assert.Null(PayloadCodec.TryDecode(flags, Limit, out var r2, out _));
        Assert.Equal(RejectReason.Malformed, r2);
        var q = PayloadCodec.Encode(Make("qsgd-3"));
        // magic, version, flags, sender, round, degree, base round, key, count; tensor 0: rank, 2 dims, format, bits
        int bitsAt = 4 + 1 + 1 + 12 + 4 + 2 + Make("qsgd-3").Key.Length + 2 + 1 + 16 + 1;
        Assert.Equal((byte)TensorFormat.Quantized, q[bitsAt - 1]);
        Assert.Equal(3, q[bitsAt]);
        foreach (byte b in new byte[] { 0, 17 })
        {
            var copy = (byte[])q.Clone();
            copy[bitsAt] = b;
            Assert.Null(PayloadCodec.TryDecode(copy, Limit, out var r3, out string d3));
            Assert.Equal(RejectReason.Malformed, r3);
            Assert.Contains("bits", d3);
        }

        // LZ4 body whose declared length is a lie
        var lz = PayloadCodec.Encode(Make("lz4"));
        int bodyAt = (int)PayloadCodec.EncodedSize(Make("float32")) - 65 * 4;   // same header; the body starts with the raw length
        var lie = (byte[])lz.Clone();
        lie[bodyAt] ^= 0x01;
        Assert.Null(PayloadCodec.TryDecode(lie, Limit, out var r4, out _));
        Assert.Equal(RejectReason.Malformed, r4);

        // a tiny sparse payload declaring more elements than the limit allows is refused before any allocation
        Assert.Null(PayloadCodec.TryDecode(PayloadCodec.Encode(Make("sparse-large")), 50_000, out var r5, out _));
        Assert.Equal(RejectReason.Oversize, r5);
    }

    [Fact]
    public void Values_replaced_after_quantization_are_sent_as_float32_so_decoding_stays_exact()
    {
        using var scope = torch.NewDisposeScope();
        var q = Make("qsgd-3");
        var tampered = q with { Values = q.Values.Select(v => v + 0.001f).ToList() };
        var back = PayloadCodec.TryDecode(PayloadCodec.Encode(tampered), Limit, out _, out _)!;
        Assert.All(back.Codings!, c => Assert.Equal(TensorFormat.Float32, c.Format));
        Assert.Equal(tampered.Values[0].data<float>().ToArray(), back.Values[0].data<float>().ToArray());
    }
}
