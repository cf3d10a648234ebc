using Parse.Util;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Parse.Federation.Mixing;

/// <summary>
/// Helpers of the robust rules: a group's tensors as one flat vector per candidate (the agent itself first, then its
/// neighbours), and writing a flat result back into the group.
/// </summary>
internal static class Candidates
{
    /// <summary>[n, numel] stack: row 0 is the agent's own values, then one row per received contribution.</summary>
    public static Tensor Stack(IReadOnlyList<Tensor> own, IReadOnlyList<Contribution> received)
    {
        var rows = new List<Tensor> { torch.cat(own.Select(p => p.detach().reshape(-1)).ToArray(), 0) };
        foreach (var c in received) rows.Add(torch.cat(c.Values.Select(v => v.reshape(-1)).ToArray(), 0));
        return torch.stack(rows.ToArray(), 0);
    }

    /// <summary>One flat vector per candidate: the agent's own values first, then one per received contribution.</summary>
    public static List<Tensor> Rows(IReadOnlyList<Tensor> own, IReadOnlyList<Contribution> received)
    {
        var rows = new List<Tensor>(received.Count + 1) { Flat(own) };
        foreach (var c in received) rows.Add(Flat(c.Values));
        return rows;
    }

    private static Tensor Flat(IReadOnlyList<Tensor> values) =>
        values.Count == 1 ? values[0].detach().reshape(-1) : torch.cat(values.Select(v => v.detach().reshape(-1)).ToArray(), 0);

    /// <summary>Copies the flat vector <paramref name="flat"/> into the group's tensors.</summary>
    public static void WriteBack(IReadOnlyList<Tensor> own, Tensor flat)
    {
        long offset = 0;
        foreach (var p in own)
        {
            long n = p.numel();
            p.copy_(flat.narrow(0, offset, n).view(p.shape));
            offset += n;
        }
    }
}

/// <summary>
/// Coordinate-wise sorting of a few candidate vectors by a sorting network of element-wise minimum and maximum
/// (odd-even transposition: n rounds of compare-exchanges between neighbouring rows). For the handful of candidates
/// of an overlay neighbourhood this is a few vectorised passes over the values, where a sort along the candidate
/// dimension sorts every coordinate separately; it is what keeps the robust rules within a small factor of
/// Metropolis-Hastings (docs/robustness.md).
/// </summary>
internal static class SortingNetwork
{
    /// <summary>Candidate counts up to this are sorted by the network; more by <c>torch.sort</c>.</summary>
    public const int MaxRows = 12;

    /// <summary>The rows sorted coordinate-wise (row k holds the k-th smallest value of every coordinate).</summary>
    public static Tensor[] Sort(IReadOnlyList<Tensor> rows)
    {
        var r = rows.ToArray();
        int n = r.Length;
        if (n > MaxRows)
        {
            var sorted = torch.stack(r, 0).sort(0).Values;
            return Enumerable.Range(0, n).Select(k => sorted[k]).ToArray();
        }
        for (int round = 0; round < n; round++)
            for (int i = round % 2; i + 1 < n; i += 2)
            {
                var lo = torch.minimum(r[i], r[i + 1]);
                var hi = torch.maximum(r[i], r[i + 1]);
                r[i] = lo;
                r[i + 1] = hi;
            }
        return r;
    }
}

/// <summary>
/// Coordinate-wise trimmed mean of the agent's own values and its neighbours': per coordinate the <c>trim</c> largest
/// and <c>trim</c> smallest of the n = degree + 1 values are dropped and the rest averaged. Tolerates up to
/// <c>trim</c> Byzantine neighbours per coordinate when n &gt; 2 x trim. Cost: a sort of n values per coordinate.
/// </summary>
public sealed class TrimmedMeanMixer(int trim) : IMixer
{
    /// <inheritdoc />
    public string Name => "trimmed-mean";

    /// <summary>Values dropped at each end.</summary>
    public int Trim => trim;

    /// <inheritdoc />
    public void Mix(IReadOnlyList<Tensor> own, int ownDegree, IReadOnlyList<Contribution> received)
    {
        if (received.Count == 0) return;
        var sorted = SortingNetwork.Sort(Candidates.Rows(own, received));
        int n = sorted.Length;
        // with fewer candidates than the rule needs (neighbours missing this round), trim as much as still leaves one
        int t = Math.Min(trim, (n - 1) / 2);
        var sum = sorted[t].clone();
        for (int k = t + 1; k < n - t; k++) sum.add_(sorted[k], ScalarOps.One);
        Candidates.WriteBack(own, sum.Over(n - 2 * t));
    }
}

/// <summary>
/// Coordinate-wise median of the agent's own values and its neighbours' (the lower median for an even count, so the
/// result is always one of the values). Tolerates fewer than half Byzantine values per coordinate.
/// </summary>
public sealed class MedianMixer : IMixer
{
    /// <inheritdoc />
    public string Name => "median";

    /// <inheritdoc />
    public void Mix(IReadOnlyList<Tensor> own, int ownDegree, IReadOnlyList<Contribution> received)
    {
        if (received.Count == 0) return;
        var sorted = SortingNetwork.Sort(Candidates.Rows(own, received));
        Candidates.WriteBack(own, sorted[(sorted.Length - 1) / 2]);
    }
}

