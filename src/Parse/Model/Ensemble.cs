using TorchSharp;
using static TorchSharp.torch;
using Parse.Util;

namespace Parse.Model;

/// <summary>How an agent's heads combine into one prediction (<c>model.ensemble</c>).</summary>
public static class Ensemble
{
    /// <summary>Accepted <c>model.ensemble</c> values. Not extensible: the trainers fit and combine exactly these.</summary>
    public static IReadOnlyList<string> Rules { get; } = ["logprob-mean", "prob-mean", "stacked"];

    /// <summary>
    /// Combines per-head log-probabilities (all the same shape, classes last): <c>logprob-mean</c> (mean of the
    /// log-probabilities), <c>prob-mean</c> (log of the mean probability) or <c>stacked</c> (log_softmax of the
    /// weighted sum, <paramref name="weights"/> by head name, equal weights for a head without one; with no
    /// weights yet, the plain mean). A single head is returned as it is.
    /// </summary>
    public static Tensor Combine(IReadOnlyList<(string Head, Tensor LogProb)> heads, string rule,
        IReadOnlyDictionary<string, double>? weights = null)
    {
        var lp = heads.Select(h => h.LogProb).ToArray();
        if (lp.Length == 1) return lp[0];
        if (rule == "prob-mean") return torch.stack(lp, 0).logsumexp(0).Minus(Math.Log(lp.Length));
        if (rule == "stacked" && weights is not null)
        {
            var shape = new long[] { -1 }.Concat(Enumerable.Repeat(1L, (int)lp[0].dim())).ToArray();
            var w = torch.tensor(heads.Select(h => (float)weights.GetValueOrDefault(h.Head, 1.0 / lp.Length)).ToArray()).reshape(shape);
            return (torch.stack(lp, 0) * w).sum([0]).log_softmax(-1);
        }
        return torch.stack(lp, 0).mean([0]);
    }
}
