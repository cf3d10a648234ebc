using Parse.Config;
using Parse.Model;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;
using Parse.Util;

namespace Parse.Simulation;

/// <summary>
/// Local training of several agents with the same architecture as one stacked model (DESIGN.md "Performance
/// direction"): every parameter gets a leading agent dimension, each linear layer becomes one batched matmul
/// (<c>bmm</c>) for all agents, and the loss is the sum of the agents' own losses, so each agent's slice of
/// the gradient is exactly its own gradient. Adam is element-wise, so one fused Adam over the stacked
/// parameters is each agent's Adam. Every round the agents' current parameters (after mixing) are copied in,
/// the agents' own batch sequences are drawn, and the trained parameters are copied back; strategies,
/// overlays and mixing see ordinary agents. Per-operation overhead, which dominates models this small, is paid
/// once per batch instead of once per agent.
/// <para>Supported: the three-slice model with MLP trunks, any fusion, any heads, the logprob-mean and
/// prob-mean ensembles, the fused Adam optimizer. Anything else trains agent by agent.</para>
/// </summary>
public sealed class AgentBatch : IDisposable
{
    private readonly Agent[] _agents;
    private readonly ExperimentConfig _cfg;
    private readonly string[] _names;
    private readonly Parameter[][] _agentParams;       // [agent][parameter]
    private readonly Dictionary<string, Parameter> _p; // name -> stacked [A, ...]
    private readonly Training.FlatAdam _opt;
    private readonly Dictionary<string, Tensor> _views = new();
    private readonly Tensor _labels;
    private readonly long[] _offsets;
    private readonly IReadOnlyList<string> _mods;
    private readonly int _layers;
    private readonly int _a, _b;

    /// <summary>Why <paramref name="cfg"/> cannot train agents in batches, or null when it can.</summary>
    public static string? Unsupported(ExperimentConfig cfg)
    {
        if (!cfg.Model.Fission) return "model.fission=false (monolithic model)";
        if (cfg.Strategy == "centralized") return "strategy centralized";
        if (cfg.Train.Optimizer != "adam") return $"train.optimizer={cfg.Train.Optimizer}";
        if (cfg.Model.Ensemble == "stacked") return "model.ensemble=stacked";
        var kinds = cfg.Model.Encoders.Values.Select(e => e.Kind).Distinct().ToList();
        if (kinds.Any(k => k != "mlp")) return $"encoder kind {kinds.First(k => k != "mlp")}";
        if (cfg.Model.Encoders.Values.Select(e => e.Layers).Distinct().Count() > 1) return "encoders with different depths";
        return null;
    }

    /// <summary>
    /// Groups <paramref name="agents"/> into batches of two or more agents with the same type, batch size and
    /// steps per round; returns the batches and the agents left to train alone.
    /// </summary>
    public static (List<AgentBatch> Batches, List<Agent> Alone) Plan(IReadOnlyList<Agent> agents, ExperimentConfig cfg)
    {
        if (Unsupported(cfg) is not null) return ([], agents.ToList());
        var batches = new List<AgentBatch>();
        var alone = new List<Agent>();
        foreach (var g in agents.GroupBy(a => (a.TypeName, a.BatchSize, a.StepsPerRound)).OrderBy(g => g.Min(a => a.Id)))
        {
            if (g.Count() < 2) alone.AddRange(g);
            else batches.Add(new AgentBatch(g.OrderBy(a => a.Id).ToArray(), cfg));
        }
        return (batches, alone);
    }

    /// <summary>The agents trained by this batch, in id order.</summary>
    public IReadOnlyList<Agent> Agents => _agents;

    private AgentBatch(Agent[] agents, ExperimentConfig cfg)
    {
        _agents = agents;
        _cfg = cfg;
        _a = agents.Length;
        _b = agents[0].BatchSize;
        _mods = agents[0].Modalities;
        _layers = Math.Max(1, cfg.Model.Encoders.Values.First().Layers);
        var named = agents.Select(a => a.Model.named_parameters().ToList()).ToArray();
        _names = named[0].Select(x => x.name).ToArray();
        if (named.Any(n => !n.Select(x => x.name).SequenceEqual(_names)))
            throw new InvalidOperationException("internal: agents of one batch differ in parameter names");
        _agentParams = named.Select(n => n.Select(x => x.parameter).ToArray()).ToArray();
        _p = new Dictionary<string, Parameter>();
        for (int i = 0; i < _names.Length; i++)
            using (torch.no_grad())
                _p[_names[i]] = new Parameter(torch.stack(_agentParams.Select(ps => (Tensor)ps[i]).ToArray(), 0));
        _opt = new Training.FlatAdam(_names.Select(n => _p[n]), cfg.Train.Lr, weightDecay: cfg.Train.WeightDecay);

        _offsets = new long[_a];
        long offset = 0;
        for (int k = 0; k < _a; k++) { _offsets[k] = offset; offset += agents[k].Train.Count; }
        foreach (var m in _mods) _views[m] = torch.cat(agents.Select(a => a.Train.Views[m].reshape(a.Train.Count, -1)).ToArray(), 0);
        _labels = torch.cat(agents.Select(a => a.Train.LabelTensor).ToArray(), 0);
        CheckEveryParameterIsUsed();
    }

