using Parse.Config;
using Parse.Data;
using Parse.Util;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Parse.Model;

/// <summary>Output of a forward pass: per-head logits, the ensemble log-probabilities and the slices.</summary>
public sealed record AgentOutput(
    IReadOnlyDictionary<string, Tensor> HeadLogits,
    Tensor EnsembleLogProb,
    IReadOnlyDictionary<string, Slices> Slices);

/// <summary>
/// One agent's PARSE model: a <see cref="SliceEncoder"/> per held modality, a unique head per modality,
/// one redundant head, and (for two or more modalities) a fusion of synergistic slices with a synergy head.
/// Every trainable tensor belongs to exactly one <see cref="ParameterGroup"/>.
/// </summary>
public sealed class AgentModel : Module
{
    private readonly Dictionary<string, SliceEncoder> _encoders = new();
    private readonly Dictionary<string, Module<Tensor, Tensor>> _uniqueHeads = new();
    private readonly Module<Tensor, Tensor>? _redundantHead;
    private readonly Fusion? _fusion;
    private readonly Module<Tensor, Tensor>? _synergyHead;
    private readonly ModelConfig _cfg;
    private readonly List<ParameterGroup> _groups = new();

    /// <param name="modalities">Modalities this agent holds.</param>
    /// <param name="specs">Input shape of every modality.</param>
    /// <param name="numClasses">Output classes.</param>
    /// <param name="cfg">Model configuration.</param>
    /// <param name="seed">Experiment seed; groups with the same key get the same initial values on every agent.</param>
    public AgentModel(IReadOnlyList<string> modalities, IReadOnlyList<ModalitySpec> specs, int numClasses, ModelConfig cfg, int seed)
        : base(nameof(AgentModel))
    {
        _cfg = cfg;
        Modalities = modalities.OrderBy(m => m, StringComparer.Ordinal).ToList();
        if (Modalities.Count == 0) throw new ConfigException("an agent must hold at least one modality");
        TypeName = AgentTypes.Name(Modalities);
        bool multi = Modalities.Count >= 2;
        if (!cfg.Fission)
        {
            BuildMonolithic(specs, numClasses, seed);
            return;
        }
        bool useU = cfg.Heads.Contains("unique"), useR = cfg.Heads.Contains("redundant"), useS = cfg.Heads.Contains("synergy") && multi;
        if (!useU && !useR && !useS)
            throw new ConfigException($"model.heads: agents of type '{TypeName}' would have no head (heads: {string.Join(", ", cfg.Heads)})");
        int dU = cfg.Split[0], dR = cfg.Split[1], dS = cfg.Split[2];

        foreach (var m in Modalities)
        {
            var spec = specs.FirstOrDefault(s => s.Name == m) ?? throw new ConfigException($"modality '{m}' is not in the dataset");
            var ecfg = cfg.Encoders.GetValueOrDefault(m) ?? cfg.Encoders.GetValueOrDefault("default") ?? new EncoderConfig();
            string prefix = $"enc/{m}/{TrunkFactory.Signature(ecfg, spec.Shape, m)}";
            var trunk = Seeded(seed, prefix + "/trunk", () => TrunkFactory.Create(ecfg, spec.Shape, m));
            var enc = new SliceEncoder(trunk, ecfg.Hidden, cfg.Split, useS);
            // re-seed each projection independently of agent type so keys match across types
            Reinit(enc.proj_u, seed, prefix + "/proj-u");
            Reinit(enc.proj_r, seed, prefix + "/proj-r");
            if (enc.proj_s is not null) Reinit(enc.proj_s, seed, $"{prefix}/proj-s/{TypeName}");
            _encoders[m] = enc;
            register_module($"enc_{m}", enc);
            _groups.Add(new ParameterGroup(prefix + "/trunk", GroupRole.Trunk, m, trunk.parameters().ToList()));
            _groups.Add(new ParameterGroup(prefix + "/proj-u", GroupRole.Unique, m, enc.proj_u.parameters().ToList()));
            _groups.Add(new ParameterGroup(prefix + "/proj-r", GroupRole.Redundant, m, enc.proj_r.parameters().ToList()));
            if (enc.proj_s is not null)
                _groups.Add(new ParameterGroup($"{prefix}/proj-s/{TypeName}", GroupRole.Synergy, null, enc.proj_s.parameters().ToList()));
            if (useU)
            {
                var head = Seeded(seed, $"head/unique/{m}", () => (Module<Tensor, Tensor>)Linear(dU, numClasses));
                _uniqueHeads[m] = head;
                register_module($"head_unique_{m}", head);
                _groups.Add(new ParameterGroup($"head/unique/{m}", GroupRole.Unique, m, head.parameters().ToList()));
            }
        }
        if (useR)
        {
            _redundantHead = Seeded(seed, "head/redundant", () => (Module<Tensor, Tensor>)Linear(dR, numClasses));
            register_module("head_redundant", _redundantHead);
            _groups.Add(new ParameterGroup("head/redundant", GroupRole.Redundant, null, _redundantHead.parameters().ToList()));
        }
        if (useS)
        {
            _fusion = Seeded(seed, $"fusion/{cfg.Fusion}/{TypeName}", () => Fusion.Create(cfg.Fusion, Modalities.Count, dS));
            register_module("fusion", _fusion);
            var fusionParams = _fusion.parameters().ToList();
            if (fusionParams.Count > 0)
                _groups.Add(new ParameterGroup($"fusion/{cfg.Fusion}/{TypeName}", GroupRole.Synergy, null, fusionParams));
            _synergyHead = Seeded(seed, $"head/synergy/{TypeName}", () => cfg.SynergyHead switch
            {
                "mlp" => (Module<Tensor, Tensor>)Sequential(("fc0", Linear(_fusion.OutDim, cfg.SynergyHidden)), ("relu", ReLU()), ("fc1", Linear(cfg.SynergyHidden, numClasses))),
                "linear" => Linear(_fusion.OutDim, numClasses),
                _ => throw new ConfigException($"model.synergy_head: unknown head '{cfg.SynergyHead}' (expected mlp or linear)"),
            });
            register_module("head_synergy", _synergyHead);
            _groups.Add(new ParameterGroup($"head/synergy/{TypeName}", GroupRole.Synergy, null, _synergyHead.parameters().ToList()));
        }
        long grouped = _groups.Sum(g => g.Parameters.Count), total = parameters().Count();
        if (grouped != total) throw new InvalidOperationException($"internal: {total - grouped} parameters are in no group");
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
            var spec = specs.FirstOrDefault(s => s.Name == m) ?? throw new ConfigException($"modality '{m}' is not in the dataset");
            var ecfg = _cfg.Encoders.GetValueOrDefault(m) ?? _cfg.Encoders.GetValueOrDefault("default") ?? new EncoderConfig();
            string prefix = $"enc/{m}/{TrunkFactory.Signature(ecfg, spec.Shape, m)}";
            var trunk = Seeded(seed, prefix + "/trunk", () => TrunkFactory.Create(ecfg, spec.Shape, m));
            var proj = Seeded(seed, prefix + "/proj", () => (Module<Tensor, Tensor>)Linear(ecfg.Hidden, _cfg.LatentDim));
            _trunks[m] = trunk;
            _embeddings[m] = proj;
            register_module($"trunk_{m}", trunk);
            register_module($"proj_{m}", proj);
            _groups.Add(new ParameterGroup(prefix + "/trunk", GroupRole.Trunk, m, trunk.parameters().ToList()));
            _groups.Add(new ParameterGroup(prefix + "/proj", GroupRole.Embedding, m, proj.parameters().ToList()));
        }
        _taskHead = Seeded(seed, "head/task", () => (Module<Tensor, Tensor>)Sequential(
            ("fc0", Linear(_cfg.LatentDim, _cfg.SynergyHidden)), ("relu", ReLU()), ("fc1", Linear(_cfg.SynergyHidden, numClasses))));
        register_module("head_task", _taskHead);
        _groups.Add(new ParameterGroup("head/task", GroupRole.Task, null, _taskHead.parameters().ToList()));
    }

    /// <summary>Held modalities, sorted.</summary>
    public IReadOnlyList<string> Modalities { get; }
    /// <summary>Agent type name (sorted modalities joined with '+').</summary>
    public string TypeName { get; }
    /// <summary>All parameter groups; together they cover every trainable tensor exactly once.</summary>
    public IReadOnlyList<ParameterGroup> Groups => _groups;
    /// <summary>Names of the heads this model has (e.g. "unique/a", "redundant", "synergy").</summary>
    public IEnumerable<string> HeadNames => _taskHead is not null ? ["task"] :
        _uniqueHeads.Keys.Select(m => "unique/" + m)
            .Concat(_redundantHead is null ? [] : ["redundant"])
            .Concat(_synergyHead is null ? [] : ["synergy"]);

    /// <summary>
    /// Per-head weights of the <c>stacked</c> ensemble (head name to weight; null = equal weights). Local state,
    /// never shared; set by <see cref="Simulation.Agent"/> from its hold-out split.
    /// </summary>
    public IReadOnlyDictionary<string, double>? EnsembleWeights { get; set; }

    /// <summary>Forward pass on a batch holding (at least) this agent's modalities.</summary>
    /// <param name="inputs">Modality name to [B, ...] input.</param>
    /// <param name="dropHeads">Heads to leave out of the ensemble (slice-drop ablations).</param>
    public AgentOutput Forward(IReadOnlyDictionary<string, Tensor> inputs, IReadOnlySet<string>? dropHeads = null)
    {
        if (_taskHead is not null)
        {
            var zs = Modalities.Select(m => _embeddings[m].forward(_trunks[m].forward(inputs[m]))).ToArray();
            var z = zs.Length == 1 ? zs[0] : torch.stack(zs, 0).mean([0]);
            var task = _taskHead.forward(z);
            return new AgentOutput(new Dictionary<string, Tensor> { ["task"] = task }, task.log_softmax(1), new Dictionary<string, Slices>());
        }
        var slices = new Dictionary<string, Slices>();
        foreach (var m in Modalities) slices[m] = _encoders[m].Encode(inputs[m]);
        var logits = new Dictionary<string, Tensor>();
        foreach (var (m, head) in _uniqueHeads) logits["unique/" + m] = head.forward(slices[m].Unique);
        if (_redundantHead is not null)
        {
            if (_cfg.RedundantInput == "each" && Modalities.Count > 1)
            {
                var lps = Modalities.Select(m => _redundantHead.forward(slices[m].Redundant).log_softmax(1)).ToArray();
                logits["redundant"] = torch.stack(lps, 0).mean([0]);
            }
            else
            {
                var r = Modalities.Count == 1 ? slices[Modalities[0]].Redundant
                    : torch.stack(Modalities.Select(m => slices[m].Redundant).ToArray(), 0).mean([0]);
                logits["redundant"] = _redundantHead.forward(r);
            }
        }
        if (_synergyHead is not null && _fusion is not null)
            logits["synergy"] = _synergyHead.forward(_fusion.Fuse(Modalities.Select(m => slices[m].Synergy!).ToList()));
        var used = logits.Where(kv => dropHeads is null || !dropHeads.Contains(kv.Key)).Select(kv => (kv.Key, kv.Value.log_softmax(1))).ToList();
        if (used.Count == 0) throw new ConfigException("every head of the ensemble was dropped");
        var ens = Ensemble.Combine(used, _cfg.Ensemble, EnsembleWeights);
        return new AgentOutput(logits, ens, slices);
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

    private static void Reinit(Module<Tensor, Tensor> linear, int seed, string key)
    {
        lock (InitLock) ReinitLocked(linear, seed, key);
    }

    private static void ReinitLocked(Module<Tensor, Tensor> linear, int seed, string key)
    {
        torch.manual_seed(Seeds.Derive(seed, key));
        using var _ = torch.no_grad();
        foreach (var p in linear.parameters())
        {
            long fanIn = p.dim() > 1 ? p.shape[1] : linear.parameters().First().shape[1];
            double bound = 1.0 / Math.Sqrt(fanIn);
            p.uniform_(-bound, bound);
        }
    }
}
