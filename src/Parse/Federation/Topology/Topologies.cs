using System.Globalization;
using Parse.Config;
using Parse.Util;

namespace Parse.Federation.Topology;

/// <summary>A base communication graph, possibly different every round.</summary>
public interface ITopology
{
    /// <summary>True if the graph changes from round to round.</summary>
    bool TimeVarying { get; }
    /// <summary>The graph used in <paramref name="round"/> (0-based).</summary>
    Graph At(int round);
}

/// <summary>A graph that never changes.</summary>
public sealed class StaticTopology(Graph graph) : ITopology
{
    public bool TimeVarying => false;
    public Graph At(int round) => graph;
}

/// <summary>A graph generated anew each round by a function of the round.</summary>
public sealed class TimeVaryingTopology(Func<int, Graph> make) : ITopology
{
    public bool TimeVarying => true;
    public Graph At(int round) => make(round);
}

/// <summary>Creates base topologies by <c>topology.kind</c>, from <see cref="Components.Topologies"/>.</summary>
public static class TopologyFactory
{
    /// <summary>The registry behind <see cref="Components.Topologies"/>, holding the built-ins from the start.</summary>
    internal static ComponentRegistry<Func<TopologyRequest, ITopology>> Registry { get; } = BuiltIns();

    private static ComponentRegistry<Func<TopologyRequest, ITopology>> BuiltIns()
    {
        var r = new ComponentRegistry<Func<TopologyRequest, ITopology>>("topology");
        r.Register("ring", q => new StaticTopology(Ring(q.AgentCount)), "cycle 0-1-...-(n-1)-0");
        r.Register("chordal-ring", q => new StaticTopology(ChordalRing(q.AgentCount, q.Config.Chord ?? Math.Max(2, q.AgentCount / 2))),
            "ring plus chords i -- i+chord");
        r.Register("random-gossip", q => new TimeVaryingTopology(round => RandomMatching(q.AgentCount, Seeds.Derive(q.Seed, "gossip", round))),
            "a new random matching every round");
        r.Register("erdos-renyi", q => new StaticTopology(ErdosRenyi(q.AgentCount, q.Config.P, q.Seed)), "each edge with probability p");
        r.Register("fully-connected", q => new StaticTopology(new Graph(q.AgentCount,
            from a in Enumerable.Range(0, q.AgentCount) from b in Enumerable.Range(0, q.AgentCount) where a < b select (a, b))),
            "every pair of agents");
        r.Register("exponential", q => new StaticTopology(Exponential(q.AgentCount)), "i -- i + 2^k for every 2^k < n");
        r.Register("one-peer-exponential", q => new TimeVaryingTopology(round => OnePeerExponential(q.AgentCount, round)),
            "round r: i -- i + 2^(r mod ceil(log2 n))");
        r.Register("torus", q => new StaticTopology(Torus(q.AgentCount)), "2-D torus, rows x cols = n");
        r.Register("file", q => new StaticTopology(FromFile(
            q.Config.File ?? throw new ConfigException("topology.file: required when topology.kind is 'file'"), q.AgentCount, q.BaseDir,
            q.Config.AllowDisconnected)),
            "edge list 'i j' per line from topology.file");
        return r;
    }

    /// <summary>Accepted topology kinds (built-in and registered).</summary>
    public static IReadOnlyList<string> Kinds => Registry.Names;

    /// <summary>Creates the base topology of <paramref name="n"/> agents for <paramref name="cfg"/>.</summary>
    public static ITopology Create(TopologyConfig cfg, int n, int seed, string baseDir) =>
        Registry.Resolve("topology.kind", cfg.Kind)(new TopologyRequest(cfg, n, seed, baseDir));

    public static Graph Ring(int n) => new(n, Enumerable.Range(0, n).Select(i => (i, (i + 1) % n)));

    /// <summary>Ring plus chords i -- i+c.</summary>
    public static Graph ChordalRing(int n, int chord)
    {
        var g = Ring(n);
        for (int i = 0; i < n; i++) g.AddEdge(i, (i + chord) % n);
        return g;
    }

    public static Graph ErdosRenyi(int n, double p, int seed)
    {
        if (p is < 0 or > 1) throw new ConfigException($"topology.p must be in [0,1] (got {p})");
        var rng = new Random(Seeds.Derive(seed, "erdos-renyi"));
        var g = new Graph(n);
        for (int a = 0; a < n; a++)
            for (int b = a + 1; b < n; b++)
                if (rng.NextDouble() < p) g.AddEdge(a, b);
        return g;
    }

