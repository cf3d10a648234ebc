using TorchSharp;
using static TorchSharp.torch;
using Parse.Util;

namespace Parse.Model;

/// <summary>How an agent's heads combine into one prediction (<c>model.ensemble</c>).</summary>
public static class Ensemble
{
    /// <summary>Accepted <c>model.ensemble</c> values. Not extensible: the learner fits and combines exactly these.</summary>
    public static IReadOnlyList<string> Rules { get; } = ["logprob-mean", "prob-mean", "stacked"];

    /// <summary>
    /// Combines per-head log-probabilities (all [A, N, C], classes last): <c>logprob-mean</c> (mean of the
    /// log-probabilities), <c>prob-mean</c> (log of the mean probability) or <c>stacked</c> (log_softmax of the
    /// weighted sum, with agent k's <paramref name="weights"/>[k] by head name, equal weights for a head without one;
    /// an agent with no weights yet gets the plain mean). A single head is returned as it is.
    /// </summary>
    /// <param name="heads">Head names and log-probabilities.</param>
    /// <param name="rule">The <c>model.ensemble</c> rule.</param>
    /// <param name="weights">Per agent (one entry per leading index of the log-probabilities), the stacked head weights or null.</param>
    public static Tensor Combine(IReadOnlyList<(string Head, Tensor LogProb)> heads, string rule,
        IReadOnlyList<IReadOnlyDictionary<string, double>?>? weights = null)
    {
        if (heads.Count == 1) return heads[0].LogProb;
        return Combine(heads.Select(h => h.Head).ToList(), torch.stack(heads.Select(h => h.LogProb).ToArray(), 0), rule, weights);
    }

    /// <summary>
    /// <see cref="Combine(IReadOnlyList{ValueTuple{string, Tensor}}, string, IReadOnlyList{IReadOnlyDictionary{string, double}?}?)"/>
    /// on log-probabilities already stacked along a leading head dimension ([H, A, N, C], heads named by <paramref name="heads"/>).
    /// </summary>
    public static Tensor Combine(IReadOnlyList<string> heads, Tensor stacked, string rule,
        IReadOnlyList<IReadOnlyDictionary<string, double>?>? weights = null)
    {
        int h = heads.Count;
        if (stacked.shape[0] != h) throw new ArgumentException($"{h} head names for {stacked.shape[0]} stacked heads", nameof(heads));
        if (h == 1) return stacked[0];
        if (rule == "prob-mean") return stacked.logsumexp(0).Minus(Math.Log(h));
        var mean = stacked.mean([0]);
        if (rule != "stacked" || weights is null || weights.All(w => w is null)) return mean;
        int agents = weights.Count;
        if (stacked.shape[1] != agents) throw new ArgumentException($"{agents} agents' weights for log-probabilities of {stacked.shape[1]} agents", nameof(weights));
        var w = new float[h * agents];
        for (int i = 0; i < h; i++)
            for (int k = 0; k < agents; k++)
                w[i * agents + k] = (float)(weights[k]?.GetValueOrDefault(heads[i], 1.0 / h) ?? 1.0 / h);
        var weighted = (stacked * torch.tensor(w, [h, agents, 1, 1])).sum([0]).log_softmax(-1);
        if (weights.All(x => x is not null)) return weighted;
        var fitted = torch.tensor(weights.Select(x => x is not null).ToArray(), [agents, 1, 1]);
        return torch.where(fitted, weighted, mean);
    }
}
