using System.Runtime.Serialization;

namespace Parse.Cluster.Protocol;

/// <summary>
/// The binary encoding of every <see cref="IWireMessage"/> (used by <see cref="MessageSerializer"/> and for the body of a
/// <see cref="Sealed"/> envelope). Reading is defensive: lengths are bounded by the remaining bytes, so a malformed
/// frame fails with <see cref="SerializationException"/>.
/// </summary>
public static class WireCodec
{
    /// <summary>The short manifest of a message type.</summary>
    public static string Manifest(object o) => o switch
    {
        Challenge => "C", Proof => "P", Denied => "D", KeyHello => "K", FloodState => "F", PayloadChunk => "X", Finished => "E", Sealed => "S", AgentsFinished => "G", JoinRequest => "J", JoinChunk => "W",
        _ => throw new ArgumentException($"cannot serialize {o.GetType()}"),
    };

    /// <summary>Encodes a message.</summary>
    public static byte[] Encode(object o)
    {
        var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms))
        {
            switch (o)
            {
                case Challenge c: Bytes(w, c.Nonce); break;
                case Proof p: Bytes(w, p.Nonce); Bytes(w, p.Mac); Ints(w, p.Agents); Bytes(w, p.Fingerprint); break;
                case Denied d: Bytes(w, d.Nonce); w.Write(d.Reason); Bytes(w, d.Mac); break;
                case KeyHello k:
                    w.Write(k.From); w.Write(k.To); w.Write(k.Reply); w.Write(k.Keys.Length);
                    foreach (var s in k.Keys) w.Write(s);
                    break;
                case FloodState f: w.Write(f.From); w.Write(f.To); w.Write(f.Key); w.Write(f.Component); Ints(w, f.Holders); w.Write(f.Settled); break;
                case PayloadChunk x: w.Write(x.From); w.Write(x.To); w.Write(x.MessageId); w.Write(x.Index); w.Write(x.Count); Bytes(w, x.Data); break;
                case Finished e: w.Write(e.From); w.Write(e.To); break;
                case AgentsFinished g: Ints(w, g.Agents); break;
                case JoinRequest j:
                    w.Write(j.From); w.Write(j.To); w.Write(j.FirstRound); w.Write(j.Keys.Length);
                    foreach (var k in j.Keys) w.Write(k);
                    break;
                case JoinChunk x:
                    w.Write(x.From); w.Write(x.To); w.Write(x.MessageId); w.Write(x.Index); w.Write(x.Count); w.Write(x.Next); w.Write(x.Total);
                    Bytes(w, x.Data);
                    break;
                case Sealed s:
                    w.Write(s.From); w.Write(s.To); w.Write(s.Incarnation); w.Write(s.Seq); w.Write(s.Round); w.Write(s.Manifest);
                    Bytes(w, s.Body); Bytes(w, s.Mac);
                    break;
                default: throw new ArgumentException($"cannot serialize {o.GetType()}");
            }
        }
        return ms.ToArray();
    }

    /// <summary>Decodes a message; throws <see cref="SerializationException"/> for anything malformed.</summary>
    public static object Decode(byte[] bytes, string manifest)
    {
        try
        {
            using var r = new BinaryReader(new MemoryStream(bytes));
            object o = manifest switch
            {
                "C" => new Challenge(Bytes(r)),
                "P" => new Proof(Bytes(r), Bytes(r), Ints(r), Bytes(r)),
                "D" => new Denied(Bytes(r), r.ReadString(), Bytes(r)),
                "K" => ReadHello(r),
                "F" => new FloodState(r.ReadInt32(), r.ReadInt32(), r.ReadString(), r.ReadInt32(), Ints(r), r.ReadBoolean()),
                "X" => new PayloadChunk(r.ReadInt32(), r.ReadInt32(), r.ReadInt64(), r.ReadInt32(), r.ReadInt32(), Bytes(r)),
                "E" => new Finished(r.ReadInt32(), r.ReadInt32()),
                "G" => new AgentsFinished(Ints(r)),
                "J" => ReadJoinRequest(r),
                "W" => new JoinChunk(r.ReadInt32(), r.ReadInt32(), r.ReadInt64(), r.ReadInt32(), r.ReadInt32(), r.ReadInt32(), r.ReadInt32(), Bytes(r)),
                "S" => new Sealed(r.ReadInt32(), r.ReadInt32(), r.ReadInt64(), r.ReadInt64(), r.ReadInt32(), r.ReadString(), Bytes(r), Bytes(r)),
                _ => throw new SerializationException($"unknown manifest '{manifest}'"),
            };
            if (r.BaseStream.Position != bytes.Length) throw new SerializationException("trailing bytes");
            return o;
        }
        catch (Exception e) when (e is EndOfStreamException or IOException or FormatException or OverflowException or ArgumentException)
        {
            throw new SerializationException($"malformed '{manifest}' message: {e.Message}", e);
        }
    }

    private static KeyHello ReadHello(BinaryReader r)
    {
        int from = r.ReadInt32(), to = r.ReadInt32();
        bool reply = r.ReadBoolean();
        int n = Count(r, 1);
        var keys = new string[n];
        for (int i = 0; i < n; i++) keys[i] = r.ReadString();
        return new KeyHello(from, to, keys, reply);
    }

    private static JoinRequest ReadJoinRequest(BinaryReader r)
    {
        int from = r.ReadInt32(), to = r.ReadInt32(), first = r.ReadInt32();
        var keys = new string[Count(r, 1)];
        for (int i = 0; i < keys.Length; i++) keys[i] = r.ReadString();
        return new JoinRequest(from, to, first, keys);
    }

    private static void Bytes(BinaryWriter w, byte[] b) { w.Write(b.Length); w.Write(b); }
    private static byte[] Bytes(BinaryReader r) => r.ReadBytes(Count(r, 1));
    private static void Ints(BinaryWriter w, int[] a) { w.Write(a.Length); foreach (int i in a) w.Write(i); }

    private static int[] Ints(BinaryReader r)
    {
        var a = new int[Count(r, 4)];
        for (int i = 0; i < a.Length; i++) a[i] = r.ReadInt32();
        return a;
    }

    private static int Count(BinaryReader r, int width)
    {
        int n = r.ReadInt32();
        if (n < 0 || (long)n * width > r.BaseStream.Length - r.BaseStream.Position) throw new EndOfStreamException($"bad length {n}");
        return n;
    }
}
