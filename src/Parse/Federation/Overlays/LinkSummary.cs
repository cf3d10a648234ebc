using Parse.Federation.Topology;

namespace Parse.Federation.Overlays;

/// <summary>
/// Which links a run used, against the base graph it was given: per-key overlay repair adds links the base graph does
/// not have (a holder bridged to the next holder across non-holders), so a strategy with many keys can talk over a
/// denser graph than its baselines on the "same" topology. Counted from the bytes that actually crossed each link.
/// </summary>
/// <param name="BaseLinks">Undirected links of the base graph (for a time-varying graph: of the union over the run's rounds).</param>
/// <param name="UsedLinks">Undirected links that carried at least one byte, in either direction.</param>
/// <param name="UsedOutsideBase">Of <paramref name="UsedLinks"/>, those not in the base graph (added by overlay repair).</param>
public sealed record LinkSummary(int BaseLinks, int UsedLinks, int UsedOutsideBase)
{
    /// <summary>Counts the links of <paramref name="bytesByLink"/> (directed, bytes sent) against <paramref name="baseGraph"/>.</summary>
    public static LinkSummary Of(Graph baseGraph, IReadOnlyDictionary<(int From, int To), long> bytesByLink)
    {
        var used = bytesByLink.Where(kv => kv.Value > 0 && kv.Key.From != kv.Key.To)
            .Select(kv => (Math.Min(kv.Key.From, kv.Key.To), Math.Max(kv.Key.From, kv.Key.To))).ToHashSet();
        int outside = used.Count(l => l.Item1 >= baseGraph.N || l.Item2 >= baseGraph.N || !baseGraph.HasEdge(l.Item1, l.Item2));
        return new LinkSummary(baseGraph.EdgeCount, used.Count, outside);
    }

    /// <summary>
    /// The graph the overlays of one round actually use: the base graph plus every link that repair added to any
    /// overlay. Giving this graph to another method (<c>topology.kind: file</c>) compares both on the same links.
    /// </summary>
    public static Graph EffectiveGraph(Graph baseGraph, IEnumerable<Overlay> overlays)
    {
        var g = new Graph(baseGraph.N, baseGraph.Edges().Select(e => (e.A, e.B)));
        foreach (var o in overlays)
            foreach (var (a, b) in o.Graph.Edges()) g.AddEdge(a, b);
        return g;
    }
}
