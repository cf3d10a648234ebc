using Parse.Config;
using Parse.Data;
using Parse.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Parse.Simulation;

/// <summary>
/// Local learning of A agents of one type as one batched-first model (DESIGN.md "Performance direction"): one
/// <see cref="AgentModel"/> whose parameters have a leading agent dimension, one optimizer over the stacked
/// parameters, and per step one forward and backward pass for all A agents. The objective is the sum of the agents'
/// own losses, so each agent's slice of the gradient is exactly its own gradient, and the optimizers are element-wise
/// (the fused Adam, <c>adam-torch</c>, SGD with momentum), so one optimizer over the stack is each agent's optimizer.
/// Every agent keeps its own batch sequence, hold-out split and ensemble weights; its parameter groups are views of
/// its slices, so mixing writes straight into the stacked store. A = 1 on the cluster and with
/// <c>sim.batch_agents=false</c>; the simulator groups agents with the same type, batch size and steps per round.
/// </summary>
public sealed class Learner : IDisposable
{
    /// <summary>
    /// The model of <paramref name="agents"/> agents of one type, as every learner builds it (the type's encoders, the
    /// <c>no-slice-scopes</c> ablation); also used to know a type's group keys without data (<see cref="Node.ExpectedOverlays"/>).
    /// </summary>
    internal static AgentModel BuildModel(AgentType type, IReadOnlyList<ModalitySpec> specs, int numClasses, ExperimentConfig cfg, int agents) =>
        new(type.Modalities, specs, numClasses, type.ModelFor(cfg.Model), cfg.Seed, agents,
            sliceScopes: !cfg.Has(Ablations.NoSliceScopes), encoderField: type.EncoderField);

    private readonly Agent[] _agents;
    private readonly LossConfig _loss;
    private readonly Federation.Sharing.ISharingStrategy _strategy;
    private readonly DynamicsConfig _dynamics;
    private readonly int _seed;
    private readonly TrainConfig _train;
    private readonly int _rounds;
    private Dictionary<string, bool[]>? _testPresent;
    private readonly optim.Optimizer? _optimizer;
    private readonly Training.FlatAdam? _flatAdam;
    private readonly Dictionary<string, Tensor> _views = new();
    private readonly Tensor _labels;
    private readonly long[] _offsets;
    private readonly bool _ownsData;
    private int _open;
    private bool _disposed;
    private int _unnumberedRounds;   // LocalTrain calls without a round number (the rotating ensemble fit counts them)

    /// <summary>
    /// Evaluation chunk limits: agent-samples and input values (agents x samples x features) per forward pass, and
    /// samples per agent. Small chunks keep the activations of many agents in cache (larger ones were slower, not faster)
    /// and bound the memory a dispose scope holds until the chunk ends.
    /// </summary>
    private const long EvalAgentSamples = 2048, EvalInputValues = 1L << 18, EvalChunk = 1024;

