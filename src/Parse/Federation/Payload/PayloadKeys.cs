using System.Text;

namespace Parse.Federation.Payload;

/// <summary>
/// The group keys a receiver can decode, by their 64-bit wire id (<see cref="IdOf"/>). A payload on the wire names its
/// group by this id instead of the key string and carries no tensor shapes: the key (which already spells the shapes,
/// see <see cref="Model.ParameterGroup.KeyOf"/>) and the shapes come from the receiver's own groups, the only ones it
/// can mix anyway. An id the table does not hold is refused (<see cref="RejectReason.UnknownKey"/>).
/// </summary>
public sealed class PayloadKeys
{
    private readonly Dictionary<ulong, (string Key, long[][] Shapes)> _byId = new();

    /// <summary>An empty table.</summary>
    public PayloadKeys() { }

    /// <summary>A table of <paramref name="groups"/> (their keys and per-agent shapes).</summary>
    public PayloadKeys(IEnumerable<Model.ParameterGroup> groups)
    {
        foreach (var g in groups) Add(g.Key, g.Shapes);
    }

    /// <summary>A table of the keys and value shapes of <paramref name="payloads"/> (for tests and tools).</summary>
    public static PayloadKeys Of(params GroupPayload[] payloads)
    {
        var t = new PayloadKeys();
        foreach (var p in payloads) t.Add(p.Key, p.Values.Select(v => v.shape).ToList());
        return t;
    }

    /// <summary>Number of keys held.</summary>
    public int Count => _byId.Count;

    /// <summary>
    /// Adds a key with its tensor shapes. Adding the same key again with the same shapes does nothing; a different key
    /// with the same id (a 64-bit hash collision) or the same key with other shapes is an error.
    /// </summary>
    public void Add(string key, IReadOnlyList<long[]> shapes)
    {
        ulong id = IdOf(key);
        var copy = shapes.Select(s => s.ToArray()).ToArray();
        if (_byId.TryGetValue(id, out var have))
        {
            if (have.Key != key) throw new ArgumentException($"payload keys '{have.Key}' and '{key}' have the same wire id {id:x16}");
            if (!have.Shapes.Length.Equals(copy.Length) || have.Shapes.Zip(copy).Any(t => !t.First.SequenceEqual(t.Second)))
                throw new ArgumentException($"payload key '{key}' added with two different shapes");
            return;
        }
        _byId[id] = (key, copy);
    }

    /// <summary>The key and shapes of wire id <paramref name="id"/>, if held.</summary>
    public bool TryResolve(ulong id, out string key, out IReadOnlyList<long[]> shapes)
    {
        if (_byId.TryGetValue(id, out var e)) { key = e.Key; shapes = e.Shapes; return true; }
        key = "";
        shapes = [];
        return false;
    }

    /// <summary>The wire id of a key: 64-bit FNV-1a of its UTF-8 bytes (the same on every agent and runtime).</summary>
    public static ulong IdOf(string key)
    {
        ulong h = 14695981039346656037UL;
        foreach (byte b in Encoding.UTF8.GetBytes(key))
        {
            h ^= b;
            h *= 1099511628211UL;
        }
        return h;
    }
}
