using Parse.Federation.Mixing;
using TorchSharp;

namespace Parse.Federation.Overlays;

/// <summary>What is reported for every overlay.</summary>
public sealed record OverlayStats(
    string Key, int Size, int Edges, int Bridges, double MinDegree, double MeanDegree, double MaxDegree,
    bool Connected, double SpectralGap)
{
    /// <summary>
    /// Computes the statistics; the spectral gap is 1 - max(|lambda_2|, |lambda_n|) of the Metropolis-Hastings
    /// matrix (0 if disconnected, 1 for a single member).
    /// </summary>
    public static OverlayStats Of(Overlay o)
    {
        var degrees = o.Members.Select(o.Graph.Degree).ToList();
        int edges = o.Members.Sum(o.Graph.Degree) / 2;
        bool connected = o.IsConnected;
        double gap = o.Members.Count <= 1 ? 1.0 : connected ? ComputeSpectralGap(MetropolisHastings.Matrix(o)) : 0.0;
        return new OverlayStats(o.Key, o.Members.Count, edges, o.Bridges,
            degrees.Count == 0 ? 0 : degrees.Min(), degrees.Count == 0 ? 0 : degrees.Average(), degrees.Count == 0 ? 0 : degrees.Max(),
            connected, gap);
    }

    /// <summary>1 - second largest eigenvalue modulus of a symmetric stochastic matrix.</summary>
    public static double ComputeSpectralGap(double[,] w)
    {
        int n = w.GetLength(0);
        var flat = new double[n * n];
        Buffer.BlockCopy(w, 0, flat, 0, flat.Length * sizeof(double));
        using var scope = torch.NewDisposeScope();
        var t = torch.tensor(flat, [n, n], dtype: torch.ScalarType.Float64);
        var ev = torch.linalg.eigvalsh(t).abs().sort(descending: true).Values;
        return 1.0 - ev[1].item<double>();
    }
}
