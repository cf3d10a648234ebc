using Parse.Model;
using static TorchSharp.torch;

namespace Parse.Federation.Mixing;

/// <summary>
/// A rule that needs a minimum number of candidates (<c>trimmed-mean</c>, <c>krum</c>, <c>multi-krum</c>) with a
/// fallback rule (<c>mixing.fallback</c>) for the agents and groups that have fewer in a round: an agent's group whose
/// candidate count n (its own values + the neighbours' payloads accepted this round) is below
/// <see cref="MinCandidates"/> is mixed by <see cref="Fallback"/>, every other by <see cref="Main"/>. The choice is made
/// per agent, group and round from n alone, so the cluster (agent by agent) and the simulator's batches (which group
/// agents by n) make the same choice, and a neighbour missing at the deadline moves an agent to the fallback for that
/// round. A fallback that remembers across rounds (clipped gossip's own-history radius) keeps that memory current in
/// the rounds the main rule mixed the group (<see cref="ClippedGossipMixer.Observe"/>), and is saved in checkpoints.
/// </summary>
public sealed class FallbackMixer : IBatchedMixer, IMixerMemory
{
    /// <summary>Mixes with <paramref name="main"/>, or <paramref name="fallback"/> for fewer than <paramref name="minCandidates"/> candidates.</summary>
    public FallbackMixer(RowMixer main, int minCandidates, IMixer fallback)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(minCandidates, 1);
        Main = main;
        MinCandidates = minCandidates;
        Fallback = fallback;
        if (fallback is ClippedGossipMixer clipped) main.AfterCombine = clipped.Observe;
    }

    /// <summary>The rule of <c>mixing.rule</c>.</summary>
    public RowMixer Main { get; }

    /// <summary>The rule of <c>mixing.fallback</c>.</summary>
    public IMixer Fallback { get; }

    /// <summary>The fewest candidates (own values included) <see cref="Main"/> mixes.</summary>
    public int MinCandidates { get; }

    /// <inheritdoc />
    public string Name => Main.Name;

    /// <summary>True when an agent with <paramref name="received"/> neighbour values is mixed by the fallback.</summary>
    public bool FallsBack(int received) => received + 1 < MinCandidates;

    /// <inheritdoc />
    public void Mix(IReadOnlyList<Tensor> own, int ownDegree, IReadOnlyList<Contribution> received)
    {
        if (received.Count == 0) return;
        if (FallsBack(received.Count)) Fallback.Mix(own, ownDegree, received);
        else Main.Mix(own, ownDegree, received);
    }

    /// <inheritdoc />
    public void MixBatch(IReadOnlyList<MixTask> tasks)
    {
        var main = new List<MixTask>();
        var fallback = new List<MixTask>();
        foreach (var t in tasks)
            if (t.Received.Count > 0) (FallsBack(t.Received.Count) ? fallback : main).Add(t);
        if (main.Count > 0) Main.MixBatch(main);
        if (fallback.Count == 0) return;
        if (Fallback is IBatchedMixer batched) batched.MixBatch(fallback);
        else foreach (var t in fallback) Fallback.Mix(t.Group.Parameters, t.OwnDegree, t.Received);
    }

    /// <inheritdoc />
    public byte[]? SaveMemory(IReadOnlyList<ParameterGroup> groups) => (Fallback as IMixerMemory)?.SaveMemory(groups);

    /// <inheritdoc />
    public void RestoreMemory(byte[] memory, IReadOnlyList<ParameterGroup> groups)
    {
        if (Fallback is not IMixerMemory m)
            throw new InvalidDataException($"it holds the memory of a mixing rule, but mixing.rule {Name} with mixing.fallback {Fallback.Name} keeps none");
        m.RestoreMemory(memory, groups);
    }
}
