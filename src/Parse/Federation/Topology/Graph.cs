namespace Parse.Federation.Topology;

/// <summary>An undirected simple graph over agents 0..N-1.</summary>
public sealed class Graph
{
    private readonly SortedSet<int>[] _adj;

    public Graph(int n)
    {
        N = n;
        _adj = Enumerable.Range(0, n).Select(_ => new SortedSet<int>()).ToArray();
    }

    /// <summary>Builds a graph from an edge list (self loops and duplicates ignored).</summary>
    public Graph(int n, IEnumerable<(int, int)> edges) : this(n)
    {
        foreach (var (a, b) in edges) AddEdge(a, b);
    }

    public int N { get; }

    /// <summary>Adds the undirected edge a-b (ignored if a == b).</summary>
    public void AddEdge(int a, int b)
    {
        if (a == b) return;
        if ((uint)a >= N || (uint)b >= N) throw new ArgumentOutOfRangeException($"edge {a}-{b} outside 0..{N - 1}");
        _adj[a].Add(b);
        _adj[b].Add(a);
    }

    public IReadOnlyCollection<int> Neighbours(int i) => _adj[i];
    public int Degree(int i) => _adj[i].Count;
    public bool HasEdge(int a, int b) => _adj[a].Contains(b);

    /// <summary>Each undirected edge once, as (smaller, larger).</summary>
    public IEnumerable<(int A, int B)> Edges()
    {
        for (int a = 0; a < N; a++)
            foreach (int b in _adj[a])
                if (a < b) yield return (a, b);
    }

    public int EdgeCount => _adj.Sum(s => s.Count) / 2;

    /// <summary>True if the subgraph induced on <paramref name="nodes"/> (default: all) is connected.</summary>
    public bool IsConnected(IReadOnlyCollection<int>? nodes = null)
    {
        var set = nodes is null ? Enumerable.Range(0, N).ToHashSet() : nodes.ToHashSet();
        if (set.Count <= 1) return true;
        var seen = new HashSet<int> { set.First() };
        var queue = new Queue<int>(seen);
        while (queue.Count > 0)
            foreach (int j in _adj[queue.Dequeue()])
                if (set.Contains(j) && seen.Add(j)) queue.Enqueue(j);
        return seen.Count == set.Count;
    }
}
