using Parse.Config;
using Parse.Data;
using Parse.Util;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Parse.Model;

/// <summary>Output of a forward pass: per-head logits, the ensemble log-probabilities and the slices, each [A, N, ...].</summary>
public sealed record AgentOutput(
    IReadOnlyDictionary<string, Tensor> HeadLogits,
    Tensor EnsembleLogProb,
    IReadOnlyDictionary<string, Slices> Slices)
{
    /// <summary>
    /// The log-softmax of every head's logits stacked along a new leading dimension ([H, A, N, C], heads in the order
    /// of <see cref="HeadLogits"/>), when the model computed it (it lets the loss treat all heads in one operation).
    /// </summary>
    public Tensor? HeadLogProbs { get; init; }

    /// <summary>
    /// With missing modalities: per modality, [A] with 1 when the agent has it in some sample of the batch, else 0 (the
    /// contrastive term of a pair counts only when both are there); null = every modality present.
    /// </summary>
    public IReadOnlyDictionary<string, Tensor>? ModalityWeight { get; init; }
}

/// <summary>
/// The PARSE model of A agents of one type, batched-first: every parameter has a leading agent dimension A and
/// inputs and outputs are [A, N, ...]; agent k is computed with slice k of every parameter only, so one forward pass
/// serves A agents (DESIGN.md "Performance direction") and A = 1 is one agent. Per agent: a <see cref="SliceEncoder"/>
/// per held modality, a unique head per modality, one redundant head, and (for two or more modalities) a fusion of
/// synergistic slices with a synergy head; or, with <c>model.fission=false</c>, the monolithic model of the DSGD
/// baselines. Every trainable tensor of every agent belongs to exactly one of the agent's <see cref="ParameterGroup"/>s,
/// whose tensors are views of the agent's slices (<see cref="GroupsOf"/>).
/// <para>Every agent's slice starts as a single-agent model would: groups are seeded by their sharing key, so groups
/// with the same key have the same initial values on every agent, whatever A.</para>
/// </summary>
public sealed class AgentModel : Module
{
    private readonly Dictionary<string, SliceEncoder> _encoders = new();
    private readonly Dictionary<string, Module<Tensor, Tensor>> _uniqueHeads = new();
    private readonly Module<Tensor, Tensor>? _redundantHead;
    private readonly Fusion? _fusion;
    private readonly Module<Tensor, Tensor>? _synergyHead;
    private readonly ModelConfig _cfg;
    private readonly List<(string Name, GroupRole Role, string? Modality, List<Parameter> Stacked)> _groupSpecs = new();
    private readonly ParameterGroup[][] _groups;
    private readonly List<Tensor> _views = new();
    private readonly IReadOnlyDictionary<string, double>?[] _ensembleWeights;

