using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Parse.Cluster.Protocol;

/// <summary>Why an agent message was refused before it reached the agent.</summary>
public enum SealVerdict
{
    /// <summary>Authentic and fresh.</summary>
    Ok,
    /// <summary>No key for the sending process: it is not admitted (or was forgotten).</summary>
    UnknownPeer,
    /// <summary>The MAC does not verify under any key of the envelope's process: a forged sender, a non-member, a wrong secret or config.</summary>
    BadMac,
    /// <summary>The claimed sender agent is not hosted at the envelope's process, or the envelope is addressed to another agent.</summary>
    ForgedSender,
    /// <summary>The sequence number does not increase for this sender incarnation: a replay.</summary>
    Replayed,
}

/// <summary>
/// Seals agent messages into <see cref="Sealed"/> envelopes and checks them: HMAC-SHA256 over sender and receiver agent
/// ids, sender incarnation, sequence number, round, manifest and body under the pair key of <see cref="PeerKeys"/> (which
/// binds the config fingerprint); a strictly increasing sequence number per sender incarnation refuses replays.
/// One instance per receiving agent (not thread-safe).
/// </summary>
public sealed class MessageAuth(int self)
{
    /// <summary>The sender and receiver id of node-level (directory to directory) messages, e.g. <see cref="AgentsFinished"/>.</summary>
    public const int Node = -1;

    private const int IncarnationsPerSender = 8;
    // per sender agent: highest sequence number seen per incarnation (a few recent incarnations)
    private readonly Dictionary<int, List<(long Incarnation, long Seq)>> _seen = new();

    /// <summary>Wraps <paramref name="message"/> from agent <paramref name="from"/> to <paramref name="to"/>.</summary>
    public static Sealed Seal(object message, int from, int to, long incarnation, long seq, int round, byte[] key)
    {
        string manifest = WireCodec.Manifest(message);
        byte[] body = WireCodec.Encode(message);
        return new Sealed(from, to, incarnation, seq, round, manifest, body, Mac(key, from, to, incarnation, seq, round, manifest, body));
    }

    /// <summary>The envelope's MAC under <paramref name="key"/>.</summary>
    public static byte[] Mac(byte[] key, int from, int to, long incarnation, long seq, int round, string manifest, byte[] body)
    {
        using var h = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, key);
        Span<byte> header = stackalloc byte[36];
        BinaryPrimitives.WriteInt32LittleEndian(header, from);
        BinaryPrimitives.WriteInt32LittleEndian(header[4..], to);
        BinaryPrimitives.WriteInt64LittleEndian(header[8..], incarnation);
        BinaryPrimitives.WriteInt64LittleEndian(header[16..], seq);
        BinaryPrimitives.WriteInt32LittleEndian(header[24..], round);
        BinaryPrimitives.WriteInt32LittleEndian(header[28..], manifest.Length);
        BinaryPrimitives.WriteInt32LittleEndian(header[32..], body.Length);
        h.AppendData(Encoding.ASCII.GetBytes("parse-sealed-v1|"));
        h.AppendData(header);
        h.AppendData(Encoding.UTF8.GetBytes(manifest));
        h.AppendData(body);
        return h.GetHashAndReset();
    }

    /// <summary>
    /// Checks <paramref name="m"/> arriving from a process whose keys are <paramref name="keys"/> and which was admitted
    /// hosting <paramref name="hostedThere"/> (null = not known yet: the sender check is left to the caller's admission
    /// check). On <see cref="SealVerdict.Ok"/> the sequence number is recorded.
    /// </summary>
    public SealVerdict Check(Sealed m, IReadOnlyList<byte[]> keys, Func<int, bool>? hostedThere)
    {
        if (keys.Count == 0) return SealVerdict.UnknownPeer;
        bool ok = false;
        foreach (var k in keys)
            if (CryptographicOperations.FixedTimeEquals(Mac(k, m.From, m.To, m.Incarnation, m.Seq, m.Round, m.Manifest, m.Body), m.Mac)) { ok = true; break; }
        if (!ok) return SealVerdict.BadMac;
        if (m.To != self || hostedThere is not null && !hostedThere(m.From)) return SealVerdict.ForgedSender;
        if (!_seen.TryGetValue(m.From, out var list)) _seen[m.From] = list = new();
        int i = list.FindIndex(x => x.Incarnation == m.Incarnation);
        if (i >= 0)
        {
            if (m.Seq <= list[i].Seq) return SealVerdict.Replayed;
            list.RemoveAt(i);
        }
        list.Insert(0, (m.Incarnation, m.Seq));
        if (list.Count > IncarnationsPerSender) list.RemoveAt(list.Count - 1);
        return SealVerdict.Ok;
    }

    /// <summary>
    /// The node-level message inside an envelope that passed <see cref="Check"/> (sender and receiver <see cref="Node"/>);
    /// throws <see cref="System.Runtime.Serialization.SerializationException"/> if malformed or not a node message.
    /// </summary>
    public static AgentsFinished OpenNode(Sealed m)
    {
        if (m.From != Node || m.To != Node)
            throw new System.Runtime.Serialization.SerializationException($"envelope {m.From}->{m.To} is not node to node");
        return WireCodec.Decode(m.Body, m.Manifest) as AgentsFinished
               ?? throw new System.Runtime.Serialization.SerializationException($"'{m.Manifest}' is not a node message");
    }

    /// <summary>The message inside an envelope that passed <see cref="Check"/>; throws <see cref="System.Runtime.Serialization.SerializationException"/> if malformed or not an agent message, or if it names other agents than the envelope.</summary>
    public static object Open(Sealed m)
    {
        var inner = WireCodec.Decode(m.Body, m.Manifest);
        (int from, int to) = inner switch
        {
            KeyHello h => (h.From, h.To), FloodState f => (f.From, f.To), PayloadChunk c => (c.From, c.To), Finished e => (e.From, e.To),
            JoinRequest j => (j.From, j.To), JoinChunk x => (x.From, x.To),
            _ => throw new System.Runtime.Serialization.SerializationException($"'{m.Manifest}' is not an agent message"),
        };
        if (from != m.From || to != m.To)
            throw new System.Runtime.Serialization.SerializationException($"envelope says {m.From}->{m.To}, message says {from}->{to}");
        return inner;
    }
}
