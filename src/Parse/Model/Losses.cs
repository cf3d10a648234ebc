using Parse.Config;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;
using Parse.Util;

namespace Parse.Model;

/// <summary>The PARSE training objective (DESIGN.md "Loss").</summary>
public static class Losses
{
    /// <summary>
    /// Symmetric InfoNCE between two batches of embeddings of the same samples: rows are L2-normalized,
    /// logits = z1 z2^T / tau, positives on the diagonal; the mean of both directions' cross-entropy.
    /// </summary>
    public static Tensor InfoNce(Tensor z1, Tensor z2, double tau)
    {
        var a = normalize(z1, p: 2, dim: 1);
        var b = normalize(z2, p: 2, dim: 1);
        var logits = a.matmul(b.t()).Over(tau);
        var target = torch.arange(z1.shape[0], dtype: ScalarType.Int64);
        return cross_entropy(logits, target).Plus(cross_entropy(logits.t(), target)).Over(2);
    }

    /// <summary>Mean squared cosine similarity between rows of a and b (0 when orthogonal).</summary>
    public static Tensor CosineSquared(Tensor a, Tensor b) => cosine_similarity(a, b, dim: 1).Squared().mean();

    /// <summary>
    /// Total loss: head_weight * sum of per-head CE + ensemble_weight * ensemble NLL
    /// + beta * mean over modality pairs of InfoNCE(redundant slices)
    /// + separation * mean of cos^2(unique, redundant) and cos^2(synergy, redundant).
    /// </summary>
    public static Tensor Total(AgentOutput output, Tensor labels, LossConfig cfg)
    {
        Tensor loss = nll_loss(output.EnsembleLogProb, labels).Times(cfg.EnsembleWeight);
        if (cfg.HeadWeight != 0)
            foreach (var logits in output.HeadLogits.Values)
                loss = loss.Plus(cross_entropy(logits, labels).Times(cfg.HeadWeight));
        var mods = output.Slices.Keys.OrderBy(m => m, StringComparer.Ordinal).ToList();
        if (cfg.Beta != 0 && mods.Count > 1)
        {
            Tensor? nce = null;
            int pairs = 0;
            for (int i = 0; i < mods.Count; i++)
                for (int j = i + 1; j < mods.Count; j++)
                {
                    var t = InfoNce(output.Slices[mods[i]].Redundant, output.Slices[mods[j]].Redundant, cfg.Tau);
                    nce = nce is null ? t : nce.Plus(t);
                    pairs++;
                }
            loss = loss.Plus(nce!.Times(cfg.Beta / pairs));
        }
        if (cfg.Separation != 0 && output.Slices.Count > 0)
        {
            Tensor? sep = null;
            int terms = 0;
            foreach (var s in output.Slices.Values)
            {
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
