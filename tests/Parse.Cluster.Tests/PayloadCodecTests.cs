using Parse.Cluster.Wire;
using Parse.Federation.Payload;
using TorchSharp;

namespace Parse.Cluster.Tests;

public class PayloadCodecTests
{
    private static readonly long[][] Shapes = [[4, 3], [4]];

    private static PayloadKeys Keys
    {
        get
        {
            var keys = new PayloadKeys();
            keys.Add("head/redundant|4x3;4", Shapes);
            return keys;
        }
    }

    private static GroupPayload Sample(float fill = 0.5f) =>
        new("head/redundant|4x3;4", Sender: 7, Round: 12, SenderDegree: 3,
            [torch.arange(12, dtype: torch.float32).reshape(4, 3) * fill, torch.full(4, fill)]);

    [Fact]
    public void Round_trip_keeps_key_header_shapes_and_values()
    {
        using var scope = torch.NewDisposeScope();
        var p = Sample();
        var bytes = PayloadCodec.Encode(p);
        var q = PayloadCodec.TryDecode(bytes, 1 << 20, Keys, out _, out _);
        Assert.NotNull(q);
        Assert.Equal((p.Key, p.Sender, p.Round, p.SenderDegree), (q!.Key, q.Sender, q.Round, q.SenderDegree));
        Assert.Equal(2, q.Values.Count);
        Assert.Equal(new long[] { 4, 3 }, q.Values[0].shape);
        Assert.True(q.Values[0].allclose(p.Values[0], rtol: 0, atol: 0));
        Assert.True(q.Values[1].allclose(p.Values[1], rtol: 0, atol: 0));
        // compact: 16 floats + a header of magic, version, flags, three 1-byte varints, the key id, the tensor count and
        // one coding byte per tensor (the shapes come from the receiver's key)
        Assert.Equal(4 + 1 + 1 + 3 + 8 + 1 + 2 + 16 * 4, bytes.Length);
        Assert.Equal(bytes.Length, p.WireBytes);
    }

    [Fact]
    public void Float16_payloads_use_two_bytes_per_value()
    {
        using var scope = torch.NewDisposeScope();
        var p = PayloadPipeline.Create(["float16"]).Outgoing(Sample());
        var bytes = PayloadCodec.Encode(p);
        var q = PayloadCodec.TryDecode(bytes, 1 << 20, Keys, out _, out _)!;
        Assert.Equal(2, q.BytesPerElement);
        Assert.True(q.Values[0].allclose(p.Values[0], rtol: 1e-3, atol: 1e-3));
        Assert.Equal(PayloadCodec.Encode(Sample()).Length - 16 * 2, bytes.Length);
    }

    [Fact]
    public void Truncated_garbage_and_inconsistent_bytes_are_malformed()
    {
        using var scope = torch.NewDisposeScope();
        var bytes = PayloadCodec.Encode(Sample());
        foreach (var bad in new[] { bytes[..10], bytes[..^1], "hello world, not a payload"u8.ToArray(), bytes.Concat(new byte[4]).ToArray(), Array.Empty<byte>() })
        {
            Assert.Null(PayloadCodec.TryDecode(bad, 1 << 20, Keys, out var reason, out string detail));
            Assert.Equal(RejectReason.Malformed, reason);
            Assert.NotEmpty(detail);
        }
        var wrongVersion = (byte[])bytes.Clone();
        wrongVersion[4] = 99;
        Assert.Null(PayloadCodec.TryDecode(wrongVersion, 1 << 20, Keys, out var r2, out _));
        Assert.Equal(RejectReason.Malformed, r2);
    }

    [Fact]
    public void Oversize_payloads_are_rejected_before_decoding()
    {
        using var scope = torch.NewDisposeScope();
        var bytes = PayloadCodec.Encode(Sample());
        Assert.Null(PayloadCodec.TryDecode(bytes, bytes.Length - 1, Keys, out var reason, out _));
        Assert.Equal(RejectReason.Oversize, reason);
    }

    [Fact]
    public void Decoded_payloads_go_through_the_same_validation_chain_as_the_simulator()
    {
        using var scope = torch.NewDisposeScope();
        var pipeline = PayloadPipeline.Create([]);
        var good = PayloadCodec.TryDecode(PayloadCodec.Encode(Sample()), 1 << 20, Keys, out _, out _)!;
        long[][] shapes = [[4, 3], [4]];
        Assert.NotNull(pipeline.Incoming(good, shapes, good.Key, out _));
        Assert.Null(pipeline.Incoming(good, shapes, "head/other|4x3;4", out var r1));
        Assert.Equal(RejectReason.UnknownKey, r1);
        Assert.Null(pipeline.Incoming(good, [[3, 4], [4]], good.Key, out var r2));
        Assert.Equal(RejectReason.WrongShape, r2);
        var nan = PayloadCodec.TryDecode(PayloadCodec.Encode(Sample(float.NaN)), 1 << 20, Keys, out _, out _)!;
        Assert.Null(pipeline.Incoming(nan, shapes, nan.Key, out var r3));
        Assert.Equal(RejectReason.NonFinite, r3);
    }

    [Fact]
    public void Large_payloads_are_chunked_and_reassembled_in_any_order()
    {
        var bytes = Enumerable.Range(0, 10_000).Select(i => (byte)i).ToArray();
        var chunks = PayloadChunker.Split(bytes, 1024);
        Assert.Equal(10, chunks.Count);
        var asm = new ChunkAssembler(maxBytes: 1 << 20);
        byte[]? whole = null;
        foreach (int i in new[] { 3, 0, 9, 1, 2, 4, 5, 6, 8, 7 })
        {
            var r = asm.Add(sender: 1, id: 42, index: i, count: chunks.Count, chunks[i]);
            if (r is not null) whole = r;
        }
        Assert.Equal(bytes, whole);
        Assert.Single(PayloadChunker.Split(bytes, 1 << 20));
    }

    [Fact]
    public void Inconsistent_or_oversize_chunk_sets_are_refused()
    {
        var asm = new ChunkAssembler(maxBytes: 2000);
        Assert.Throws<InvalidDataException>(() => asm.Add(1, 1, 5, 3, new byte[10]));
        asm.Add(1, 2, 0, 3, new byte[10]);
        Assert.Throws<InvalidDataException>(() => asm.Add(1, 2, 0, 3, new byte[10]));
        Assert.Throws<InvalidDataException>(() => asm.Add(1, 2, 1, 4, new byte[10]));
        asm.Add(1, 3, 0, 3, new byte[1000]);
        Assert.Throws<InvalidDataException>(() => asm.Add(1, 3, 1, 3, new byte[1001]));
    }

    [Fact]
    public void Forged_chunk_counts_allocate_nothing_and_incomplete_messages_stay_within_twice_the_limit()
    {
        var asm = new ChunkAssembler(maxBytes: 10_000);
        long before = GC.GetAllocatedBytesForCurrentThread();
        // a chunk that declares ten million parts must not make the receiver allocate for them
        Assert.Null(asm.Add(7, 1, 0, 10_000, new byte[8]));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 100_000);
        // many incomplete messages: the oldest are dropped so that at most 2 x maxBytes stay buffered
        for (long id = 2; id < 40; id++) asm.Add(7, id, 0, 3, new byte[1_000]);
        Assert.True(asm.PendingBytes <= 20_000, $"{asm.PendingBytes} bytes pending");
        Assert.True(asm.Dropped > 0);
        // a message still completes after all that
        Assert.Null(asm.Add(8, 1, 0, 2, new byte[5]));
        Assert.Equal(9, asm.Add(8, 1, 1, 2, new byte[4])!.Length);
    }
}
