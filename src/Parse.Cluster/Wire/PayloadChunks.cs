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
/// Reassembles chunked payloads per (sender, message id). Bounded: a message whose chunk count or total size
/// exceeds the limit is refused, and at most <c>maxPending</c> incomplete messages are kept (oldest dropped).
/// </summary>
public sealed class ChunkAssembler(int maxBytes, int maxPending = 64)
{
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
        if (count < 1 || index < 0 || index >= count || count > maxBytes)
            throw new InvalidDataException($"chunk {index}/{count} from agent {sender} is out of range");
        if (count == 1) return data;
        var k = (sender, id);
        if (!_pending.TryGetValue(k, out var e))
        {
            e = (new Dictionary<int, byte[]>(), count, 0);
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