    /// <summary>i -- i + 2^k (mod n) for every 2^k &lt; n.</summary>
    public static Graph Exponential(int n)
    {
        var g = new Graph(n);
        for (int i = 0; i < n; i++)
            for (int h = 1; h < n; h *= 2) g.AddEdge(i, (i + h) % n);
        return g;
    }

    /// <summary>Round r: i -- i + 2^(r mod ceil(log2 n)) (undirected form of the one-peer exponential graph).</summary>
    public static Graph OnePeerExponential(int n, int round)
    {
        int levels = Math.Max(1, (int)Math.Ceiling(Math.Log2(Math.Max(2, n))));
        int hop = 1 << (round % levels);
        var g = new Graph(n);
        for (int i = 0; i < n; i++) g.AddEdge(i, (i + hop) % n);
        return g;
    }

    /// <summary>A uniformly random matching (one node left out when n is odd).</summary>
    public static Graph RandomMatching(int n, int seed)
    {
        var perm = Enumerable.Range(0, n).ToArray();
        new Random(seed).Shuffle(perm);
        var g = new Graph(n);
        for (int i = 0; i + 1 < n; i += 2) g.AddEdge(perm[i], perm[i + 1]);
        return g;
    }

    /// <summary>2-D torus with rows x cols = n, rows the largest divisor of n not above sqrt(n).</summary>
    public static Graph Torus(int n)
    {
        int rows = Enumerable.Range(1, (int)Math.Sqrt(n)).Last(d => n % d == 0), cols = n / rows;
        var g = new Graph(n);
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
            {
                int i = r * cols + c;
                g.AddEdge(i, r * cols + (c + 1) % cols);
                g.AddEdge(i, ((r + 1) % rows) * cols + c);
            }
        return g;
    }

    /// <summary>
    /// Reads "i j" lines (0-based agent ids; '#' starts a comment). A file without edges is refused (it would silently be
    /// <c>strategy: local</c>), and so is a graph that is not connected unless <paramref name="allowDisconnected"/>.
    /// </summary>
    public static Graph FromFile(string path, int n, string baseDir, bool allowDisconnected = false)
    {
        string full = Path.IsPathRooted(path) ? path : Path.Combine(baseDir, path);
        if (!File.Exists(full)) throw new ConfigException($"topology.file: file not found: {full}");
        var g = new Graph(n);
        int lineNo = 0;
        foreach (string raw in File.ReadLines(full))
        {
            lineNo++;
            string line = raw.Split('#')[0].Trim();
            if (line.Length == 0) continue;
            var f = line.Split([' ', '\t', ','], StringSplitOptions.RemoveEmptyEntries);
            if (f.Length != 2 || !int.TryParse(f[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out int a)
                              || !int.TryParse(f[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out int b))
                throw new ConfigException($"{full}:{lineNo}: expected two agent ids 'i j', got '{raw.Trim()}'");
            if (a < 0 || a >= n || b < 0 || b >= n)
                throw new ConfigException($"{full}:{lineNo}: edge {a}-{b} names an unknown agent (agents are 0..{n - 1})");
            g.AddEdge(a, b);
        }
        if (g.EdgeCount == 0)
            throw new ConfigException($"topology.file: {full} has no edges, so no agent would ever communicate; for that on purpose use strategy: local");
        if (n > 1 && !allowDisconnected && !g.IsConnected())
        {
            var isolated = Enumerable.Range(0, n).Where(i => g.Degree(i) == 0).ToList();
            string detail = isolated.Count > 0
                ? $"agent(s) {string.Join(", ", isolated.Take(10))}{(isolated.Count > 10 ? ", ..." : "")} have no edge"
                : "it has several components";
            throw new ConfigException($"topology.file: {full} is not connected ({detail}); add edges, or set topology.allow_disconnected=true if the islands are intended");
        }
        return g;
    }
}

/// <summary>Helpers over <see cref="ITopology"/>.</summary>
public static class TopologyExtensions
{
    /// <summary>The base graph of a static topology; for a time-varying one, the union of its graphs over rounds 0..<paramref name="rounds"/>-1.</summary>
    public static Graph UnionOver(this ITopology topology, int rounds)
    {
        if (!topology.TimeVarying) return topology.At(0);
        var first = topology.At(0);
        var union = new Graph(first.N, first.Edges().Select(e => (e.A, e.B)));
        for (int r = 1; r < rounds; r++)
            foreach (var (a, b) in topology.At(r).Edges()) union.AddEdge(a, b);
        return union;
    }
}
