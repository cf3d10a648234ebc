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
/// What one agent's group remembers between rounds for <see cref="ClipRadius.OwnHistory"/>: its values right after it
/// last mixed (to measure its own update) and the distances of its last <see cref="Window"/> rounds. Kept by the
/// mixer per agent group (keyed by the group's tensors list), in memory only: a resumed run starts it afresh.
/// </summary>
internal sealed class RadiusHistory
{
    /// <summary>Rounds of distances remembered.</summary>
    public const int Window = 5;

    private readonly Queue<double[]> _rounds = new();

    /// <summary>The agent's flat values after its last mixing (detached from any dispose scope), or null before the first.</summary>
    public Tensor? Last { get; private set; }

    /// <summary>The remembered distances of the last rounds, oldest first.</summary>
    public IEnumerable<double> Pool => _rounds.SelectMany(r => r);

    /// <summary>Adds one round's distances (own update norm, accepted neighbour distances), forgetting the oldest round.</summary>
    public void Remember(double[] round)
    {
        _rounds.Enqueue(round);
        while (_rounds.Count > Window) _rounds.Dequeue();
    }

    /// <summary>Replaces the remembered values by a copy of <paramref name="flat"/>.</summary>
    public void Keep(Tensor flat)
    {
        var copy = flat.detach().clone().DetachFromDisposeScope();
        Last?.Dispose();
        Last = copy;
    }
}

/// <summary>Per-agent <see cref="RadiusHistory"/> by key, released with the key (thread-safe: batches mix in parallel).</summary>
internal sealed class RadiusHistories
{
    private readonly ConditionalWeakTable<object, RadiusHistory> _byKey = new();

    /// <summary>The history of <paramref name="key"/>, created empty on first use.</summary>
    public RadiusHistory Of(object key) => _byKey.GetValue(key, _ => new RadiusHistory());
}
