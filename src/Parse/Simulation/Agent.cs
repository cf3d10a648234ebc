using Parse.Config;
using Parse.Data;
using Parse.Model;
using Parse.Util;
using TorchSharp;
using static TorchSharp.torch;

namespace Parse.Simulation;

/// <summary>Accuracy of one agent on its test view, for the ensemble and for each head.</summary>
public sealed record EvalResult(double Accuracy, double Loss, IReadOnlyDictionary<string, double> HeadAccuracy);

/// <summary>
/// One agent: its data, model and optimizer, and the local step. The same class is used by every runtime;
/// only who calls <see cref="LocalTrain"/> and how payloads travel differ.
/// </summary>
public sealed class Agent : IDisposable
{
    private readonly optim.Optimizer? _optimizer;
    private readonly Training.FlatAdam? _flatAdam;
    private readonly Random _rng;
    private readonly LossConfig _loss;
    private int[] _order;
    private int _cursor;

    public Agent(int id, IReadOnlyList<string> modalities, MultimodalData train, IReadOnlyList<ModalitySpec> specs,
        ExperimentConfig cfg, int numClasses, int seed, int stepsMultiplier = 1)
    {
        Id = id;
        Model = new AgentModel(modalities, specs, numClasses, cfg.Model, cfg.Seed);
        (Train, Holdout) = cfg.Model.Ensemble == "stacked" ? SplitHoldout(train, cfg.Model.EnsembleHoldout, seed) : (train, null);
        _loss = cfg.Loss;
        var t = cfg.Train;
        var ps = Model.parameters();
        switch (t.Optimizer)
        {
            case "adam": _flatAdam = new Training.FlatAdam(ps, t.Lr, weightDecay: t.WeightDecay); break;
            case "adam-torch": _optimizer = optim.Adam(ps, lr: t.Lr, weight_decay: t.WeightDecay); break;
            case "sgd": _optimizer = optim.SGD(ps, learningRate: t.Lr, momentum: t.Momentum, weight_decay: t.WeightDecay); break;
            default: throw new ConfigException($"train.optimizer: unknown optimizer '{t.Optimizer}' (expected adam, adam-torch or sgd)");
        }
        _rng = new Random(seed);
        _order = Enumerable.Range(0, Train.Count).ToArray();
        _cursor = _order.Length;
        BatchSize = Math.Min(t.BatchSize, Train.Count);
        StepsPerRound = stepsMultiplier * (t.LocalEpochs is { } e ? Math.Max(1, (int)Math.Ceiling(e * Train.Count / BatchSize)) : t.LocalSteps);
    }

    public int Id { get; }
    public AgentModel Model { get; }
    public MultimodalData Train { get; }
    /// <summary>Local samples held out from training to fit the <c>stacked</c> ensemble (null otherwise).</summary>
    public MultimodalData? Holdout { get; }

    /// <summary>Fewest local samples for which a hold-out split is made (smaller agents keep equal head weights).</summary>
    public const int MinSamplesForHoldout = 16;

    private static (MultimodalData Train, MultimodalData? Holdout) SplitHoldout(MultimodalData all, double fraction, int seed)
    {
        if (all.Count < MinSamplesForHoldout) return (all, null);
        int k = Math.Max(4, (int)Math.Round(fraction * all.Count));
        var order = Enumerable.Range(0, all.Count).ToArray();
        new Random(Seeds.Derive(seed, "holdout")).Shuffle(order);
        var holdout = all.Subset(order[..k]);
        var train = all.Subset(order[k..]);
        all.Dispose();
        return (train, holdout);
    }

    /// <summary>
    /// Fits the <c>stacked</c> ensemble's head weights on the hold-out split (<see cref="StackedWeights.Fit"/>);
    /// the heads themselves are not touched. No-op without a hold-out split.
    /// </summary>
    public void FitEnsembleWeights(IReadOnlySet<string>? dropHeads = null)
    {
        if (Holdout is null) return;
        using var scope = torch.NewDisposeScope();
        Model.eval();
        string[] names;
        Tensor lp;
        using (torch.no_grad())
        {
            var inputs = Modalities.ToDictionary(m => m, m => Holdout.Views[m]);
            var output = Model.Forward(inputs, dropHeads);
            names = output.HeadLogits.Keys.Where(k => dropHeads is null || !dropHeads.Contains(k)).ToArray();
            lp = torch.stack(names.Select(k => output.HeadLogits[k].log_softmax(1)).ToArray(), 0).detach();
        }
        if (names.Length <= 1) { Model.EnsembleWeights = null; return; }
        var fitted = StackedWeights.Fit(lp.to_type(ScalarType.Float64).data<double>().ToArray(), names.Length, (int)lp.shape[1], (int)lp.shape[2], Holdout.Labels);
        Model.EnsembleWeights = names.Select((k, i) => (k, fitted[i])).ToDictionary(x => x.k, x => x.Item2);
    }
    public string TypeName => Model.TypeName;
    public IReadOnlyList<string> Modalities => Model.Modalities;
    public int BatchSize { get; }
    public int StepsPerRound { get; }

