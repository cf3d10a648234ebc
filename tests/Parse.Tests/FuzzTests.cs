using System.Text;
using CsCheck;
using Parse.Config;
using Parse.Data;
using Parse.Federation.Payload;
using TorchSharp;

namespace Parse.Tests;

/// <summary>How many inputs each fuzz property tries: 1,000 by default (CI), <c>PARSE_FUZZ_ITERATIONS</c> for a benchmark run.</summary>
internal static class Fuzz
{
    public static long Iterations => long.TryParse(Environment.GetEnvironmentVariable("PARSE_FUZZ_ITERATIONS"), out long n) && n > 0 ? n : 1000;

    /// <summary>
    /// Random edits of <paramref name="seed"/>: each input is the seed with a few bytes overwritten, inserted or deleted,
    /// or cut short. Mutations of valid input reach much deeper into a parser than uniform random bytes.
    /// </summary>
    public static Gen<byte[]> Mutations(byte[] seed) =>
        Gen.Select(Gen.Int[0, 7], Gen.Int[0, int.MaxValue].Array[1, 8], Gen.Byte.Array[1, 8], (op, pos, vals) =>
        {
            var b = new List<byte>(seed);
            for (int k = 0; k < pos.Length; k++)
            {
                int at = b.Count == 0 ? 0 : pos[k] % (b.Count + 1);
                byte v = vals[k % vals.Length];
                switch (op)
                {
                    case 0: case 1: case 2: if (at < b.Count) b[at] = v; break;                      // overwrite
                    case 3: b.Insert(at, v); break;                                                     // insert
                    case 4: if (at < b.Count) b.RemoveAt(at); break;                                    // delete
                    case 5: if (at < b.Count) b[at] ^= (byte)(1 << (v & 7)); break;                     // flip a bit
                    case 6: if (k == 0) b.RemoveRange(at, b.Count - at); break;                         // truncate
                    default:                                                                            // a huge length field
                        if (at + 4 <= b.Count) { var big = BitConverter.GetBytes(int.MaxValue - v); for (int j = 0; j < 4; j++) b[at + j] = big[j]; }
                        break;
                }
            }
            return b.ToArray();
        });

    /// <summary>Either random bytes or a mutation of <paramref name="seed"/>.</summary>
    public static Gen<byte[]> BytesNear(byte[] seed) => Gen.Frequency((1, Gen.Byte.Array[0, Math.Max(64, seed.Length * 2)]), (3, Mutations(seed)));
}

/// <summary>
/// Property-based fuzzing (issue 10, item 7) of the project's readers and codecs: every input either parses or is
/// refused with the reader's own exception (<see cref="ConfigException"/> naming the file and line, or a payload
/// reject reason); never IndexOutOfRange, NullReference, Overflow or another unhandled exception.
/// Count: <see cref="Fuzz.Iterations"/> per property (docs/reliability.md has the 10^5 run).
/// </summary>
public class FuzzTests
{
    private static GroupPayload Payload(string format)
    {
        var values = new List<torch.Tensor> { torch.linspace(-1, 1, 60).reshape(12, 5), torch.linspace(2, -2, 5) };
        var p = new GroupPayload("enc/a/mlp/trunk|12x5;5", 3, 9, 2, values);
        var delta = p with { Kind = PayloadKind.Delta, BaseRound = 8 };
        return format switch
        {
            "float16" => new Float16Compressor().Outgoing(p),
            "sparse" => new TopKCompressor().Outgoing(delta),
            "qsgd" => new StochasticQuantizer(3, seed: 1).Outgoing(delta),
            "lz4" => new Lz4Compressor().Outgoing(new Float16Compressor().Outgoing(new TopKCompressor().Outgoing(delta))),
            _ => p,
        };
    }

    [Theory]
    [InlineData("float32")]
    [InlineData("float16")]
    [InlineData("sparse")]
    [InlineData("qsgd")]
    [InlineData("lz4")]
    public void Payload_codec_decodes_or_rejects_every_input(string format)
    {
        byte[] valid;
        var keys = new PayloadKeys();
        using (torch.NewDisposeScope())
        {
            var p = Payload(format);
            valid = PayloadCodec.Encode(p);
            keys.Add(p.Key, p.Values.Select(v => v.shape).ToList());
        }
        Fuzz.BytesNear(valid).Sample(bytes =>
        {
            using var scope = torch.NewDisposeScope();
            var p = PayloadCodec.TryDecode(bytes, 1 << 16, keys, out var reason, out string detail);
            if (p is null) return reason is RejectReason.Malformed or RejectReason.Oversize or RejectReason.UnknownKey && detail.Length > 0;
            // what decodes is a consistent payload: re-encoding it decodes again to the same shapes
            var again = PayloadCodec.TryDecode(PayloadCodec.Encode(p), 1 << 20, keys, out _, out _);
            return again is not null && again.Values.Count == p.Values.Count
                && again.Values.Zip(p.Values).All(t => t.First.shape.SequenceEqual(t.Second.shape));
        }, iter: Fuzz.Iterations);
    }