/// <summary>
/// Krum (Blanchard et al., 2017) over the agent's own values and its neighbours': each candidate is scored by the sum of
/// squared distances to its n - f - 2 nearest other candidates; <c>krum</c> takes the best-scored candidate,
/// <c>multi-krum</c> the mean of the n - f best. Tolerates f Byzantine neighbours when n &gt; 2f + 2. Cost: all
/// pairwise distances, O(n^2) per group.
/// </summary>
public sealed class KrumMixer(int f, bool multi) : IMixer
{
    /// <inheritdoc />
    public string Name => multi ? "multi-krum" : "krum";

    /// <summary>Scores of the candidates (own first): lower is more central.</summary>
    public static double[] Scores(Tensor candidates, int f)
    {
        long n = candidates.shape[0];
        var d = torch.cdist(candidates.unsqueeze(0), candidates.unsqueeze(0)).squeeze(0).Squared();   // [n, n]
        long k = Math.Max(1, n - f - 2);
        var scores = new double[n];
        var rows = d.to_type(ScalarType.Float64).data<double>().ToArray();
        for (int i = 0; i < n; i++)
        {
            var others = Enumerable.Range(0, (int)n).Where(j => j != i).Select(j => rows[i * n + j]).Order().Take((int)Math.Min(k, n - 1));
            scores[i] = others.Sum();
        }
        return scores;
    }

    /// <inheritdoc />
    public void Mix(IReadOnlyList<Tensor> own, int ownDegree, IReadOnlyList<Contribution> received)
    {
        if (received.Count == 0) return;
        var x = Candidates.Stack(own, received);
        var scores = Scores(x, f);
        // ties go to the agent's own values (index 0), then to the lower sender id
        var order = Enumerable.Range(0, scores.Length).OrderBy(i => scores[i]).ThenBy(i => i).ToList();
        if (!multi) { Candidates.WriteBack(own, x[order[0]]); return; }
        int m = Math.Max(1, scores.Length - f);
        using var idx = torch.tensor(order.Take(m).Select(i => (long)i).ToArray(), dtype: ScalarType.Int64);
        Candidates.WriteBack(own, x.index_select(0, idx).mean([0]));
    }
}

/// <summary>
/// Self-centred clipped gossip (He, Karimireddy and Jaggi, 2022): x_i &lt;- x_i + sum_j w_ij clip(x_j - x_i, tau) with
/// Metropolis-Hastings weights, where clip scales a neighbour's whole-group difference to L2 norm at most tau. A
/// Byzantine neighbour can move the agent by at most w_ij x tau per round. tau is <c>mixing.clip</c>, or adaptive: the
/// median of the round's neighbour distances (so at most half of the neighbours are clipped).
/// </summary>
public sealed class ClippedGossipMixer(double? clip) : IMixer
{
    /// <inheritdoc />
    public string Name => "clipped-gossip";

    /// <inheritdoc />
    public void Mix(IReadOnlyList<Tensor> own, int ownDegree, IReadOnlyList<Contribution> received)
    {
        if (received.Count == 0) return;
        var x = Candidates.Stack(own, received);
        var self = x[0];
        var diffs = x.narrow(0, 1, x.shape[0] - 1).sub(self);                                   // [m, numel]
        var norms = diffs.Squared().sum([1]).sqrt().to_type(ScalarType.Float64).data<double>().ToArray();
        double tau = clip ?? Median(norms);
        var update = torch.zeros_like(self);
        for (int k = 0; k < received.Count; k++)
        {
            double w = MetropolisHastings.Weight(ownDegree, received[k].SenderDegree);
            double factor = norms[k] > tau && norms[k] > 0 ? tau / norms[k] : 1.0;
            update.AddScaled_(diffs[k], w * factor);
        }
        Candidates.WriteBack(own, self.Plus(update));
    }

    private static double Median(double[] v)
    {
        var s = v.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }
}

/// <summary>What the robust rules need of an overlay, checked before any training.</summary>
public static class MixerRequirements
{
    /// <summary>
    /// Throws <see cref="Config.ConfigException"/> naming the field when a rule cannot work on some agent's overlay
    /// neighbourhood: trimmed-mean needs degree + 1 &gt; 2 x trim, krum and multi-krum need degree + 1 &gt; 2 x f + 2
    /// (for every agent with at least one neighbour on the overlay).
    /// </summary>
    public static void Check(Config.ExperimentConfig cfg, IEnumerable<Overlays.Overlay> overlays)
    {
        var m = cfg.Mixing;
        foreach (var o in overlays)
            foreach (int i in o.Members)
            {
                int deg = o.Graph.Degree(i);
                if (deg == 0) continue;
                if (m.Rule == "trimmed-mean" && deg + 1 <= 2 * m.Trim)
                    throw new Config.ConfigException($"mixing.trim: {m.Trim} trims every value of agent {i}, which has {deg} neighbour(s) on overlay '{o.Key.Split('|')[0]}' (needs degree + 1 > 2 x trim; topology.kind {cfg.Topology.Kind})");
                if (m.Rule is "krum" or "multi-krum" && deg + 1 <= 2 * m.F + 2)
                    throw new Config.ConfigException($"mixing.f: {m.F} is too many for agent {i}, which has {deg} neighbour(s) on overlay '{o.Key.Split('|')[0]}' (krum needs degree + 1 > 2 x f + 2; topology.kind {cfg.Topology.Kind})");
            }
    }
}
