namespace Parse.Cluster.Wire;

/// <summary>Splits an encoded payload into chunks of at most a given size.</summary>
public static class PayloadChunker
{
    /// <summary>The chunks of <paramref name="bytes"/> (one chunk if it fits).</summary>
    public static IReadOnlyList<byte[]> Split(byte[] bytes, int chunkBytes)
    {
        if (bytes.Length <= chunkBytes) return [bytes];
        var chunks = new List<byte[]>();
        for (int start = 0; start < bytes.Length; start += chunkBytes)
            chunks.Add(bytes.AsSpan(start, Math.Min(chunkBytes, bytes.Length - start)).ToArray());
        return chunks;
    }
}

/// <summary>
/// Reassembles chunked payloads per (sender, message id). Bounded: a message whose chunk count exceeds
/// <c>ceil(maxBytes / chunkBytes)</c>, whose chunk exceeds <c>chunkBytes</c> or whose total size exceeds <c>maxBytes</c> is
/// refused; at most <c>maxPending</c> incomplete messages are kept in all and <c>maxPendingPerSender</c> per sender
/// (oldest dropped).
/// </summary>
public sealed class ChunkAssembler(int maxBytes, int maxPending = 64, int chunkBytes = 0, int maxPendingPerSender = int.MaxValue)
{
    private readonly int _maxCount = chunkBytes > 0 ? (int)Math.Min(int.MaxValue, ((long)maxBytes + chunkBytes - 1) / chunkBytes) : maxBytes;

    // parts are kept as they arrive (no array sized by the declared count: a forged count must not allocate memory)
    private readonly Dictionary<(int Sender, long Id), (Dictionary<int, byte[]> Parts, int Count, long Bytes)> _pending = new();
    private readonly Queue<(int, long)> _order = new();
    private long _pendingBytes;

    /// <summary>Incomplete messages dropped because too many were pending, or too many bytes.</summary>
    public int Dropped { get; private set; }

    /// <summary>Bytes held in incomplete messages (bounded by twice the largest accepted payload).</summary>
    public long PendingBytes => _pendingBytes;

    /// <summary>
    /// Adds a chunk; returns the whole message when its last chunk arrives, otherwise null.
    /// Throws <see cref="InvalidDataException"/> for inconsistent or oversize chunk sets.
    /// </summary>
    public byte[]? Add(int sender, long id, int index, int count, byte[] data)
    {
        if (count < 1 || index < 0 || index >= count || count > _maxCount)
            throw new InvalidDataException($"chunk {index}/{count} from agent {sender} is out of range (at most {_maxCount} chunks)");
        if (chunkBytes > 0 && data.Length > chunkBytes)
            throw new InvalidDataException($"chunk {index}/{count} from agent {sender} has {data.Length} bytes (at most {chunkBytes})");
        if (count == 1) return data;
        var k = (sender, id);
        if (!_pending.TryGetValue(k, out var e))
        {
            e = (new Dictionary<int, byte[]>(), count, 0);
            // per sender: a new message drops that sender's oldest incomplete ones beyond the cap
            var mine = _order.Where(o => o.Item1 == sender && _pending.ContainsKey(o)).ToList();
            for (int i = 0; i + maxPendingPerSender <= mine.Count; i++) Drop(mine[i]);
            _order.Enqueue(k);
            while (_pending.Count >= maxPending && _order.TryDequeue(out var old)) Drop(old);
        }
        if (e.Count != count) throw new InvalidDataException($"message {id} from agent {sender}: chunk count changed");
        if (e.Parts.ContainsKey(index)) throw new InvalidDataException($"message {id} from agent {sender}: chunk {index} repeated");
        e.Parts[index] = data;
        e.Bytes += data.Length;
        _pendingBytes += data.Length;
        if (e.Bytes > maxBytes)
        {
            _pending[k] = e;
            Drop(k);
            throw new InvalidDataException($"message {id} from agent {sender}: exceeds {maxBytes} bytes");
        }
        _pending[k] = e;
        // all incomplete messages together stay within twice the largest payload: the oldest go first
        while (_pendingBytes > 2L * maxBytes && _order.Count > 0)
        {
            var oldest = _order.Dequeue();
            if (!oldest.Equals(k)) { Drop(oldest); continue; }
            _order.Enqueue(oldest);
            if (_pending.Count == 1) break;
        }
        if (e.Parts.Count < count) return null;
        _pending.Remove(k);
        _pendingBytes -= e.Bytes;
        var whole = new byte[e.Bytes];
        int pos = 0;
        for (int c = 0; c < count; c++) { e.Parts[c].CopyTo(whole, pos); pos += e.Parts[c].Length; }
        return whole;
    }

    private void Drop((int, long) key)
    {
        if (!_pending.Remove(key, out var e)) return;
        _pendingBytes -= e.Bytes;
        Dropped++;
    }
}