    /// <summary>
    /// Builds the stacked model of <paramref name="agents"/> (same type, batch size and steps per round; in this order
    /// along the agent dimension) and takes the agents in.
    /// </summary>
    /// <param name="agents">The agents; each joins exactly one learner.</param>
    /// <param name="specs">Input shape of every modality.</param>
    /// <param name="cfg">The experiment (model, loss and train sections are read).</param>
    /// <param name="numClasses">Output classes.</param>
    public Learner(IReadOnlyList<Agent> agents, IReadOnlyList<ModalitySpec> specs, ExperimentConfig cfg, int numClasses)
    {
        if (agents.Count == 0) throw new ArgumentException("a learner needs at least one agent", nameof(agents));
        var first = agents[0];
        foreach (var a in agents)
            if (a.TypeName != first.TypeName || !a.Type.Equals(first.Type) || a.BatchSize != first.BatchSize || a.StepsPerRound != first.StepsPerRound)
                throw new ArgumentException($"agents {first.Id} and {a.Id} differ in type (or its encoders), batch size or steps per round; they cannot train as one model", nameof(agents));
        _agents = agents.ToArray();
        _loss = cfg.EffectiveLoss();
        _strategy = Federation.Sharing.StrategyRegistry.Create(cfg.Strategy, cfg);
        _dynamics = cfg.Dynamics;
        _seed = cfg.Seed;
        (_train, _rounds) = (cfg.Train, cfg.Rounds);
        Model = BuildModel(first.Type, specs, numClasses, cfg, _agents.Length);
        var t = cfg.Train;
        var ps = Model.parameters();
        switch (t.Optimizer)
        {
            case "adam": _flatAdam = new Training.FlatAdam(ps, t.Lr, weightDecay: t.WeightDecay); break;
            case "adam-torch": _optimizer = optim.Adam(ps, lr: t.Lr, weight_decay: t.WeightDecay); break;
            case "sgd": _optimizer = optim.SGD(ps, learningRate: t.Lr, momentum: t.Momentum, weight_decay: t.WeightDecay); break;
            default:
                Model.Dispose();
                throw new ConfigException($"train.optimizer: unknown optimizer '{t.Optimizer}' (expected adam, adam-torch or sgd)");
        }

        // training data of all agents, concatenated; each agent's own data becomes a view of its rows
        _offsets = new long[_agents.Length];
        _ownsData = _agents.Length > 1;
        if (!_ownsData)
        {
            foreach (var m in Modalities) _views[m] = first.Train.Views[m];
            _labels = first.Train.LabelTensor;
            first.Attach(this, 0, null);
        }
        else
        {
            long offset = 0;
            for (int k = 0; k < _agents.Length; k++) { _offsets[k] = offset; offset += _agents[k].Train.Count; }
            foreach (var m in Modalities) _views[m] = torch.cat(_agents.Select(a => a.Train.Views[m]).ToArray(), 0).DetachFromDisposeScope();
            _labels = torch.cat(_agents.Select(a => a.Train.LabelTensor).ToArray(), 0).DetachFromDisposeScope();
            for (int k = 0; k < _agents.Length; k++)
            {
                var a = _agents[k];
                var own = Modalities.ToDictionary(m => m, m => _views[m].narrow(0, _offsets[k], a.Train.Count).DetachFromDisposeScope());
                a.Attach(this, k, new MultimodalData(own, a.Train.Labels, a.Train.NumClasses));
            }
        }
        _open = _agents.Length;
    }

    /// <summary>The stacked model of the agents.</summary>
    public AgentModel Model { get; }
    /// <summary>The agents, in the order of the model's agent dimension.</summary>
    public IReadOnlyList<Agent> Agents => _agents;
    /// <summary>Agent type name of every member (<c>agents.types[i].name</c>, default the modality set).</summary>
    public string TypeName => _agents[0].TypeName;
    /// <summary>Modalities of every member, sorted.</summary>
    public IReadOnlyList<string> Modalities => Model.Modalities;
    /// <summary>Samples per local step (every member).</summary>
    public int BatchSize => _agents[0].BatchSize;
    /// <summary>Local steps per round (every member).</summary>
    public int StepsPerRound => _agents[0].StepsPerRound;

    private int[] All => Enumerable.Range(0, _agents.Length).ToArray();

    /// <summary>Restricts forward passes to <paramref name="agents"/> unless they are all of them.</summary>
    private IDisposable? Select(IReadOnlyList<int> agents) => agents.Count == _agents.Length ? null : Stacked.Only(agents);

    /// <summary>
    /// One round of local training of every agent (each on its own batches); returns each agent's mean training loss.
    /// With <paramref name="round"/> (0-based), groups the strategy does not train in that round
    /// (<see cref="Federation.Sharing.ISharingStrategy.Trains"/>, e.g. Harmony's frozen encoders) keep their values.
    /// </summary>
    public double[] LocalTrain(int round = -1)
    {
        var frozen = round < 0 ? [] : Model.GroupsOf(0).Where(g => !_strategy.Trains(g, Modalities.Count, round)).SelectMany(g => g.Stacked).ToList();
        var kept = new List<Tensor>();
        using (torch.no_grad())
            foreach (var p in frozen) kept.Add(p.detach().clone().DetachFromDisposeScope());
        // the stacked ensemble's weights feed the training loss: fit them here, on the training side, every round, so
        // that they depend only on the model and never on when (or whether) the run evaluates; with the rotating fit,
        // on the fold the previous round left out, while this round leaves out the next one
        int r = round >= 0 ? round : _unnumberedRounds++;
        foreach (var a in _agents) a.BeginEnsembleRound(r);
        FitEnsembleWeights();
        if (round >= 0) SetLearningRate(Training.LearningRateSchedule.Rate(_train, round, _rounds));
        try { return Train(); }
        finally
        {
            foreach (var a in _agents) a.EndEnsembleRound();
            using (torch.no_grad())
                for (int i = 0; i < frozen.Count; i++) { frozen[i].copy_(kept[i]); kept[i].Dispose(); }
        }
    }

