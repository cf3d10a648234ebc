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
        var lp = heads.Select(h => h.LogProb).ToArray();
        if (lp.Length == 1) return lp[0];
        if (rule == "prob-mean") return torch.stack(lp, 0).logsumexp(0).Minus(Math.Log(lp.Length));
        var stacked = torch.stack(lp, 0);                              // [H, A, N, C]
        var mean = stacked.mean([0]);
        if (rule != "stacked" || weights is null || weights.All(w => w is null)) return mean;
        int agents = weights.Count;
        if (stacked.shape[1] != agents) throw new ArgumentException($"{agents} agents' weights for log-probabilities of {stacked.shape[1]} agents", nameof(weights));
        var w = new float[lp.Length * agents];
        for (int h = 0; h < lp.Length; h++)
            for (int k = 0; k < agents; k++)
                w[h * agents + k] = (float)(weights[k]?.GetValueOrDefault(heads[h].Head, 1.0 / lp.Length) ?? 1.0 / lp.Length);
        var weighted = (stacked * torch.tensor(w, [lp.Length, agents, 1, 1])).sum([0]).log_softmax(-1);
        if (weights.All(x => x is not null)) return weighted;
        var fitted = torch.tensor(weights.Select(x => x is not null).ToArray(), [agents, 1, 1]);
        return torch.where(fitted, weighted, mean);
    }
}
