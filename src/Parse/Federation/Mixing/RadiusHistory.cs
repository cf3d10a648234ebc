using System.Runtime.CompilerServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Parse.Federation.Mixing;

/// <summary>
/// How clipped gossip chooses its radius when <c>mixing.clip</c> is unset (<c>mixing.radius</c>).
/// </summary>
public enum ClipRadius
{
    /// <summary>The median of the round's neighbour distances (the neighbours alone decide).</summary>
    Median,

    /// <summary>
    /// <c>mixing.radius_factor</c> x the lower median of a pool that the agent's own history anchors: its own update
    /// norms (how far its values moved since it last mixed) and the neighbour distances it accepted (after clipping)
    /// over the last <see cref="RadiusHistory.Window"/> rounds, plus this round's distances. See
    /// <see cref="ClippedGossipMixer"/>.
    /// </summary>
    OwnHistory,
}

/// <summary>
/// What the agents of one store remember between rounds for <see cref="ClipRadius.OwnHistory"/>, one row per agent
/// slot: its values right after it last mixed (rows of one stacked tensor, so that a batch reads and writes them with
/// one <c>index_select</c> and one <c>index_copy_</c>) and the distances of its last <see cref="Window"/> rounds. A
/// store is the stacked parameters of a group (one row per agent of the stacked model) or, for an agent mixed alone,
/// its group's tensors (one row).
/// </summary>
internal sealed class RadiusHistory(int rows)
{
    /// <summary>Rounds of distances remembered.</summary>
    public const int Window = 5;

    private readonly Queue<double[]>?[] _rounds = new Queue<double[]>?[rows];
    private readonly bool[] _has = new bool[rows];

    /// <summary>Agent slots.</summary>
    public int Rows => rows;

    /// <summary>Every slot's flat values after its last mixing, [rows, P] (detached from any dispose scope), or null before the first.</summary>
    public Tensor? Last { get; private set; }

    /// <summary>True if <paramref name="row"/> has mixed since <see cref="Last"/> was allocated.</summary>
    public bool Has(long row) => _has[row];

    /// <summary>The remembered distances of a slot's last rounds, oldest first.</summary>
    public IEnumerable<double[]> RoundsOf(long row) => _rounds[row] ?? Enumerable.Empty<double[]>();

    /// <summary>The number of remembered distances of a slot.</summary>
    public int PoolCount(long row) => _rounds[row]?.Sum(r => r.Length) ?? 0;

    /// <summary>Copies the remembered distances of a slot into <paramref name="into"/> from index 0; returns how many.</summary>
    public int CopyPool(long row, double[] into)
    {
        int n = 0;
        if (_rounds[row] is { } q)
            foreach (var r in q)
            {
                r.CopyTo(into, n);
                n += r.Length;
            }
        return n;
    }

    /// <summary>Adds one round's distances (own update norm, accepted neighbour distances) of a slot, forgetting its oldest round.</summary>
    public void Remember(long row, double[] round)
    {
        var q = _rounds[row] ??= new Queue<double[]>();
        q.Enqueue(round);
        while (q.Count > Window) q.Dequeue();
    }

    /// <summary>
    /// The remembered values of the slots <paramref name="index"/> (an Int64 tensor of <paramref name="slots"/>), [B, P],
    /// or null when none of them has any of width <paramref name="width"/>.
    /// </summary>
    public Tensor? LastOf(long[] slots, Tensor index, long width) =>
        Last is { } last && last.shape[1] == width && slots.Any(s => _has[s]) ? last.index_select(0, index) : null;

    /// <summary>Stores each batch agent's mixed values <paramref name="values"/> ([B, P]) as its slot's (<paramref name="index"/>) last values.</summary>
    public void Keep(long[] slots, Tensor index, Tensor values)
    {
        long width = values.shape[1];
        if (Last is null || Last.shape[1] != width || Last.dtype != values.dtype)
        {
            // a group whose size changed starts afresh (its own update is unknown for one round)
            Last?.Dispose();
            Last = torch.zeros([rows, width], dtype: values.dtype).DetachFromDisposeScope();
            Array.Clear(_has);
        }
        Last.index_copy_(0, index, values);
        foreach (long s in slots) _has[s] = true;
    }

    /// <summary>Restores one slot (a checkpoint): its last values (null: none) and its remembered rounds, oldest first.</summary>
    public void Restore(long row, float[]? last, IEnumerable<double[]> rounds)
    {
        if (last is not null)
        {
            using var scope = torch.NewDisposeScope();
            using var index = torch.tensor(new[] { row }, dtype: ScalarType.Int64);
            Keep([row], index, torch.tensor(last).reshape(1, -1));
        }
        _rounds[row] = null;
        foreach (var r in rounds) Remember(row, r);
    }
}

/// <summary>
/// <see cref="RadiusHistory"/> by store (the stacked parameters, or an agent's group tensors), released with the store.
/// Thread-safe lookup: stores mix in parallel (each store is mixed by one thread at a time).
/// </summary>
internal sealed class RadiusHistories
{
    private readonly ConditionalWeakTable<object, RadiusHistory> _byStore = new();

    /// <summary>The history of <paramref name="store"/> with <paramref name="rows"/> agent slots, created empty on first use.</summary>
    public RadiusHistory Of(object store, int rows)
    {
        var h = _byStore.GetValue(store, _ => new RadiusHistory(rows));
        if (h.Rows != rows) throw new InvalidOperationException($"the own-history radius of a store of {h.Rows} agent(s) was asked for {rows}");
        return h;
    }

    /// <summary>The history of <paramref name="store"/>, or null.</summary>
    public RadiusHistory? Find(object store) => _byStore.TryGetValue(store, out var h) ? h : null;
}
