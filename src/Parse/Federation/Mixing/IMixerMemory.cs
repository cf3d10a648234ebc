using Parse.Model;

namespace Parse.Federation.Mixing;

/// <summary>
/// A mixing rule that remembers something of each agent's groups from round to round (e.g. clipped gossip's
/// own-history radius). A runtime that checkpoints an agent saves that memory beside its parameters and restores it on
/// resume, so that a resumed agent mixes exactly as an uninterrupted one (the cluster's checkpoints do).
/// </summary>
public interface IMixerMemory
{
    /// <summary>What the rule remembers of <paramref name="groups"/> (one agent's groups), or null when nothing.</summary>
    byte[]? SaveMemory(IReadOnlyList<ParameterGroup> groups);

    /// <summary>
    /// Restores what <see cref="SaveMemory"/> wrote into the memory of <paramref name="groups"/> (the same agent's groups in
    /// a new process), for mixing agent by agent. Throws <see cref="InvalidDataException"/> when it does not fit.
    /// </summary>
    void RestoreMemory(byte[] memory, IReadOnlyList<ParameterGroup> groups);
}
