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
}

/// <summary>Everything an <see cref="AgentActor"/> needs, prepared by the node.</summary>
public sealed record AgentSetup(
    ExperimentConfig Config,
    Parse.Node.AgentCore Core,
    Parse.Cluster.Discovery.DiscoveredOverlays Overlays,
    IReadOnlyList<int> BaseNeighbours,
    double? Ceiling,
    string OutDir,
    CheckpointStore Checkpoints,
    Checkpoint? Resume,
    PayloadFault Fault,
    Action<AgentReport> OnFinished,
    Action<int> OnSettled,
    Action<string> OnFailed,
    Action<string> Log,
    Parse.Cluster.Discovery.DiscoveryPolicy? Discovery = null)
{
    /// <summary>Message keys of this process (shared with its directory); every agent message is sealed and checked with them.</summary>
    public required Parse.Cluster.Protocol.PeerKeys Keys { get; init; }
}
