using Parse.Federation.Overlays;
using Parse.Federation.Topology;

namespace Parse.Federation.Mixing;

/// <summary>
/// Metropolis-Hastings weights on an overlay: w_ij = 1 / (1 + max(d_i, d_j)) for neighbours, w_ii = 1 - sum_j w_ij.
/// Each weight needs only the two endpoint degrees (degrees travel with messages); the matrix is symmetric
/// and doubly stochastic.
/// </summary>
public static class MetropolisHastings
{
    /// <summary>Weight of neighbour j at agent i, given both degrees.</summary>
    public static double Weight(int degreeI, int degreeJ) => 1.0 / (1 + Math.Max(degreeI, degreeJ));

    /// <summary>Weights agent <paramref name="i"/> applies: itself first, then each neighbour.</summary>
    public static IReadOnlyList<(int Agent, double Weight)> Row(Graph g, int i)
    {
        var row = new List<(int, double)>();
        double self = 1;
        foreach (int j in g.Neighbours(i))
        {
            double w = Weight(g.Degree(i), g.Degree(j));
            row.Add((j, w));
            self -= w;
        }
        row.Insert(0, (i, self));
        return row;
    }

    /// <summary>Dense matrix over the overlay members (row/column order = <see cref="Overlay.Members"/>).</summary>
    public static double[,] Matrix(Overlay o)
    {
        int n = o.Members.Count;
        var index = o.Members.Select((a, k) => (a, k)).ToDictionary(t => t.a, t => t.k);
        var w = new double[n, n];
        foreach (int i in o.Members)
            foreach (var (j, wij) in Row(o.Graph, i))
                w[index[i], index[j]] = wij;
        return w;
    }
}