    /// <param name="modalities">Modalities every agent of the model holds.</param>
    /// <param name="specs">Input shape of every modality.</param>
    /// <param name="numClasses">Output classes.</param>
    /// <param name="cfg">Model configuration.</param>
    /// <param name="seed">Experiment seed; groups with the same key get the same initial values on every agent.</param>
    /// <param name="agents">Number of agents A stacked in the model.</param>
    /// <param name="sliceScopes">False: the synergistic projection is keyed by its modality only (ablation <c>no-slice-scopes</c>).</param>
    /// <param name="encoderField">Config path of a modality's encoder settings, for messages (default <c>model.encoders.NAME</c>).</param>
    public AgentModel(IReadOnlyList<string> modalities, IReadOnlyList<ModalitySpec> specs, int numClasses, ModelConfig cfg, int seed, int agents = 1,
        bool sliceScopes = true, Func<string, string>? encoderField = null)
        : base(nameof(AgentModel))
    {
        if (agents < 1) throw new ArgumentOutOfRangeException(nameof(agents), "a model holds at least one agent");
        _cfg = cfg;
        _encoderField = encoderField ?? (m => $"model.encoders.{m}");
        Agents = agents;
        _ensembleWeights = new IReadOnlyDictionary<string, double>?[agents];
        Modalities = modalities.OrderBy(m => m, StringComparer.Ordinal).ToList();
        if (Modalities.Count == 0) throw new ConfigException("an agent must hold at least one modality");
        TypeName = AgentTypes.Name(Modalities);
        if (!cfg.Fission) BuildMonolithic(specs, numClasses, seed);
        else
        {
            bool multi = Modalities.Count >= 2;
            bool useU = cfg.Heads.Contains("unique"), useR = cfg.Heads.Contains("redundant"), useS = cfg.Heads.Contains("synergy") && multi;
            if (!useU && !useR && !useS)
                throw new ConfigException($"model.heads: agents of type '{TypeName}' would have no head (heads: {string.Join(", ", cfg.Heads)})");
            int dU = cfg.Split[0], dR = cfg.Split[1], dS = cfg.Split[2];

            foreach (var m in Modalities)
            {
                var (ecfg, shape, prefix) = Encoder(m, specs);
                var trunk = Trunk(seed, prefix + "/trunk", ecfg, shape, m);
                // each projection is seeded by its own key, independently of agent type, so keys match across types
                var projU = Seeded(seed, prefix + "/proj-u", () => StackedLinear.Uniform(agents, ecfg.Hidden, dU));
                var projR = Seeded(seed, prefix + "/proj-r", () => StackedLinear.Uniform(agents, ecfg.Hidden, dR));
                string projSKey = sliceScopes ? $"{prefix}/proj-s/{TypeName}" : $"{prefix}/proj-s";
                var projS = useS ? Seeded(seed, projSKey, () => StackedLinear.Uniform(agents, ecfg.Hidden, dS)) : null;
                var enc = new SliceEncoder(trunk, projU, projR, projS);
                _encoders[m] = enc;
                register_module($"enc_{m}", enc);
                AddGroup(prefix + "/trunk", GroupRole.Trunk, m, trunk);
                AddGroup(prefix + "/proj-u", GroupRole.Unique, m, projU);
                AddGroup(prefix + "/proj-r", GroupRole.Redundant, m, projR);
                if (projS is not null) AddGroup(projSKey, GroupRole.Synergy, null, projS);
                if (useU)
                {
                    var head = Seeded(seed, $"head/unique/{m}", () => (Module<Tensor, Tensor>)new StackedLinear(agents, dU, numClasses));
                    _uniqueHeads[m] = head;
                    register_module($"head_unique_{m}", head);
                    AddGroup($"head/unique/{m}", GroupRole.Unique, m, head);
                }
            }
            if (useR)
            {
                _redundantHead = Seeded(seed, "head/redundant", () => (Module<Tensor, Tensor>)new StackedLinear(agents, dR, numClasses));
                register_module("head_redundant", _redundantHead);
                AddGroup("head/redundant", GroupRole.Redundant, null, _redundantHead);
            }
            if (useS)
            {
                string fusionKey = $"fusion/{cfg.Fusion}/{TypeName}";
                _fusion = Seeded(seed, fusionKey, () => Fusion.Create(cfg.Fusion, Modalities.Count, dS, agents));
                CheckStacked(_fusion, "model.fusion", $"fusion '{cfg.Fusion}'");
                Stacked.BroadcastFirstAgent(_fusion);
                register_module("fusion", _fusion);
                if (_fusion.parameters().Any()) AddGroup(fusionKey, GroupRole.Synergy, null, _fusion);
                long fusedWidth = _fusion.OutDim;
                _synergyHead = Seeded(seed, $"head/synergy/{TypeName}", () => cfg.SynergyHead switch
                {
                    "mlp" => (Module<Tensor, Tensor>)Sequential(("fc0", new StackedLinear(agents, fusedWidth, cfg.SynergyHidden)), ("relu", ReLU()),
                        ("fc1", new StackedLinear(agents, cfg.SynergyHidden, numClasses))),
                    "linear" => new StackedLinear(agents, fusedWidth, numClasses),
                    _ => throw new ConfigException($"model.synergy_head: unknown head '{cfg.SynergyHead}' (expected mlp or linear)"),
                });
                register_module("head_synergy", _synergyHead);
                AddGroup($"head/synergy/{TypeName}", GroupRole.Synergy, null, _synergyHead);
            }
        }
        long grouped = _groupSpecs.Sum(g => g.Stacked.Count), total = parameters().Count();
        if (grouped != total) throw new InvalidOperationException($"internal: {total - grouped} parameters are in no group");
        _groups = Enumerable.Range(0, agents).Select(MakeGroups).ToArray();
    }