    private void SetLearningRate(double lr)
    {
        if (_flatAdam is not null) _flatAdam.Lr = lr;
        else if (_optimizer is TorchSharp.Modules.OptimizerHelper helper)
            foreach (var group in helper.ParamGroups) group.LearningRate = lr;
    }

    private double[] Train()
    {
        Model.train();
        int a = _agents.Length, b = BatchSize, steps = StepsPerRound;
        var total = new double[a];
        var idx = new long[a * b];
        for (int step = 0; step < steps; step++)
        {
            using var scope = torch.NewDisposeScope();
            for (int k = 0; k < a; k++)
            {
                var batch = _agents[k].NextBatchIndices();
                for (int j = 0; j < b; j++) idx[k * b + j] = _offsets[k] + batch[j];
            }
            var it = torch.tensor(idx, dtype: ScalarType.Int64);
            var inputs = Modalities.ToDictionary(m => m, m => Rows(_views[m], it, a, b));
            var labels = _labels.index_select(0, it).reshape(a, b);
            if (_flatAdam is not null) _flatAdam.ZeroGrad(); else _optimizer!.zero_grad();
            var perAgent = Losses.Total(Model.Forward(inputs, present: TrainPresence(b)), labels, _loss);
            perAgent.sum().backward();
            if (_flatAdam is not null) _flatAdam.Step(); else _optimizer!.step();
            var values = perAgent.detach().data<float>().ToArray();
            for (int k = 0; k < a; k++)
            {
                if (!float.IsFinite(values[k]))
                    throw new InvalidOperationException($"agent {_agents[k].Id} ({TypeName}): training loss became {values[k]}; lower train.lr or check the data");
                total[k] += values[k];
            }
        }
        return total.Select(x => x / steps).ToArray();
    }

    /// <summary>
    /// Which modalities each agent's next <paramref name="b"/> training samples have (<c>dynamics</c>): none of a down
    /// sensor, and each of the others with probability 1 - <c>dynamics.train_missing</c>, drawn from the agent's own
    /// stream (the same draws whether it trains alone or stacked). Null when nothing is missing.
    /// </summary>
    internal Dictionary<string, Tensor>? TrainPresence(int b)
    {
        if (!_dynamics.Enabled) return null;
        bool any = false;
        var masks = Modalities.ToDictionary(m => m, _ => new float[_agents.Length * b]);
        for (int k = 0; k < _agents.Length; k++)
            foreach (var m in Modalities)
            {
                var mask = masks[m];
                bool down = _agents[k].Unavailable.Contains(m);
                double rate = _dynamics.TrainMissing.GetValueOrDefault(m);
                for (int j = 0; j < b; j++)
                {
                    bool has = !down && (rate <= 0 || _agents[k].MissingRandom.NextDouble() >= rate);
                    mask[k * b + j] = has ? 1f : 0f;
                    any |= !has;
                }
            }
        return any ? masks.ToDictionary(kv => kv.Key, kv => torch.tensor(kv.Value, [_agents.Length, b])) : null;
    }

    /// <summary>
    /// Which modalities test samples <c>[start, start + len)</c> have for the selected agents: none of an agent's down
    /// sensors, and each of the others unless the test set's fixed mask (<c>dynamics.test_missing</c>, seeded by modality)
    /// drops it. Null when nothing is missing.
    /// </summary>
    private Dictionary<string, Tensor>? TestPresence(MultimodalData test, IReadOnlyList<int> sel, long start, long len)
    {
        if (!_dynamics.Enabled) return null;
        if (_testPresent is null || _testPresent.Values.First().Length != test.Count)
            _testPresent = Modalities.ToDictionary(m => m, m =>
            {
                double rate = _dynamics.TestMissing.GetValueOrDefault(m);
                var rng = new Random(Util.Seeds.Derive(_seed, "test-missing", m));
                return Enumerable.Range(0, test.Count).Select(_ => rate <= 0 || rng.NextDouble() >= rate).ToArray();
            });
        bool any = false;
        var result = new Dictionary<string, Tensor>();
        foreach (var m in Modalities)
        {
            var mask = new float[sel.Count * len];
            for (int i = 0; i < sel.Count; i++)
            {
                bool down = _agents[sel[i]].Unavailable.Contains(m);
                for (long j = 0; j < len; j++)
                {
                    bool has = !down && _testPresent[m][start + j];
                    mask[i * len + j] = has ? 1f : 0f;
                    any |= !has;
                }
            }
            result[m] = torch.tensor(mask, [sel.Count, len]);
        }
        return any ? result : null;
    }

