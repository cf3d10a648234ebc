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
    private readonly Dictionary<(int Sender, long Id), (byte[]?[] Parts, int Have, long Bytes)> _pending = new();
    private readonly Queue<(int, long)> _order = new();

    /// <summary>Incomplete messages dropped because too many were pending.</summary>
    public int Dropped { get; private set; }

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
            e = (new byte[]?[count], 0, 0);
            _order.Enqueue(k);
            while (_pending.Count >= maxPending && _order.TryDequeue(out var old))
                if (_pending.Remove(old)) Dropped++;
        }
        if (e.Parts.Length != count) throw new InvalidDataException($"message {id} from agent {sender}: chunk count changed");
        if (e.Parts[index] is not null) throw new InvalidDataException($"message {id} from agent {sender}: chunk {index} repeated");
        e.Parts[index] = data;
        e.Have++;
        e.Bytes += data.Length;
        if (e.Bytes > maxBytes) { _pending.Remove(k); throw new InvalidDataException($"message {id} from agent {sender}: exceeds {maxBytes} bytes"); }
        if (e.Have < count) { _pending[k] = e; return null; }
        _pending.Remove(k);
        var whole = new byte[e.Bytes];
        int pos = 0;
        foreach (var part in e.Parts) { part!.CopyTo(whole, pos); pos += part!.Length; }
        return whole;
    }
}