    private readonly Dictionary<string, Module<Tensor, Tensor>> _trunks = new();
    private readonly Dictionary<string, Module<Tensor, Tensor>> _embeddings = new();
    private Module<Tensor, Tensor>? _taskHead;

    /// <summary>
    /// The monolithic shared-embedding model of the DSGD baselines: per modality a trunk and one projection
    /// to <c>latent_dim</c>; the agent's embedding is the mean over its modalities; one task head (an MLP, so
    /// it can represent cross-modal interactions) on it. Unimodal and multimodal agents share the task head
    /// and the embedding space: the gradient conflict that feature fission avoids.
    /// </summary>
    private void BuildMonolithic(IReadOnlyList<ModalitySpec> specs, int numClasses, int seed)
    {
        foreach (var m in Modalities)
        {
            var (ecfg, shape, prefix) = Encoder(m, specs);
            var trunk = Trunk(seed, prefix + "/trunk", ecfg, shape, m);
            var proj = Seeded(seed, prefix + "/proj", () => (Module<Tensor, Tensor>)new StackedLinear(Agents, ecfg.Hidden, _cfg.LatentDim));
            _trunks[m] = trunk;
            _embeddings[m] = proj;
            register_module($"trunk_{m}", trunk);
            register_module($"proj_{m}", proj);
            AddGroup(prefix + "/trunk", GroupRole.Trunk, m, trunk);
            AddGroup(prefix + "/proj", GroupRole.Embedding, m, proj);
        }
        _taskHead = Seeded(seed, "head/task", () => (Module<Tensor, Tensor>)Sequential(
            ("fc0", new StackedLinear(Agents, _cfg.LatentDim, _cfg.SynergyHidden)), ("relu", ReLU()), ("fc1", new StackedLinear(Agents, _cfg.SynergyHidden, numClasses))));
        register_module("head_task", _taskHead);
        AddGroup("head/task", GroupRole.Task, null, _taskHead);
    }

    private (EncoderConfig Config, long[] Shape, string Prefix) Encoder(string m, IReadOnlyList<ModalitySpec> specs)
    {
        var spec = specs.FirstOrDefault(s => s.Name == m) ?? throw new ConfigException($"modality '{m}' is not in the dataset");
        var ecfg = _cfg.Encoders.GetValueOrDefault(m) ?? _cfg.Encoders.GetValueOrDefault("default") ?? new EncoderConfig();
        return (ecfg, spec.Shape, $"enc/{m}/{Named(m, () => TrunkFactory.Signature(ecfg, spec.Shape, m))}");
    }

    private Module<Tensor, Tensor> Trunk(int seed, string key, EncoderConfig ecfg, long[] shape, string m)
    {
        var trunk = Seeded(seed, key, () => Named(m, () => TrunkFactory.Create(ecfg, shape, m, Agents)));
        CheckStacked(trunk, $"{_encoderField(m)}.kind", $"encoder '{ecfg.Kind}'");
        Stacked.BroadcastFirstAgent(trunk);
        return trunk;
    }

    private readonly Func<string, string> _encoderField;

    /// <summary>Runs an encoder factory; a <see cref="ConfigException"/> without a field (e.g. a shape it cannot read) gets the encoder's field.</summary>
    private T Named<T>(string m, Func<T> make)
    {
        try { return make(); }
        catch (ConfigException e) when (!e.Message.StartsWith("model.", StringComparison.Ordinal) && !e.Message.StartsWith("agents.", StringComparison.Ordinal))
        {
            throw new ConfigException($"{_encoderField(m)}.kind: {e.Message}");
        }
    }