    [Fact]
    public void Config_loader_accepts_or_names_the_problem_for_every_text()
    {
        byte[] valid = Encoding.UTF8.GetBytes(TestConfigs.Small);
        var tokens = Gen.OneOfConst("name", "rounds", "agents", "count", "model", "split", ":", ": ", "\n", "\n  ", "- ", "[", "]", "{", "}", ",",
            "&a ", "*a", "<<: *a", "'", "\"", "#", "!!int ", "!!binary ", "?", "|", ">", "1", "-1", "1e309", "2147483648", "null", "true", "~",
            "seed", "data", "strategy", "parse", "%YAML 1.2\n", "---\n", "...\n", "\t", "\\u0000", "é");
        var generated = tokens.Array[0, 60].Select(t => string.Concat(t));
        var mutated = Fuzz.Mutations(valid).Select(b => Encoding.UTF8.GetString(b));
        Gen.Frequency((1, generated), (2, mutated)).Sample(text =>
        {
            try { ConfigLoader.FromText(text, source: "<fuzz>"); }
            catch (ConfigException e) { Assert.False(string.IsNullOrWhiteSpace(e.Message)); }
        }, iter: Fuzz.Iterations);
    }

    [Fact]
    public void Set_overrides_accept_or_name_the_argument_for_every_string()
    {
        var keys = Gen.OneOfConst("rounds", "agents.count", "model.split", "sim.parallelism", "data.noise", "name", "a..b", "", ".", "topology",
            "model.encoders.default.kind", "eval.every", "seed", "train.lr", "mixing.rule", "x.y.z");
        var values = Gen.OneOfConst("1", "0", "-5", "abc", "[1,2,3]", "[1,2", "{a: 1}", "*a", "&a 3", "'", "null", "", "1e400", "9999999999", "true",
            "[8,[8],8]", "{", "!!binary AAA", "ring", "/tmp/x", "..");
        Gen.Select(keys, Gen.OneOfConst("=", "", "=="), values).Array[1, 4].Sample(sets =>
        {
            var args = sets.Select(s => s.Item1 + s.Item2 + s.Item3).ToArray();
            try { TestConfigs.Load(args); }
            catch (ConfigException e) { Assert.False(string.IsNullOrWhiteSpace(e.Message)); }
        }, iter: Fuzz.Iterations);
    }

    [Fact]
    public void Csv_reader_parses_or_names_file_and_line()
    {
        byte[] valid = Encoding.UTF8.GetBytes("id,label,x1,x2\n1,0,0.5,\"a,b\"\n2,1,-1,\"say \"\"hi\"\"\"\n3,0,1e3,\n");
        var cells = Gen.OneOfConst("a", "1", "-2.5", ",", "\"", "\"\"", "\n", "\r\n", " ", "NaN", "\"x\ny\"", "é", "\0");
        Gen.Frequency((1, cells.Array[0, 40].Select(c => string.Concat(c))), (2, Fuzz.Mutations(valid).Select(b => Encoding.UTF8.GetString(b))))
            .Sample(text =>
            {
                try
                {
                    var t = CsvTable.Read(new StringReader(text), "fuzz.csv");
                    Assert.All(t.Rows, r => Assert.Equal(t.Header.Length, r.Length));
                    Assert.Equal(t.Rows.Count, t.Lines.Count);
                }
                catch (ConfigException e) { Assert.Contains("fuzz.csv", e.Message); }
            }, iter: Fuzz.Iterations);
    }

    [Fact]
    public void Wav_reader_decodes_or_names_the_file()
    {
        Fuzz.BytesNear(InputHardeningTests.Wav(64)).Sample(bytes =>
        {
            try
            {
                var w = WavReader.Parse(bytes, "fuzz.wav");
                Assert.True(w.Samples.Length > 0 && w.SampleRate > 0);
                Assert.All(w.Samples, s => Assert.InRange(s, -1f, 1f));
            }
            catch (ConfigException e) { Assert.Contains("fuzz.wav", e.Message); }
        }, iter: Fuzz.Iterations);
    }

    [Fact]
    public void Idx_reader_reads_or_names_the_file()
    {
        var valid = new List<byte> { 0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 2 };
        valid.AddRange(Enumerable.Range(0, 12).Select(i => (byte)i));
        Fuzz.BytesNear(valid.ToArray()).Sample(bytes =>
        {
            try
            {
                var a = IdxReader.Read(new MemoryStream(bytes), "fuzz.idx");
                Assert.Equal(a.Dims.Aggregate(1L, (x, y) => x * y), a.Data.LongLength);
            }
            catch (ConfigException e) { Assert.Contains("fuzz.idx", e.Message); }
        }, iter: Fuzz.Iterations);
        // the same through a stream of unknown length (what a gzip file gives): a huge declared size allocates nothing up front
        var huge = new byte[] { 0, 0, 8, 1, 0x10, 0, 0, 0, 1, 2, 3 };   // declares 256 MiB, holds 3 bytes
        Assert.Contains("truncated", Assert.Throws<ConfigException>(() => IdxReader.Read(new NonSeekable(huge), "fuzz.idx")).Message);
    }

    /// <summary>A read-only stream that cannot seek (like GZipStream).</summary>
    private sealed class NonSeekable(byte[] data) : Stream
    {
        private readonly MemoryStream _s = new(data);
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => _s.Read(buffer, offset, count);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
