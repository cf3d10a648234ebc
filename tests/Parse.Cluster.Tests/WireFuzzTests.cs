using Akka.Actor;
using CsCheck;
using Parse.Cluster.Protocol;
using Parse.Cluster.Wire;

namespace Parse.Cluster.Tests;

/// <summary>
/// Property-based fuzzing (issue 10, item 7) of what a peer can put on the wire: the message serializer and the
/// chunk assembler. A malformed frame fails with <see cref="System.Runtime.Serialization.SerializationException"/>
/// (Akka drops and logs it), a bad chunk with <see cref="InvalidDataException"/>; nothing else escapes, and the
/// assembler's memory stays bounded. <c>PARSE_FUZZ_ITERATIONS</c> scales the count (default 1,000; docs/reliability.md).
/// </summary>
public class WireFuzzTests
{
    private static long Iterations => long.TryParse(Environment.GetEnvironmentVariable("PARSE_FUZZ_ITERATIONS"), out long n) && n > 0 ? n : 1000;

    private static Gen<byte[]> Mutations(byte[] seed) =>
        Gen.Select(Gen.Int[0, 5], Gen.Int[0, int.MaxValue].Array[1, 6], Gen.Byte.Array[1, 6], (op, pos, vals) =>
        {
            var b = new List<byte>(seed);
            for (int k = 0; k < pos.Length; k++)
            {
                int at = pos[k] % (b.Count + 1);
                byte v = vals[k % vals.Length];
                if (op <= 1 && at < b.Count) b[at] = v;
                else if (op == 2) b.Insert(at, v);
                else if (op == 3 && at < b.Count) b.RemoveAt(at);
                else if (op == 4 && k == 0) b.RemoveRange(at, b.Count - at);
                else if (op == 5 && at + 4 <= b.Count) { var big = BitConverter.GetBytes(int.MaxValue - v); for (int j = 0; j < 4; j++) b[at + j] = big[j]; }
            }
            return b.ToArray();
        });

    [Fact]
    public void Serializer_reads_or_refuses_every_frame()
    {
        using var system = ActorSystem.Create("fuzz");
        var ser = new MessageSerializer((ExtendedActorSystem)system);
        IWireMessage[] msgs =
        [
            new Challenge([1, 2, 3]), new Proof([1], [9, 9], [0, 4], [7, 7]), new Denied([2], "no", [3, 3]),
            new KeyHello(1, 2, ["a|1x2", "b"], true), new FloodState(3, 4, "k", 1, [5, 6], true),
            new PayloadChunk(1, 2, 77, 0, 1, [8, 8, 8]), new Finished(5, 6), new AgentsFinished([1, 4]),
            new JoinRequest(7, 8, 12, ["a|1x2", "b"]), new JoinChunk(8, 7, 5, 0, 2, 13, 3, [1, 2]),
            new Sealed(1, 2, 99, 5, 3, "X", [1, 2, 3], [4, 5]),
        ];
        var seeds = msgs.Select(m => (Manifest: ser.Manifest(m), Bytes: ser.ToBinary(m))).ToArray();
        var frames = Gen.Int[0, seeds.Length - 1].SelectMany(i => Gen.Frequency(
            (3, Mutations(seeds[i].Bytes)), (1, Gen.Byte.Array[0, 64])).Select(b => (seeds[i].Manifest, b)));
        var manifests = Gen.Frequency((9, frames), (1, Gen.Select(Gen.OneOfConst("", "Z", "XX", "c"), Gen.Byte.Array[0, 16])));
        manifests.Sample(f =>
        {
            try
            {
                var o = ser.FromBinary(f.Item2, f.Item1);
                Assert.IsAssignableFrom<IWireMessage>(o);
                // what was read can be written and read again (strings and varints need not be byte-canonical)
                var again = ser.FromBinary(ser.ToBinary(o), f.Item1);
                Assert.Equal(o.GetType(), again.GetType());
            }
            catch (System.Runtime.Serialization.SerializationException) { }
        }, iter: Iterations, threads: 1);
    }

    [Fact]
    public void Chunk_assembler_refuses_bad_chunks_and_stays_bounded()
    {
        const int max = 100;
        var chunk = Gen.Select(Gen.Int[0, 3], Gen.Long[0, 5], Gen.Int[-1, 6], Gen.Int[-1, 7], Gen.Int[0, 40]);
        chunk.Array[1, 40].Sample(ops =>
        {
            var a = new ChunkAssembler(max, maxPending: 4);
            foreach (var (sender, id, index, count, len) in ops)
            {
                try
                {
                    var whole = a.Add(sender, id, index, count, new byte[len]);
                    if (whole is not null) Assert.True(whole.Length <= Math.Max(max, len), $"assembled {whole.Length} bytes");
                }
                catch (InvalidDataException) { }
                Assert.InRange(a.PendingBytes, 0, 3L * max);
            }
        }, iter: Iterations);
    }

    [Fact]
    public void Chunks_in_any_order_reassemble_the_payload()
    {
        Gen.Select(Gen.Byte.Array[1, 300], Gen.Int[1, 64], Gen.Int[0, int.MaxValue]).Sample(t =>
        {
            var (payload, chunkBytes, shuffleSeed) = t;
            var parts = PayloadChunker.Split(payload, chunkBytes);
            var rng = new Random(shuffleSeed);
            var order = Enumerable.Range(0, parts.Count).OrderBy(_ => rng.Next()).ToList();
            var a = new ChunkAssembler(1 << 12);
            byte[]? whole = null;
            foreach (int i in order)
            {
                Assert.Null(whole);
                whole = a.Add(7, 42, i, parts.Count, parts[i]);
            }
            Assert.Equal(payload, whole);
            Assert.Equal(0, a.PendingBytes);
        }, iter: Iterations);
    }
}