    /// <summary>Every parameter of a component must have the leading agent dimension (batched-first contract).</summary>
    private void CheckStacked(Module module, string field, string what)
    {
        foreach (var (name, p) in module.named_parameters())
            if (p.dim() < 1 || p.shape[0] != Agents)
                throw new ConfigException($"{field}: {what} built parameter '{name}' of shape [{string.Join(",", p.shape)}] for {Agents} agent(s); " +
                                          "components are batched-first: every parameter needs a leading agent dimension (docs/extending.md)");
    }

    private void AddGroup(string name, GroupRole role, string? modality, Module module) =>
        _groupSpecs.Add((name, role, modality, module.parameters().ToList()));

    private ParameterGroup[] MakeGroups(int k)
    {
        using var noGrad = torch.no_grad();
        return _groupSpecs.Select(g =>
        {
            var views = g.Stacked.Select(p =>
            {
                var v = p.detach().select(0, k);
                v.DetachFromDisposeScope();
                _views.Add(v);
                return v;
            }).ToList();
            return new ParameterGroup(g.Name, g.Role, g.Modality, views, g.Stacked, k);
        }).ToArray();
    }

    /// <summary>Number of agents A stacked in the model.</summary>
    public int Agents { get; }
    /// <summary>Modalities every agent holds, sorted.</summary>
    public IReadOnlyList<string> Modalities { get; }
    /// <summary>Agent type name (sorted modalities joined with '+').</summary>
    public string TypeName { get; }
    /// <summary>Agent <paramref name="agent"/>'s parameter groups; together they cover its slice of every parameter exactly once.</summary>
    public IReadOnlyList<ParameterGroup> GroupsOf(int agent) => _groups[agent];
    /// <summary>Names of the heads of every agent (e.g. "unique/a", "redundant", "synergy").</summary>
    public IEnumerable<string> HeadNames => _taskHead is not null ? ["task"] :
        _uniqueHeads.Keys.Select(m => "unique/" + m)
            .Concat(_redundantHead is null ? [] : ["redundant"])
            .Concat(_synergyHead is null ? [] : ["synergy"]);

    /// <summary>A view of agent <paramref name="agent"/> of the model.</summary>
    public AgentModelView Agent(int agent)
    {
        if (agent < 0 || agent >= Agents) throw new ArgumentOutOfRangeException(nameof(agent), $"the model holds {Agents} agent(s)");
        return new AgentModelView(this, agent);
    }

    /// <summary>
    /// Agent <paramref name="agent"/>'s head weights for the <c>stacked</c> ensemble (head name to weight; null = the
    /// plain mean). Local state, never shared; set by the learner from the agent's hold-out split.
    /// </summary>
    public IReadOnlyDictionary<string, double>? GetEnsembleWeights(int agent) => _ensembleWeights[agent];

    /// <summary>Sets agent <paramref name="agent"/>'s stacked-ensemble head weights (see <see cref="GetEnsembleWeights"/>).</summary>
    public void SetEnsembleWeights(int agent, IReadOnlyDictionary<string, double>? weights) => _ensembleWeights[agent] = weights;