    /// <summary>Runs one round of local optimization; returns the mean training loss.</summary>
    public double LocalTrain()
    {
        Model.train();
        double total = 0;
        for (int s = 0; s < StepsPerRound; s++)
        {
            using var scope = torch.NewDisposeScope();
            var idx = NextBatch();
            var inputs = Modalities.ToDictionary(m => m, m => Train.Views[m].index_select(0, idx));
            var labels = Train.LabelTensor.index_select(0, idx);
            if (_flatAdam is not null) _flatAdam.ZeroGrad(); else _optimizer!.zero_grad();
            var output = Model.Forward(inputs);
            var loss = Losses.Total(output, labels, _loss);
            loss.backward();
            if (_flatAdam is not null) _flatAdam.Step(); else _optimizer!.step();
            double l = loss.item<float>();
            if (!double.IsFinite(l))
                throw new InvalidOperationException($"agent {Id} ({TypeName}): training loss became {l}; lower train.lr or check the data");
            total += l;
        }
        return total / StepsPerRound;
    }

    private Tensor NextBatch() => torch.tensor(NextBatchIndices(), dtype: ScalarType.Int64);

    /// <summary>Indices (into <see cref="Train"/>) of the next training batch: epochs of a shuffled order.</summary>
    public long[] NextBatchIndices()
    {
        var batch = new long[BatchSize];
        for (int i = 0; i < BatchSize; i++)
        {
            if (_cursor >= _order.Length)
            {
                Util.RandomExtensions.Shuffle(_rng, _order);
                _cursor = 0;
            }
            batch[i] = _order[_cursor++];
        }
        return batch;
    }

    /// <summary>
    /// Gradient of the training loss on a fixed probe batch (the first <paramref name="probe"/> local samples),
    /// flattened per parameter group key. Does not change parameters, optimizer state or the batch sequence.
    /// </summary>
    public Dictionary<string, float[]> ProbeGradients(int probe = 64)
    {
        Model.train();
        using var scope = torch.NewDisposeScope();
        long n = Math.Min(probe, Train.Count);
        var inputs = Modalities.ToDictionary(m => m, m => Train.Views[m].narrow(0, 0, n));
        var labels = Train.LabelTensor.narrow(0, 0, n);
        foreach (var p in Model.parameters()) p.grad = null;
        Losses.Total(Model.Forward(inputs), labels, _loss).backward();
        var result = new Dictionary<string, float[]>();
        foreach (var g in Model.Groups)
        {
            var parts = g.Parameters.Select(p => p.grad is { } gr ? gr.reshape(-1) : torch.zeros(p.numel())).ToArray();
            result[g.Key] = torch.cat(parts, 0).data<float>().ToArray();
        }
        foreach (var p in Model.parameters()) p.grad = null;
        return result;
    }

    /// <summary>Accuracy on <paramref name="test"/> using only this agent's modalities.</summary>
    public EvalResult Evaluate(MultimodalData test, IReadOnlySet<string>? dropHeads = null, int chunk = 1024)
    {
        // the stacked ensemble is refitted for the heads in use; the full-ensemble weights are restored afterwards
        var kept = Model.EnsembleWeights;
        FitEnsembleWeights(dropHeads);
        try { return EvaluateWithCurrentWeights(test, dropHeads, chunk); }
        finally { if (dropHeads is { Count: > 0 }) Model.EnsembleWeights = kept; }
    }

    private EvalResult EvaluateWithCurrentWeights(MultimodalData test, IReadOnlySet<string>? dropHeads, int chunk)
    {
        Model.eval();
        using var noGrad = torch.no_grad();
        long correct = 0;
        double lossSum = 0;
        var headCorrect = new Dictionary<string, long>();
        for (int start = 0; start < test.Count; start += chunk)
        {
            using var scope = torch.NewDisposeScope();
            long len = Math.Min(chunk, test.Count - start);
            var inputs = Modalities.ToDictionary(m => m, m => test.Views[m].narrow(0, start, len));
            var labels = test.LabelTensor.narrow(0, start, len);
            var output = Model.Forward(inputs, dropHeads);
            correct += output.EnsembleLogProb.argmax(1).eq(labels).sum().item<long>();
            lossSum += nn.functional.nll_loss(output.EnsembleLogProb, labels, reduction: nn.Reduction.Sum).item<float>();
            foreach (var (name, logits) in output.HeadLogits)
                headCorrect[name] = headCorrect.GetValueOrDefault(name) + logits.argmax(1).eq(labels).sum().item<long>();
        }
        return new EvalResult((double)correct / test.Count, lossSum / test.Count,
            headCorrect.ToDictionary(kv => kv.Key, kv => (double)kv.Value / test.Count));
    }

    public void Dispose()
    {
        _optimizer?.Dispose();
        _flatAdam?.Dispose();
        Model.Dispose();
        Train.Dispose();
        Holdout?.Dispose();
    }
}
