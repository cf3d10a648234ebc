using Parse.Node;

namespace Parse.Cluster.Discovery;

/// <summary>
/// An agent core's overlay view on the cluster: what the agent's <see cref="OverlayDiscovery"/> learned by messages.
/// The actor attaches its discovery once it exists; until then (and for keys not discovered) there are no neighbours.
/// Static topologies only, so the round is not needed.
/// </summary>
public sealed class DiscoveredOverlays : IOverlayView
{
    /// <summary>The agent's discovery state (set by its actor).</summary>
    public OverlayDiscovery? Discovery { get; set; }

    /// <inheritdoc />
    public IReadOnlyCollection<int> Neighbours(string key, int round) =>
        Discovery is { } d ? d.OverlayNeighbours(key).ToList() : [];
}