    /// <summary>One round of local training for every agent of the batch; returns each agent's mean training loss.</summary>
    public double[] LocalTrain()
    {
        var total = new double[_a];
        using (torch.no_grad())
            for (int i = 0; i < _names.Length; i++)
            {
                using var s = torch.NewDisposeScope();
                _p[_names[i]].copy_(torch.stack(_agentParams.Select(ps => (Tensor)ps[i]).ToArray(), 0));
            }
        int steps = _agents[0].StepsPerRound;
        var idx = new long[_a * _b];
        for (int step = 0; step < steps; step++)
        {
            using var scope = torch.NewDisposeScope();
            for (int k = 0; k < _a; k++)
            {
                var batch = _agents[k].NextBatchIndices();
                for (int j = 0; j < _b; j++) idx[k * _b + j] = _offsets[k] + batch[j];
            }
            var it = torch.tensor(idx, dtype: ScalarType.Int64);
            var inputs = _mods.ToDictionary(m => m, m => _views[m].index_select(0, it).reshape(_a, _b, -1));
            var labels = _labels.index_select(0, it);
            _opt.ZeroGrad();
            var perAgent = Loss(inputs, labels);
            perAgent.sum().backward();
            _opt.Step();
            var values = perAgent.detach().data<float>().ToArray();
            for (int k = 0; k < _a; k++)
            {
                if (!float.IsFinite(values[k]))
                    throw new InvalidOperationException($"agent {_agents[k].Id} ({_agents[k].TypeName}): training loss became {values[k]}; lower train.lr or check the data");
                total[k] += values[k];
            }
        }
        using (torch.no_grad())
        using (torch.NewDisposeScope())
            for (int k = 0; k < _a; k++)
                for (int i = 0; i < _names.Length; i++)
                    _agentParams[k][i].copy_(_p[_names[i]][k]);
        return total.Select(t => t / steps).ToArray();
    }

    // ---- batched forward: every tensor has a leading agent dimension A ----

    private bool Has(string name) => _p.ContainsKey(name + ".weight") || _p.ContainsKey(name);

    /// <summary>x [A, N, in] -> [A, N, out] with each agent's own weight and bias.</summary>
    private Tensor Linear(string name, Tensor x)
    {
        var w = _p[name + ".weight"];
        return _p.TryGetValue(name + ".bias", out var b)
            ? torch.bmm(x, w.transpose(1, 2)) + b.unsqueeze(1)
            : torch.bmm(x, w.transpose(1, 2));
    }

    /// <summary>Linear on [A, B, K, in] (flattened to [A, B*K, in] and back).</summary>
    private Tensor Linear4(string name, Tensor x)
    {
        var y = Linear(name, x.reshape(x.shape[0], x.shape[1] * x.shape[2], x.shape[3]));
        return y.reshape(x.shape[0], x.shape[1], x.shape[2], -1);
    }

    private (Dictionary<string, Tensor> Logits, Tensor Ensemble, Dictionary<string, Slices> Slices) Forward(IReadOnlyDictionary<string, Tensor> inputs)
    {
        var slices = new Dictionary<string, Slices>();
        foreach (var m in _mods)
        {
            var h = inputs[m];
            for (int i = 0; i < _layers; i++) h = relu(Linear($"enc_{m}.trunk.net.fc{i}", h));
            slices[m] = new Slices(Linear($"enc_{m}.proj_u", h), Linear($"enc_{m}.proj_r", h),
                Has($"enc_{m}.proj_s") ? Linear($"enc_{m}.proj_s", h) : null);
        }
        var logits = new Dictionary<string, Tensor>();
        foreach (var m in _mods)
            if (Has($"head_unique_{m}")) logits["unique/" + m] = Linear($"head_unique_{m}", slices[m].Unique);
        if (Has("head_redundant"))
        {
            if (_cfg.Model.RedundantInput == "each" && _mods.Count > 1)
                logits["redundant"] = torch.stack(_mods.Select(m => Linear("head_redundant", slices[m].Redundant).log_softmax(-1)).ToArray(), 0).mean([0]);
            else
            {
                var r = _mods.Count == 1 ? slices[_mods[0]].Redundant : torch.stack(_mods.Select(m => slices[m].Redundant).ToArray(), 0).mean([0]);
                logits["redundant"] = Linear("head_redundant", r);
            }
        }
        if (Has("head_synergy") || Has("head_synergy.fc0"))
        {
            var fused = Fuse(_mods.Select(m => slices[m].Synergy!).ToList());
            logits["synergy"] = Has("head_synergy.fc0")
                ? Linear("head_synergy.fc1", relu(Linear("head_synergy.fc0", fused)))
                : Linear("head_synergy", fused);
        }
        var ens = Ensemble.Combine(logits.Select(kv => (kv.Key, kv.Value.log_softmax(-1))).ToList(), _cfg.Model.Ensemble);
        return (logits, ens, slices);
    }