    /// <summary>
    /// Forward pass for the agents of the current selection (all A, or those of <see cref="Stacked.Only"/>).
    /// </summary>
    /// <param name="inputs">Modality name to [A', N, ...] input (at least the model's modalities).</param>
    /// <param name="dropHeads">Heads to leave out of the ensemble (slice-drop ablations).</param>
    /// <param name="present">
    /// Modality dynamics (docs/reconstruction.md, "Missing modalities"): per modality, [A', N] with 1 where the sample has
    /// it and 0 where it is missing; null = every modality present. A missing modality's input is zero; every head that
    /// reads it is masked: its logits are zero (a uniform prediction, no gradient) where the sample lacks what the head
    /// needs. A unique head needs its modality, the synergy head every modality, the redundant head one of them (it
    /// averages the redundant slices of the present ones).
    /// </param>
    public AgentOutput Forward(IReadOnlyDictionary<string, Tensor> inputs, IReadOnlySet<string>? dropHeads = null,
        IReadOnlyDictionary<string, Tensor>? present = null)
    {
        Tensor? Mask(string m) => present is not null && present.TryGetValue(m, out var t) ? t.unsqueeze(-1) : null;   // [A', N, 1]
        static Tensor Apply(Tensor x, Tensor? mask) => mask is null ? x : x.mul(mask);
        if (present is not null)
            inputs = Modalities.ToDictionary(m => m, m => Mask(m) is { } k
                ? inputs[m].mul(k.reshape([.. k.shape[..2], .. Enumerable.Repeat(1L, (int)inputs[m].dim() - 2)])) : inputs[m]);
        // masked mean over the modalities of per-modality tensors [A', N, d]; zero where none is present
        Tensor MaskedMean(IReadOnlyList<Tensor> xs)
        {
            if (xs.Count == 1) return Apply(xs[0], Mask(Modalities[0]));
            if (present is null) return torch.stack(xs.ToArray(), 0).mean([0]);
            var masks = Modalities.Select(m => Mask(m) ?? torch.ones_like(xs[0].narrow(-1, 0, 1))).ToArray();
            var sum = torch.stack(xs.Select((x, i) => x.mul(masks[i])).ToArray(), 0).sum([0]);
            var count = torch.stack(masks, 0).sum([0]);
            return sum.div(count.clamp_min(Util.ScalarOps.One));
        }
        Tensor? Any() => present is null ? null
            : torch.stack(Modalities.Select(m => Mask(m) ?? torch.ones_like(present.Values.First().unsqueeze(-1))).ToArray(), 0).amax([0]);
        Tensor? All() => present is null ? null
            : Modalities.Select(m => Mask(m)).Where(k => k is not null).Aggregate((Tensor?)null, (acc, k) => acc is null ? k : acc.mul(k!));
        if (_taskHead is not null)
        {
            var zs = Modalities.Select(m => _embeddings[m].forward(_trunks[m].forward(inputs[m]))).ToArray();
            var z = MaskedMean(zs);
            var task = Apply(_taskHead.forward(z), Any());
            return new AgentOutput(new Dictionary<string, Tensor> { ["task"] = task }, task.log_softmax(-1), new Dictionary<string, Slices>());
        }
        var slices = new Dictionary<string, Slices>();
        foreach (var m in Modalities) slices[m] = _encoders[m].Encode(inputs[m]);
        var logits = new Dictionary<string, Tensor>();
        foreach (var (m, head) in _uniqueHeads) logits["unique/" + m] = Apply(head.forward(slices[m].Unique), Mask(m));
        if (_redundantHead is not null)
        {
            if (_cfg.RedundantInput == "each" && Modalities.Count > 1)
            {
                var lps = Modalities.Select(m => _redundantHead.forward(slices[m].Redundant).log_softmax(-1)).ToList();
                logits["redundant"] = MaskedMean(lps);
            }
            else
            {
                var r = MaskedMean(Modalities.Select(m => slices[m].Redundant).ToList());
                logits["redundant"] = Apply(_redundantHead.forward(r), Any());
            }
        }
        if (_synergyHead is not null && _fusion is not null)
            logits["synergy"] = Apply(_synergyHead.forward(_fusion.Fuse(Modalities.Select(m => slices[m].Synergy!).ToList())), All());
        // every head's log-probabilities in one operation (per-operation overhead dominates models this small)
        var names = logits.Keys.ToList();
        var logProbs = names.Count == 1 ? logits[names[0]].log_softmax(-1).unsqueeze(0)
            : torch.stack(names.Select(h => logits[h]).ToArray(), 0).log_softmax(-1);           // [H, A, N, C]
        var used = names.Select((h, i) => (h, i)).Where(x => dropHeads is null || !dropHeads.Contains(x.h)).ToList();
        if (used.Count == 0) throw new ConfigException("every head of the ensemble was dropped");
        var usedLogProbs = used.Count == names.Count ? logProbs
            : logProbs.index_select(0, torch.tensor(used.Select(x => (long)x.i).ToArray(), dtype: ScalarType.Int64));
        var weights = _cfg.Ensemble == "stacked" ? Stacked.Selected(Agents).Select(k => _ensembleWeights[k]).ToList() : null;
        var ens = Ensemble.Combine(used.Select(x => x.h).ToList(), usedLogProbs, _cfg.Ensemble, weights);
        return new AgentOutput(logits, ens, slices)
        {
            HeadLogProbs = logProbs,
            // per agent, whether it has a modality at all in this batch (a contrastive pair needs both)
            ModalityWeight = present?.ToDictionary(kv => kv.Key, kv => kv.Value.amax([1])),
        };
    }

