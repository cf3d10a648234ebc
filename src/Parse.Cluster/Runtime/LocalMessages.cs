using Akka.Actor;

namespace Parse.Cluster.Runtime;

/// <summary>Directory to local agents: these agents are hosted at <paramref name="Address"/> and admitted.</summary>
public sealed record PeerUp(int[] Agents, Address Address);

/// <summary>Directory to local agents: the process hosting these agents is unreachable or gone.</summary>
public sealed record PeerDown(int[] Agents, string Why);

internal sealed record DiscoveryTick;
internal sealed record StartRound;
internal sealed record RoundDeadline(int Round);
internal sealed record JoinTimeout;

/// <summary>
/// Directory to local agents: whether every current cluster member has been admitted, and whether this node is
/// <paramref name="Untrusted"/>: a peer's proof failed while it had admitted no one (then its agents do not start
/// training; the directory either admits a peer or stops the node as not admitted after the admission grace).
/// </summary>
public sealed record AdmissionStatus(bool AllAdmitted, bool Untrusted = false);

/// <summary>Directory timer: the admission grace after a failed proof is over.</summary>
internal sealed record AdmissionGraceOver
{
    public static readonly AdmissionGraceOver Instance = new();
}

/// <summary>Node to its directory: a local agent finished its last round.</summary>
public sealed record LocalAgentFinished(int Agent);

/// <summary>Directory to local agents: these agents (anywhere in the cluster) finished for good.</summary>
public sealed record PeersFinished(int[] Agents);