    /// <summary>The fusion operators of <see cref="Fusion"/>, on [A, B, d] slices.</summary>
    private Tensor Fuse(IReadOnlyList<Tensor> s)
    {
        switch (_cfg.Model.Fusion)
        {
            case "mean": return torch.stack(s, 0).mean([0]);
            case "sum": return torch.stack(s, 0).sum([0]);
            case "product": return torch.stack(s, 0).prod(0L);
            case "concat": return Linear("fusion.proj", torch.cat(s.ToArray(), -1));
            case "gated":
            {
                var g = Linear("fusion.gate", torch.cat(s.ToArray(), -1)).softmax(-1);   // [A,B,K]
                return (torch.stack(s, 2) * g.unsqueeze(-1)).sum([2]);                   // [A,B,K,d] -> [A,B,d]
            }
            case "attention":
            {
                var x = torch.stack(s, 2);                                                // [A,B,K,d]
                long d = x.shape[3];
                var q = _p["fusion.query"].reshape(_a, 1, 1, d);
                var scores = (Linear4("fusion.key", x) * q).sum([-1]).Over(Math.Sqrt(d));    // [A,B,K]
                var w = scores.softmax(-1).unsqueeze(-1);
                return (Linear4("fusion.value", x) * w).sum([2]);
            }
            default: throw new ConfigException($"model.fusion: unknown fusion operator '{_cfg.Model.Fusion}'");
        }
    }

    /// <summary>Each agent's loss (<see cref="Losses.Total"/>), as an [A] vector.</summary>
    private Tensor Loss(IReadOnlyDictionary<string, Tensor> inputs, Tensor labels)
    {
        var (logits, ens, slices) = Forward(inputs);
        var lc = _cfg.Loss;
        Tensor PerAgent(Tensor perSample) => perSample.reshape(_a, _b).mean([1]);
        Tensor Flat(Tensor t) => t.reshape(_a * _b, t.shape[^1]);
        var loss = PerAgent(nll_loss(Flat(ens), labels, reduction: nn.Reduction.None)).Times(lc.EnsembleWeight);
        if (lc.HeadWeight != 0)
            foreach (var l in logits.Values)
                loss = loss + PerAgent(cross_entropy(Flat(l), labels, reduction: nn.Reduction.None)).Times(lc.HeadWeight);
        var mods = slices.Keys.OrderBy(m => m, StringComparer.Ordinal).ToList();
        if (lc.Beta != 0 && mods.Count > 1)
        {
            Tensor? nce = null;
            int pairs = 0;
            var target = torch.arange(_b, dtype: ScalarType.Int64).repeat(_a);
            for (int i = 0; i < mods.Count; i++)
                for (int j = i + 1; j < mods.Count; j++)
                {
                    var x = normalize(slices[mods[i]].Redundant, p: 2, dim: -1);
                    var y = normalize(slices[mods[j]].Redundant, p: 2, dim: -1);
                    var sim = torch.bmm(x, y.transpose(1, 2)).Over(lc.Tau);                  // [A,B,B]
                    var t = (PerAgent(cross_entropy(Flat(sim), target, reduction: nn.Reduction.None)) +
                             PerAgent(cross_entropy(Flat(sim.transpose(1, 2)), target, reduction: nn.Reduction.None))).Over(2);
                    nce = nce is null ? t : nce + t;
                    pairs++;
                }
            loss = loss + nce!.Times(lc.Beta / pairs);
        }
        if (lc.Separation != 0 && slices.Count > 0)
        {
            Tensor? sep = null;
            int terms = 0;
            foreach (var sl in slices.Values)
            {
                var t = cosine_similarity(sl.Unique, sl.Redundant, dim: -1).Squared().mean([1]);
                terms++;
                if (sl.Synergy is not null) { t = t + cosine_similarity(sl.Synergy, sl.Redundant, dim: -1).Squared().mean([1]); terms++; }
                sep = sep is null ? t : sep + t;
            }
            loss = loss + sep!.Times(lc.Separation / terms);
        }
        return loss;
    }

    /// <summary>Runs one forward on a dummy batch and fails if a parameter of the agents' model got no gradient path.</summary>
    private void CheckEveryParameterIsUsed()
    {
        using var scope = torch.NewDisposeScope();
        var it = torch.zeros(_a * _b, dtype: ScalarType.Int64);
        var inputs = _mods.ToDictionary(m => m, m => _views[m].index_select(0, it).reshape(_a, _b, -1));
        _opt.ZeroGrad();
        Loss(inputs, _labels.index_select(0, it)).sum().backward();
        var missing = _names.Where(n => _p[n].grad is null).ToList();
        _opt.ZeroGrad();
        if (missing.Count > 0)
            throw new InvalidOperationException($"internal: the batched model does not use parameter(s) {string.Join(", ", missing)}");
    }

    public void Dispose()
    {
        _opt.Dispose();
        foreach (var p in _p.Values) p.Dispose();
        foreach (var v in _views.Values) v.Dispose();
        _labels.Dispose();
    }
}
