using Parse.Config;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;
using Parse.Util;

namespace Parse.Model;

/// <summary>
/// The PARSE training objective (DESIGN.md "Loss"), batched-first: tensors are [A, N, ...] (agents, samples) and every
/// loss is a vector [A] of per-agent losses. Training minimizes their sum, so each agent's slice of the gradient is
/// exactly the gradient of its own loss.
/// </summary>
public static class Losses
{
    /// <summary>
    /// Symmetric InfoNCE between two batches of embeddings of the same samples, per agent: rows are L2-normalized,
    /// logits = z1 z2^T / tau, positives on the diagonal; the mean of both directions' cross-entropy.
    /// </summary>
    /// <param name="z1">[..., N, d] (e.g. [A, N, d]).</param>
    /// <param name="z2">Same shape as <paramref name="z1"/>.</param>
    /// <param name="tau">Temperature.</param>
    /// <returns>The loss per leading index ([A] for [A, N, d]; a scalar for [N, d]).</returns>
    public static Tensor InfoNce(Tensor z1, Tensor z2, double tau)
    {
        var a = normalize(z1, p: 2, dim: -1);
        var b = normalize(z2, p: 2, dim: -1);
        var logits = a.matmul(b.transpose(-2, -1)).Over(tau);                     // [..., N, N]
        var rows = logits.log_softmax(-1).diagonal(0, -2, -1).mean([-1]);         // z1 -> z2
        var cols = logits.log_softmax(-2).diagonal(0, -2, -1).mean([-1]);         // z2 -> z1
        return rows.Plus(cols).Over(-2);
    }

    /// <summary>Mean squared cosine similarity between rows of a and b ([..., N, d]), per leading index (0 when orthogonal).</summary>
    public static Tensor CosineSquared(Tensor a, Tensor b) => cosine_similarity(a, b, dim: -1).Squared().mean([-1]);

    /// <summary>Negative log-likelihood per leading index: log-probabilities [..., N, C], labels [..., N].</summary>
    public static Tensor Nll(Tensor logProb, Tensor labels) => logProb.gather(-1, labels.unsqueeze(-1)).squeeze(-1).mean([-1]).neg();

    /// <summary>
    /// Total loss per agent ([A]): head_weight * sum of per-head CE + ensemble_weight * ensemble NLL
    /// + beta * mean over modality pairs of InfoNCE(redundant slices)
    /// + separation * mean of cos^2(unique, redundant) and cos^2(synergy, redundant).
    /// </summary>
    /// <param name="output">Forward pass of A agents.</param>
    /// <param name="labels">[A, N].</param>
    /// <param name="cfg">Loss weights.</param>
    public static Tensor Total(AgentOutput output, Tensor labels, LossConfig cfg)
    {
        Tensor loss;
        if (cfg.HeadWeight != 0 && output.HeadLogProbs is { } heads)
        {
            // the heads and the ensemble in one gather: [H+1, A, N, C] -> NLL [H+1, A], weighted sum over the heads
            long h = heads.shape[0];
            var all = torch.cat([heads, output.EnsembleLogProb.unsqueeze(0)], 0);
            var index = labels.unsqueeze(0).unsqueeze(-1).expand([h + 1, .. labels.shape, 1]);
            var nll = all.gather(-1, index).squeeze(-1).mean([-1]).neg();
            var w = Enumerable.Repeat((float)cfg.HeadWeight, (int)h).Append((float)cfg.EnsembleWeight).ToArray();
            loss = (nll * torch.tensor(w).reshape([h + 1, .. Enumerable.Repeat(1L, (int)nll.dim() - 1)])).sum([0]);
        }
        else
        {
            loss = Nll(output.EnsembleLogProb, labels).Times(cfg.EnsembleWeight);
            if (cfg.HeadWeight != 0)
                foreach (var logits in output.HeadLogits.Values)
                    loss = loss.Plus(Nll(logits.log_softmax(-1), labels).Times(cfg.HeadWeight));
        }
        var mods = output.Slices.Keys.OrderBy(m => m, StringComparer.Ordinal).ToList();
        if (cfg.Beta != 0 && mods.Count > 1)
        {
            Tensor? nce = null;
            int pairs = 0;
            for (int i = 0; i < mods.Count; i++)
                for (int j = i + 1; j < mods.Count; j++)
                {
                    var t = InfoNce(output.Slices[mods[i]].Redundant, output.Slices[mods[j]].Redundant, cfg.Tau);
                    if (output.ModalityWeight is { } w && w.TryGetValue(mods[i], out var wi) && w.TryGetValue(mods[j], out var wj))
                        t = t.mul(wi.mul(wj));
                    nce = nce is null ? t : nce.Plus(t);
                    pairs++;
                }
            loss = loss.Plus(nce!.Times(cfg.Beta / pairs));
        }
        if (cfg.Separation != 0 && output.Slices.Count > 0)
        {
            Tensor? sep = null;
            int terms = 0;
            foreach (var m in mods)
            {
                var s = output.Slices[m];
                var t = CosineSquared(s.Unique, s.Redundant);
                terms++;
                if (s.Synergy is not null) { t = t.Plus(CosineSquared(s.Synergy, s.Redundant)); terms++; }
                sep = sep is null ? t : sep.Plus(t);
            }
            loss = loss.Plus(sep!.Times(cfg.Separation / terms));
        }
        return loss;
    }
}