    /// <summary>Rows <paramref name="index"/> of <paramref name="data"/> [rows, ...] as [a, b, ...].</summary>
    private static Tensor Rows(Tensor data, Tensor index, long a, long b)
    {
        var rows = data.index_select(0, index);
        return rows.reshape([a, b, .. rows.shape[1..]]);
    }

    /// <summary>The same rows for every one of <paramref name="a"/> agents: [n, ...] as [a, n, ...].</summary>
    private static Tensor Shared(Tensor rows, long a) => a == 1 ? rows.unsqueeze(0) : rows.unsqueeze(0).expand([a, .. rows.shape]).contiguous();

    /// <summary>
    /// Fits the <c>stacked</c> ensemble's head weights of <paramref name="agents"/> (default: all) on their fit sets
    /// (<see cref="Agent.EnsembleFitSet"/>: the hold-out split or the rotating fit's fold; <see cref="StackedWeights.Fit"/>);
    /// the heads themselves are not touched. Agents without a fit set keep their weights. Agents with equally large fit
    /// sets share one forward pass.
    /// </summary>
    public void FitEnsembleWeights(IReadOnlySet<string>? dropHeads = null, IReadOnlyList<int>? agents = null)
    {
        var withFitSet = (agents ?? All).Where(k => _agents[k].EnsembleFitSet is not null);
        foreach (var group in withFitSet.GroupBy(k => _agents[k].EnsembleFitSet!.Count).OrderBy(g => g.Key))
        {
            var ids = group.Order().ToArray();
            using var scope = torch.NewDisposeScope();
            Model.eval();
            string[] names;
            Tensor lp;
            using (torch.no_grad())
            using (Select(ids))
            {
                var inputs = Modalities.ToDictionary(m => m, m => torch.stack(ids.Select(k => _agents[k].EnsembleFitSet!.Views[m]).ToArray(), 0));
                var output = Model.Forward(inputs, dropHeads);
                names = output.HeadLogits.Keys.Where(h => dropHeads is null || !dropHeads.Contains(h)).ToArray();
                lp = names.Length <= 1 ? torch.empty(0)
                    : torch.stack(names.Select(h => output.HeadLogits[h].log_softmax(-1)).ToArray(), 0).detach();   // [H, A', n, C]
            }
            for (int i = 0; i < ids.Length; i++)
            {
                int k = ids[i];
                if (names.Length <= 1) { Model.SetEnsembleWeights(k, null); continue; }
                var mine = lp.select(1, i).contiguous().to_type(ScalarType.Float64);
                var fitted = StackedWeights.Fit(mine.data<double>().ToArray(), names.Length, (int)mine.shape[1], (int)mine.shape[2], _agents[k].EnsembleFitSet!.Labels);
                Model.SetEnsembleWeights(k, names.Select((h, j) => (h, fitted[j])).ToDictionary(x => x.h, x => x.Item2));
            }
        }
    }

    /// <summary>
    /// Gradient of each agent's training loss on a fixed probe batch (its first <paramref name="probe"/> local
    /// samples), flattened per parameter group key, for <paramref name="agents"/> (default: all). Does not change
    /// parameters, optimizer state or batch sequences. Agents with equally large probes share one backward pass.
    /// </summary>
    public Dictionary<string, float[]>[] ProbeGradients(int probe = 64, IReadOnlyList<int>? agents = null)
    {
        var sel = agents ?? All;
        var result = new Dictionary<string, float[]>[sel.Count];
        var position = sel.Select((k, i) => (k, i)).ToDictionary(x => x.k, x => x.i);
        Model.train();
        foreach (var group in sel.GroupBy(k => (long)Math.Min(probe, _agents[k].Train.Count)).OrderBy(g => g.Key))
        {
            long n = group.Key;
            var ids = group.Order().ToArray();
            using var scope = torch.NewDisposeScope();
            foreach (var p in Model.parameters()) p.grad = null;
            using (Select(ids))
            {
                var inputs = Modalities.ToDictionary(m => m, m => torch.stack(ids.Select(k => _agents[k].Train.Views[m].narrow(0, 0, n)).ToArray(), 0));
                var labels = torch.stack(ids.Select(k => _agents[k].Train.LabelTensor.narrow(0, 0, n)).ToArray(), 0);
                Losses.Total(Model.Forward(inputs), labels, _loss).sum().backward();
            }
            foreach (int k in ids)
            {
                var byKey = new Dictionary<string, float[]>();
                foreach (var g in Model.GroupsOf(k))
                {
                    var parts = g.Stacked.Select(p => p.grad is { } gr ? gr[k].reshape(-1) : torch.zeros(p[k].numel())).ToArray();
                    byKey[g.Key] = torch.cat(parts, 0).data<float>().ToArray();
                }
                result[position[k]] = byKey;
            }
            foreach (var p in Model.parameters()) p.grad = null;
        }
        return result;
    }

