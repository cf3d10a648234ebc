using Parse.Federation.Topology;

namespace Parse.Federation.Overlays;

/// <summary>
/// Overlay repair for a base graph that changes every round (<c>overlay.repair_window</c>). A round's graph alone
/// may never link two holders of a key (one-peer exponential links i and i + 2^k, so in a 10:10:10 interleaved
/// layout no two agents of the same type are ever neighbours), and per-round repair would add links every round.
/// Instead the rounds are grouped into windows of W rounds; the static repair (<see cref="OverlayBuilder"/>) runs on
/// the union of the window's graphs, and the bridges it adds are spread over the window's rounds, one in W of them
/// per round (in edge order). If the window's union is connected, every holder is linked to the other holders at
/// least once in the window, and the overlays of the window together are connected; each round's overlay is the
/// round's graph induced on the holders plus that round's share of the bridges.
/// The schedule is a function of the topology and the holders alone, so every agent derives the same one.
/// </summary>
public static class CrossRoundRepair
{
    /// <summary>The overlay of <paramref name="key"/> in 0-based <paramref name="round"/>.</summary>
    public static Overlay Build(string key, ITopology topology, int round, IReadOnlySet<int> holders, int window)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 1);
        int start = round / window * window;
        var graph = topology.At(round);
        var union = new Graph(graph.N);
        for (int r = start; r < start + window; r++)
            foreach (var (a, b) in topology.At(r).Edges()) union.AddEdge(a, b);
        var repaired = OverlayBuilder.Build(key, union, holders, repair: true).Overlay.Graph;
        var bridges = repaired.Edges().Where(e => !union.HasEdge(e.A, e.B)).OrderBy(e => e.A).ThenBy(e => e.B).ToList();
        var overlay = new Graph(graph.N);
        foreach (var (a, b) in graph.Edges())
            if (holders.Contains(a) && holders.Contains(b)) overlay.AddEdge(a, b);
        int added = 0;
        for (int i = round - start; i < bridges.Count; i += window)
        {
            overlay.AddEdge(bridges[i].A, bridges[i].B);
            added++;
        }
        return new Overlay(key, holders, overlay, added);
    }
}
