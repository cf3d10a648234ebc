using Parse.Federation.Topology;

namespace Parse.Federation.Overlays;

/// <summary>
/// Builds the overlay of one key from the base graph using only neighbour knowledge.
/// <para>
/// The overlay starts as the base graph induced on the holders. With repair on, a local protocol bridges
/// holders separated by non-holders: every non-holder floods, to its non-holder neighbours only, the smallest
/// id of its non-holder component and the set of holders adjacent to it (learned by handshake). After the
/// flood settles (at most the component's diameter in exchanges), each non-holder tells its holder
/// neighbours what it learned. A holder then links to its predecessor and successor in the sorted holder
/// list of every non-holder component it touches. Both ends of a link compute the same chain, so they
/// agree without coordination; each holder adds at most two links per adjacent non-holder component.
/// If the base graph is connected, the repaired overlay is connected: any path between two holders
/// alternates holder-holder edges (kept) and runs through non-holder components (chained).
/// </para>
/// </summary>
public static class OverlayBuilder
{
    /// <summary>Result of the local protocol, with the number of message exchanges it took.</summary>
    public sealed record Result(Overlay Overlay, int FloodRounds);

    public static Result Build(string key, Graph g, IReadOnlySet<int> holders, bool repair)
    {
        var overlay = new Graph(g.N);
        foreach (var (a, b) in g.Edges())
            if (holders.Contains(a) && holders.Contains(b)) overlay.AddEdge(a, b);
        if (!repair) return new Result(new Overlay(key, holders, overlay, 0), 0);

        // state of each non-holder: (component id, holders adjacent to the component)
        var comp = new Dictionary<int, int>();
        var heard = new Dictionary<int, SortedSet<int>>();
        for (int v = 0; v < g.N; v++)
        {
            if (holders.Contains(v)) continue;
            comp[v] = v;
            heard[v] = new SortedSet<int>(g.Neighbours(v).Where(holders.Contains));
        }
        int rounds = 0;
        bool changed = true;
        while (changed)
        {
            changed = false;
            rounds++;
            // synchronous exchange: everyone reads the previous state of its non-holder neighbours
            var nextComp = new Dictionary<int, int>(comp);
            var nextHeard = heard.ToDictionary(kv => kv.Key, kv => new SortedSet<int>(kv.Value));
            foreach (int v in comp.Keys)
                foreach (int u in g.Neighbours(v))
                {
                    if (!comp.TryGetValue(u, out int cu)) continue;
                    if (cu < nextComp[v]) { nextComp[v] = cu; changed = true; }
                    int before = nextHeard[v].Count;
                    nextHeard[v].UnionWith(heard[u]);
                    if (nextHeard[v].Count != before) changed = true;
                }
            comp = nextComp;
            heard = nextHeard;
        }
        // holders learn, from their non-holder neighbours, the holder set of each adjacent component
        int bridges = 0;
        foreach (int h in holders)
        {
            var seen = new HashSet<int>();
            foreach (int v in g.Neighbours(h))
            {
                if (!comp.TryGetValue(v, out int c) || !seen.Add(c)) continue;
                var chain = heard[v].ToList();
                int pos = chain.IndexOf(h);
                foreach (int other in new[] { pos - 1, pos + 1 }.Where(p => p >= 0 && p < chain.Count).Select(p => chain[p]))
                {
                    if (overlay.HasEdge(h, other)) continue;
                    overlay.AddEdge(h, other);
                    if (!g.HasEdge(h, other)) bridges++;
                }
            }
        }
        return new Result(new Overlay(key, holders, overlay, bridges), rounds);
    }
}
