using Parse.Cluster.Checkpoints;
using Parse.Config;

namespace Parse.Cluster.Runtime;

/// <summary>Deliberate misbehaviour of a node's agents, for tests of payload validation.</summary>
public enum PayloadFault
{
    /// <summary>Send correct payloads.</summary>
    None,
    /// <summary>Send payloads whose values are NaN.</summary>
    NaN,
    /// <summary>Send bytes that do not decode.</summary>
    Garbage,
    /// <summary>Send correct payloads multiplied by 1000 (a decodable but hostile peer).</summary>
    Scaled,
    /// <summary>Send correct payloads plus, every round, a chunk that declares an enormous message (2^31 - 1 chunks).</summary>
    Oversized,
    /// <summary>Send correct payloads plus, every round, a properly sealed copy that claims to come from an agent hosted elsewhere.</summary>
    ForgedSender,
    /// <summary>Send correct payloads plus, every round, the sealed envelopes captured from the round before, resent unchanged.</summary>
    Replayed,
}

/// <summary>Everything an <see cref="AgentActor"/> needs, prepared by the node.</summary>
/// <remarks>
/// <see cref="ResumedFrom"/> is the round the core was restored to (0 = fresh start); <see cref="Fingerprint"/> the config
/// fingerprint written into checkpoints; <see cref="OnProgress"/> is called after every closed round (the node's stall
/// watchdog); <see cref="StopAfterRound"/> &gt; 0 makes the agent checkpoint and stop after that round (a planned stop).
/// </remarks>
public sealed record AgentSetup(
    ExperimentConfig Config,
    Parse.Node.AgentCore Core,
    Parse.Cluster.Discovery.DiscoveredOverlays Overlays,
    IReadOnlyList<int> BaseNeighbours,
    double? Ceiling,
    string OutDir,
    CheckpointStore Checkpoints,
    int ResumedFrom,
    PayloadFault Fault,
    Action<AgentReport> OnFinished,
    Action<int> OnSettled,
    Action<string> OnFailed,
    Action<string> Log,
    Parse.Cluster.Discovery.DiscoveryPolicy? Discovery = null)
{
    /// <summary>Message keys of this process (shared with its directory); every agent message is sealed and checked with them.</summary>
    public required Parse.Cluster.Protocol.PeerKeys Keys { get; init; }
    /// <summary>Fingerprint of the resolved config, stored in every checkpoint.</summary>
    public string Fingerprint { get; init; } = "";
    /// <summary>Called with (agent, completed round) after every closed round.</summary>
    public Action<int, int> OnProgress { get; init; } = (_, _) => { };
    /// <summary>Checkpoint and stop after this round (0 = run to the end).</summary>
    public int StopAfterRound { get; init; }
}
