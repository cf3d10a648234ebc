using Parse.Config;
using Parse.Data;
using Parse.Federation.Mixing;
using Parse.Model;
using Parse.Simulation;
using Parse.Util;
using TorchSharp;
using static TorchSharp.torch;

namespace Parse.Node;

/// <summary>
/// Loss-based screening of neighbours' values (<c>mixing.screen: loss</c>), run by the agent core before any mixing
/// rule, in both runtimes. The agent measures its own classification loss on a fixed batch of its own samples with
/// its own values, then, for each neighbour and group, with the group moved the way mixing that neighbour alone would
/// move it: own + w (neighbour - own), w the Metropolis-Hastings weight of the pair (no gradient; its values are
/// restored exactly afterwards). This is a descent test in the spirit of Zeno: a neighbour whose step raises the
/// loss beyond <see cref="Threshold"/> is left out of that group's round, like a refused payload. It does not look at
/// distances, so values that sit inside every radius (ALIE) are judged by what they do to the agent's own model.
/// </summary>
internal sealed class LossScreen : INeighbourScreen
{
    /// <summary>Slack in nats added to the threshold, so that an agent whose own loss is near 0 still accepts equals.</summary>
    public const double AbsoluteSlack = 0.01;

    private readonly Agent _agent;
    private readonly int _batchSize;
    private readonly double _tolerance;
    private readonly int _seed;
    private MultimodalData? _batch;
    private double? _own;

    /// <summary>Screens for <paramref name="agent"/> with <c>mixing.screen_batch</c> and <c>mixing.screen_tolerance</c>.</summary>
    public LossScreen(Agent agent, MixingConfig cfg, int seed)
    {
        _agent = agent;
        _batchSize = cfg.ScreenBatch;
        _tolerance = cfg.ScreenTolerance;
        _seed = seed;
    }

    /// <summary>A new round: the agent trained since the last one, so its own loss is measured again when needed.</summary>
    public void BeginRound() => _own = null;

    /// <summary>The agent's loss with its own values (measured once per round).</summary>
    public double OwnLoss => _own ??= Measure();

    /// <summary>The largest loss a neighbour's values may give: own x (1 + tolerance) + <see cref="AbsoluteSlack"/>.</summary>
    public double Threshold => OwnLoss + _tolerance * Math.Abs(OwnLoss) + AbsoluteSlack;

    /// <summary>
    /// True when <paramref name="loss"/> (a neighbour's, from <see cref="LossWith"/>) is acceptable. A non-finite loss
    /// never is; if the agent's own loss is not finite the screen cannot judge and keeps everything.
    /// </summary>
    public bool Keeps(double loss) => !double.IsFinite(OwnLoss) || (double.IsFinite(loss) && loss <= Threshold);

    /// <summary>
    /// The agent's loss with its values of <paramref name="group"/> moved by <paramref name="weight"/> towards
    /// <paramref name="values"/> (1: replaced by them); its own values are restored after.
    /// </summary>
    public double LossWith(ParameterGroup group, IReadOnlyList<Tensor> values, double weight = 1)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var saved = group.Parameters.Select(p => p.detach().clone()).ToList();
        try
        {
            for (int i = 0; i < saved.Count; i++)
            {
                var p = group.Parameters[i];
                var v = values[i].to_type(p.dtype);
                if (weight == 1) p.copy_(v);
                else p.AddScaled_(v.sub(saved[i]), weight);   // own + w (neighbour - own)
            }
            return Measure();
        }
        finally
        {
            for (int i = 0; i < saved.Count; i++) group.Parameters[i].copy_(saved[i]);
        }
    }

    /// <inheritdoc />
    public bool Keeps(ParameterGroup group, int ownDegree, Contribution contribution, out string why)
    {
        double loss = LossWith(group, contribution.Values, MetropolisHastings.Weight(ownDegree, contribution.SenderDegree));
        bool keep = Keeps(loss);
        why = keep ? "" : $"loss {loss:G4}, own {OwnLoss:G4}, threshold {Threshold:G4}";
        return keep;
    }

    private double Measure() => _agent.Group.Loss(_agent.Index, Batch);

    /// <summary>The fixed batch: up to <c>screen_batch</c> of the agent's training samples, drawn once from the seed.</summary>
    private MultimodalData Batch
    {
        get
        {
            if (_batch is not null) return _batch;
            var order = Enumerable.Range(0, _agent.Train.Count).ToArray();
            RandomExtensions.Shuffle(new Random(Seeds.Derive(_seed, "screen", _agent.Id)), order);
            var rows = order[..Math.Min(_batchSize, order.Length)];
            Array.Sort(rows);
            return _batch = _agent.Train.Subset(rows).DetachFromDisposeScope();
        }
    }

    /// <summary>Disposes the batch.</summary>
    public void Dispose() => _batch?.Dispose();
}