    /// <summary>Disposes the modules and the per-agent views.</summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing) foreach (var v in _views) v.Dispose();
        base.Dispose(disposing);
    }

    // torch's default generator is process-global: models built concurrently (e.g. by tests running in parallel)
    // would interleave draws and break "same key, same init". Seeding and drawing happen under one lock.
    private static readonly object InitLock = new();

    private static T Seeded<T>(int seed, string key, Func<T> make)
    {
        lock (InitLock)
        {
            torch.manual_seed(Seeds.Derive(seed, key));
            return make();
        }
    }
}

/// <summary>
/// One agent of an <see cref="AgentModel"/>: its parameter groups (views of its slices), heads, stacked-ensemble
/// weights and a single-agent forward pass.
/// </summary>
public sealed class AgentModelView
{
    internal AgentModelView(AgentModel model, int index) => (Model, Index) = (model, index);

    /// <summary>The stacked model the agent is part of.</summary>
    public AgentModel Model { get; }
    /// <summary>The agent's index in the model's leading agent dimension.</summary>
    public int Index { get; }
    /// <summary>The agent's parameter groups; their tensors are views of its slices of the stacked parameters.</summary>
    public IReadOnlyList<ParameterGroup> Groups => Model.GroupsOf(Index);
    /// <summary>Held modalities, sorted.</summary>
    public IReadOnlyList<string> Modalities => Model.Modalities;
    /// <summary>Agent type name.</summary>
    public string TypeName => Model.TypeName;
    /// <summary>Names of the heads (e.g. "unique/a", "redundant", "synergy").</summary>
    public IEnumerable<string> HeadNames => Model.HeadNames;

    /// <summary>The agent's head weights for the <c>stacked</c> ensemble (null = the plain mean).</summary>
    public IReadOnlyDictionary<string, double>? EnsembleWeights
    {
        get => Model.GetEnsembleWeights(Index);
        set => Model.SetEnsembleWeights(Index, value);
    }

    /// <summary>The agent's tensors by the stacked model's parameter names (views of its slices; per-agent shapes).</summary>
    public IReadOnlyDictionary<string, Tensor> State()
    {
        var byStacked = Groups.SelectMany(g => g.Stacked.Zip(g.Parameters)).ToDictionary(x => (object)x.First, x => x.Second, ReferenceEqualityComparer.Instance);
        return Model.named_parameters().ToDictionary(x => x.name, x => byStacked[x.parameter], StringComparer.Ordinal);
    }

    /// <summary>The agent's tensors (views of its slices) in the order of the stacked model's <c>parameters()</c>.</summary>
    public IEnumerable<Tensor> parameters() => State().Values;

    /// <summary>Forward pass of this agent alone: inputs [N, ...], outputs [N, ...] (the agent's row of the stacked forward).</summary>
    public AgentOutput Forward(IReadOnlyDictionary<string, Tensor> inputs, IReadOnlySet<string>? dropHeads = null)
    {
        using var only = global::Parse.Model.Stacked.Only([Index]);
        var o = Model.Forward(inputs.ToDictionary(kv => kv.Key, kv => kv.Value.unsqueeze(0)), dropHeads);
        return new AgentOutput(o.HeadLogits.ToDictionary(kv => kv.Key, kv => kv.Value.squeeze(0)), o.EnsembleLogProb.squeeze(0),
            o.Slices.ToDictionary(kv => kv.Key, kv => new Slices(kv.Value.Unique.squeeze(0), kv.Value.Redundant.squeeze(0), kv.Value.Synergy?.squeeze(0))));
    }
}