    /// <summary>
    /// The classification part of the training objective (the heads' and the ensemble's cross-entropy, weighted as in
    /// training; no InfoNCE or separation term) of agent <paramref name="agent"/> (index in this learner) on
    /// <paramref name="batch"/> (its own samples, [N, ...] per modality), with its current parameters and ensemble
    /// weights, without gradients and
    /// without touching its batch sequence, random streams or optimizer (<c>mixing.screen: loss</c>). Modalities whose
    /// sensor is down this round are masked as in training; no sample is dropped at random. Only reads the agent's own
    /// slices of the stacked parameters, so agents of one learner may call it from different threads.
    /// </summary>
    public double Loss(int agent, MultimodalData batch)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        using var only = Select([agent]);
        long n = batch.Count;
        var inputs = Modalities.ToDictionary(m => m, m => batch.Views[m].unsqueeze(0));
        var labels = batch.LabelTensor.unsqueeze(0);
        var down = _agents[agent].Unavailable;
        Dictionary<string, Tensor>? present = down.Count == 0 ? null
            : Modalities.ToDictionary(m => m, m => down.Contains(m) ? torch.zeros(1, n) : torch.ones(1, n));
        return Losses.Total(Model.Forward(inputs, present: present), labels, _loss with { Beta = 0, Separation = 0 }).item<float>();
    }

    /// <summary>
    /// Accuracy of <paramref name="agents"/> (default: all) on <paramref name="test"/>, each with its own modalities
    /// and parameters, in batched forward passes. The <c>stacked</c> ensemble is refitted first for the current model
    /// and the heads in use, and the training-side weights (<see cref="LocalTrain"/>) are restored afterwards:
    /// evaluating never changes training.
    /// </summary>
    public EvalResult[] Evaluate(MultimodalData test, IReadOnlySet<string>? dropHeads = null, IReadOnlyList<int>? agents = null)
    {
        var sel = agents ?? All;
        var kept = sel.Select(Model.GetEnsembleWeights).ToArray();
        FitEnsembleWeights(dropHeads, sel);
        try
        {
            var results = EvaluateWithCurrentWeights(test, dropHeads, sel, masked: true);
            if (!_dynamics.Enabled) return results;
            // with dynamics, also the accuracy with every sensor working and no test sample missing
            var all = EvaluateWithCurrentWeights(test, dropHeads, sel, masked: false);
            return results.Select((x, i) => x with { AllSensorsAccuracy = all[i].Accuracy }).ToArray();
        }
        finally
        {
            for (int i = 0; i < sel.Count; i++) Model.SetEnsembleWeights(sel[i], kept[i]);
        }
    }

    private EvalResult[] EvaluateWithCurrentWeights(MultimodalData test, IReadOnlySet<string>? dropHeads, IReadOnlyList<int> sel, bool masked)
    {
        Model.eval();
        using var noGrad = torch.no_grad();
        using var only = Select(sel);
        int s = sel.Count;
        long perSample = Modalities.Sum(m => test.Views[m].shape[1..].Aggregate(1L, (x, y) => x * y));
        int chunk = (int)Math.Clamp(Math.Min(EvalAgentSamples / s, EvalInputValues / (s * Math.Max(1, perSample))), 1, EvalChunk);
        var correct = new long[s];
        var lossSum = new double[s];
        var headCorrect = new Dictionary<string, long[]>();
        for (int start = 0; start < test.Count; start += chunk)
        {
            using var scope = torch.NewDisposeScope();
            long len = Math.Min(chunk, test.Count - start);
            var inputs = Modalities.ToDictionary(m => m, m => Shared(test.Views[m].narrow(0, start, len), s));
            var labels = test.LabelTensor.narrow(0, start, len).unsqueeze(0).expand(s, len);   // [A', len]
            var output = Model.Forward(inputs, dropHeads, masked ? TestPresence(test, sel, start, len) : null);
            Add(correct, output.EnsembleLogProb.argmax(-1).eq(labels).sum([1]));
            var nll = output.EnsembleLogProb.gather(-1, labels.unsqueeze(-1)).sum([1, 2]).neg().data<float>().ToArray();
            for (int i = 0; i < s; i++) lossSum[i] += nll[i];
            foreach (var (name, logits) in output.HeadLogits)
            {
                if (!headCorrect.TryGetValue(name, out var hc)) headCorrect[name] = hc = new long[s];
                Add(hc, logits.argmax(-1).eq(labels).sum([1]));
            }
        }
        return Enumerable.Range(0, s).Select(i => new EvalResult((double)correct[i] / test.Count, lossSum[i] / test.Count,
            headCorrect.ToDictionary(kv => kv.Key, kv => (double)kv.Value[i] / test.Count))).ToArray();

        static void Add(long[] acc, Tensor counts)
        {
            var v = counts.to_type(ScalarType.Int64).data<long>().ToArray();
            for (int i = 0; i < acc.Length; i++) acc[i] += v[i];
        }
    }

    /// <summary>
    /// Slice-drop at inference for <paramref name="agents"/> (default: all): accuracy with each head kind
    /// (unique = all unique heads) left out of the ensemble.
    /// </summary>
    public Dictionary<string, double>[] SliceDrop(MultimodalData test, IReadOnlyList<int>? agents = null)
    {
        var sel = agents ?? All;
        var result = sel.Select(_ => new Dictionary<string, double>()).ToArray();
        var heads = Model.HeadNames.ToList();
        foreach (var kind in heads.Select(h => h.StartsWith("unique/", StringComparison.Ordinal) ? "unique" : h).Distinct())
        {
            var drop = heads.Where(h => h == kind || (kind == "unique" && h.StartsWith("unique/", StringComparison.Ordinal))).ToHashSet();
            if (drop.Count == 0 || drop.Count >= heads.Count) continue;
            var evaluated = Evaluate(test, drop, sel);
            for (int i = 0; i < sel.Count; i++) result[i][kind] = evaluated[i].Accuracy;
        }
        return result;
    }

    /// <summary>
    /// The optimizer's state (Adam moments and step count, or SGD momentum buffers) as bytes, for checkpoints; restore
    /// with <see cref="LoadOptimizerState"/> on a learner of the same shapes and optimizer.
    /// </summary>
    public byte[] OptimizerState()
    {
        var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            w.Write(_flatAdam is not null ? "flat-adam" : _optimizer!.GetType().Name);
            if (_flatAdam is not null) _flatAdam.Save(w);
            else ((TorchSharp.Modules.OptimizerHelper)_optimizer!).save_state_dict(w);
        }
        return ms.ToArray();
    }

    /// <summary>Restores what <see cref="OptimizerState"/> returned; throws <see cref="InvalidDataException"/> if it does not fit.</summary>
    public void LoadOptimizerState(byte[] state)
    {
        using var r = new BinaryReader(new MemoryStream(state), System.Text.Encoding.UTF8);
        string kind;
        try { kind = r.ReadString(); }
        catch (EndOfStreamException) { throw new InvalidDataException("optimizer state is truncated"); }
        string mine = _flatAdam is not null ? "flat-adam" : _optimizer!.GetType().Name;
        if (kind != mine) throw new InvalidDataException($"optimizer state is for '{kind}', this learner uses '{mine}'");
        try
        {
            if (_flatAdam is not null) _flatAdam.Load(r);
            else ((TorchSharp.Modules.OptimizerHelper)_optimizer!).load_state_dict(r);
        }
        catch (Exception e) when (e is EndOfStreamException or ArgumentException or InvalidOperationException)
        {
            throw new InvalidDataException($"optimizer state does not fit: {e.Message}");
        }
    }

    /// <summary>An agent is done with the learner; the last one disposes it.</summary>
    internal void Release()
    {
        if (Interlocked.Decrement(ref _open) == 0) Dispose();
    }

    /// <summary>Disposes the model, the optimizer and the concatenated training data.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _optimizer?.Dispose();
        _flatAdam?.Dispose();
        Model.Dispose();
        if (_ownsData)
        {
            foreach (var v in _views.Values) v.Dispose();
            _labels.Dispose();
        }
    }
}
