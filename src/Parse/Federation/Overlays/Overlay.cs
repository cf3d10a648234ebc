using Parse.Federation.Topology;

namespace Parse.Federation.Overlays;

/// <summary>The communication graph of one sharing key: its holders and the links among them.</summary>
public sealed class Overlay
{
    public Overlay(string key, IReadOnlyCollection<int> members, Graph graph, int bridges)
    {
        Key = key;
        Members = members.OrderBy(i => i).ToList();
        Graph = graph;
        Bridges = bridges;
    }

    /// <summary>Sharing key of the group mixed over this overlay.</summary>
    public string Key { get; }
    /// <summary>Agents holding the key, ascending.</summary>
    public IReadOnlyList<int> Members { get; }
    /// <summary>Graph over all agent ids whose edges join members only.</summary>
    public Graph Graph { get; }
    /// <summary>Links added by the connectivity repair (not in the base graph).</summary>
    public int Bridges { get; }

    public IReadOnlyCollection<int> Neighbours(int agent) => Graph.Neighbours(agent);
    public bool IsConnected => Graph.IsConnected(Members);
}
