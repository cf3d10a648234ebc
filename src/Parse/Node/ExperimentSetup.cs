using Parse.Config;
using Parse.Data;
using Parse.Federation.Sharing;
using Parse.Federation.Topology;
using Parse.Simulation;
using Parse.Util;

namespace Parse.Node;

/// <summary>
/// Everything both runtimes derive from one experiment file and its seed: the population (modality set per agent),
/// the base topology, the dataset and its partition, and the learners. The simulator builds every learner; a cluster
/// process builds only the ones it hosts, from the same data, so both run exactly the same agents.
/// <para>With <c>strategy: centralized</c> the learners are not the agents: there is one learner per agent type,
/// trained on the pooled data of all agents of every type restricted to the type's modalities, with as many steps per
/// round as all agents of that type together (an upper bound, not a DFL method). <see cref="ExpandToAgents"/> maps
/// their results back to the population.</para>
/// </summary>
public sealed class ExperimentSetup : IDisposable
{
    private readonly int[][] _parts;
    private readonly LearnerPlan _plan;

    private ExperimentSetup(ExperimentConfig cfg, LearnerPlan plan, ITopology topology, DatasetBundle data, int[][] parts, ISharingStrategy strategy)
    {
        Config = cfg;
        _plan = plan;
        Topology = topology;
        Data = data;
        _parts = parts;
        Strategy = strategy;
        Attacks = Federation.Attacks.AttackPlan.Of(cfg, plan.Pooled ? 0 : plan.LearnerTypes.Count);
        Schedule = plan.Pooled ? null : DynamicsSchedule.Of(cfg);
    }

    /// <summary>Modality dynamics and churn (<c>dynamics.*</c>, <c>churn.*</c>); null when neither is configured.</summary>
    public DynamicsSchedule? Schedule { get; }

    /// <summary>Which agents attack and how (<c>attack.*</c>; nobody by default, and never pooled learners).</summary>
    public Federation.Attacks.AttackPlan Attacks { get; }

    /// <summary>Loads the data and derives population, topology and partition. Bad input throws <see cref="ConfigException"/>.</summary>
    /// <param name="cfg">The experiment.</param>
    /// <param name="baseDir">Directory that relative paths resolve against.</param>
    /// <param name="hostedAgents">The agents this process will create (a cluster node), or null for all: a data set that
    /// assigns rows to agents itself then loads only their rows.</param>
    /// <param name="ct">Cancels setup (Ctrl-C, SIGTERM) between its steps and during data loading.</param>
    public static ExperimentSetup Build(ExperimentConfig cfg, string baseDir, IReadOnlySet<int>? hostedAgents = null, CancellationToken ct = default)
    {
        var strategy = StrategyRegistry.Create(cfg.Strategy, cfg);
        var plan = LearnerPlan.Of(cfg);
        var population = plan.Population;
        ct.ThrowIfCancellationRequested();
        var topology = TopologyFactory.Create(cfg.Topology, population.Count, cfg.Seed, baseDir);
        var data = DatasetRegistry.Load(cfg.Data, population.Count, cfg.Seed, baseDir, plan.Pooled ? null : hostedAgents, ct);
        try
        {
            ct.ThrowIfCancellationRequested();
            data.Train.EnsureFinite($"data '{cfg.Data.Name}' (training)");
            data.Test.EnsureFinite($"data '{cfg.Data.Name}' (test)");
            var parts = data.Partition ?? Partitioner.Split(data.Train.Labels, data.Train.NumClasses, population.Count, cfg.Data.Partition, cfg.Seed, data.Groups,
                poolKey: cfg.Data.Name == "synthetic-pid" ? "data.samples_per_agent" : null);
            if (parts.Length != population.Count)
                throw new ConfigException($"data.name: '{cfg.Data.Name}' assigned rows to {parts.Length} agents but the experiment has {population.Count}");
            return new ExperimentSetup(cfg, plan, topology, data, parts, strategy);
        }
        catch
        {
            data.Dispose();
            throw;
        }
    }

    /// <summary>The experiment.</summary>
    public ExperimentConfig Config { get; }
    /// <summary>Modality set of every agent, by agent id.</summary>
    public IReadOnlyList<IReadOnlyList<string>> Population => _plan.Population;
    /// <summary>The base graph over the agents (static or time-varying).</summary>
    public ITopology Topology { get; }
    /// <summary>The dataset.</summary>
    public DatasetBundle Data { get; }
    /// <summary>The sharing strategy.</summary>
    public ISharingStrategy Strategy { get; }
    /// <summary>True for <c>centralized</c>: one learner per agent type on pooled data.</summary>
    public bool Pooled => _plan.Pooled;
    /// <summary>Number of learners (agents, or agent types when <see cref="Pooled"/>).</summary>
    public int LearnerCount => _plan.LearnerTypes.Count;
    /// <summary>Type of each learner, by learner id.</summary>
    public IReadOnlyList<string> LearnerTypes => _plan.LearnerTypes;

    /// <summary>Base-graph neighbours of a learner at the start (none when <see cref="Pooled"/>).</summary>
    public IReadOnlyList<int> BaseNeighbours(int learner) => Pooled ? [] : Topology.At(0).Neighbours(learner).ToList();

    /// <summary>
    /// Builds learner <paramref name="id"/> alone (A = 1): its model, optimizer and its part of the training data. The
    /// returned agent owns its learner (disposing it disposes both).
    /// </summary>
    public Agent CreateLearner(int id)
    {
        var agent = CreateAgent(id);
        try { _ = new Learner([agent], Data.Modalities, Config, Data.Train.NumClasses); }
        catch { agent.Dispose(); throw; }
        return agent;
    }

    /// <summary>
    /// Builds every learner: with <paramref name="batch"/>, the agents with the same type, batch size and steps per
    /// round train as one stacked model (one <see cref="Learner"/> of several agents, in id order); otherwise each
    /// agent alone. Learners come in order of their first agent's id.
    /// </summary>
    public IReadOnlyList<Learner> CreateLearners(bool batch, CancellationToken ct = default)
    {
        var agents = new List<Agent>();
        var learners = new List<Learner>();
        try
        {
            for (int id = 0; id < LearnerCount; id++)
            {
                ct.ThrowIfCancellationRequested();
                agents.Add(CreateAgent(id));
            }
            var groups = batch
                // an attacker that does no local training (a free rider) cannot share a stacked learner: it trains alone
                // and neither can an agent that is absent in some rounds (churn): it does not train then
                ? agents.GroupBy(a => (a.TypeName, a.BatchSize, a.StepsPerRound,
                        Alone: Attacks.For(a.Id)?.SkipsTraining == true || Schedule?.Churns(a.Id) == true ? a.Id : -1))
                    .Select(g => g.OrderBy(a => a.Id).ToList()).OrderBy(g => g[0].Id).ToList()
                : agents.Select(a => new List<Agent> { a }).ToList();
            foreach (var g in groups)
            {
                ct.ThrowIfCancellationRequested();
                learners.Add(new Learner(g, Data.Modalities, Config, Data.Train.NumClasses));
            }
            return learners;
        }
        catch
        {
            foreach (var a in agents) a.Dispose();
            foreach (var l in learners) l.Dispose();
            throw;
        }
    }

    /// <summary>Learner <paramref name="id"/>'s data and batch sequence, not yet in a learner.</summary>
    private Agent CreateAgent(int id)
    {
        if (id < 0 || id >= LearnerCount)
            throw new ConfigException($"agent {id}: the experiment has {LearnerCount} {(Pooled ? "pooled learners (one per agent type)" : "agents")} (ids 0..{LearnerCount - 1})");
        var cfg = Config;
        if (Pooled)
        {
            string type = LearnerTypes[id];
            var kind = _plan.LearnerKinds[id];
            var mods = kind.Modalities;
            var pooled = _parts.SelectMany(p => p).Order().ToArray();
            return new Agent(id, mods, Data.Train.Subset(pooled, mods), cfg, Seeds.Derive(cfg.Seed, "centralized", type),
                stepsMultiplier: _plan.AgentKinds.Count(p => p.Name == type), type: kind);
        }
        var train = Data.Train.Subset(_parts[id], Population[id]);
        if (Attacks.For(id) is { PoisonsData: true } attack)
        {
            var poisoned = train.Relabel(y => attack.MapLabel(y, train.NumClasses));
            train.Dispose();
            train = poisoned;
        }
        return new Agent(id, Population[id], train, cfg, Seeds.Derive(cfg.Seed, "agent", id), type: _plan.AgentKinds[id]);
    }

    /// <summary>The type (name, modalities, encoders) of every agent, by agent id.</summary>
    public IReadOnlyList<AgentType> AgentKinds => _plan.AgentKinds;

    /// <summary>Modalities of the agent type named <paramref name="typeName"/> (a name of <see cref="LearnerTypes"/>).</summary>
    public IReadOnlyList<string> TypeModalities(string typeName) =>
        _plan.AgentKinds.FirstOrDefault(k => k.Name == typeName)?.Modalities ?? AgentTypes.Parse(typeName);

    /// <summary>Bayes ceiling of a learner's type, when the dataset knows it.</summary>
    public double? Ceiling(int learner) => Data.Ceiling?.Invoke(_plan.LearnerKinds[learner].Modalities.ToList());

    /// <summary>Per-agent types and final accuracies from per-learner ones (see <see cref="LearnerPlan.ExpandToAgents"/>).</summary>
    public (IReadOnlyList<string> Types, IReadOnlyList<double> Accuracy) ExpandToAgents(IReadOnlyList<double> learnerAccuracy) =>
        _plan.ExpandToAgents(learnerAccuracy);

    /// <summary>Disposes the dataset.</summary>
    public void Dispose() => Data.Dispose();
}

/// <summary>Who learns in an experiment, derived from the config alone (no data): the agents, or one pooled learner per agent type.</summary>
/// <param name="Population">Modality set of every agent, by agent id.</param>
/// <param name="Pooled">True for <c>centralized</c>.</param>
/// <param name="LearnerTypes">Type name of each learner, by learner id.</param>
public sealed record LearnerPlan(IReadOnlyList<IReadOnlyList<string>> Population, bool Pooled, IReadOnlyList<string> LearnerTypes)
{
    /// <summary>The type (name, modalities, encoders) of every agent, by agent id.</summary>
    public IReadOnlyList<AgentType> AgentKinds { get; init; } = Population.Select(AgentType.Plain).ToList();
    /// <summary>The type of every learner, by learner id.</summary>
    public IReadOnlyList<AgentType> LearnerKinds { get; init; } = Population.Select(AgentType.Plain).ToList();

    /// <summary>The plan of <paramref name="cfg"/>.</summary>
    public static LearnerPlan Of(ExperimentConfig cfg)
    {
        var kinds = AgentPopulation.Assign(cfg.Agents, cfg.Data.Modalities, cfg.Seed);
        var population = kinds.Select(k => k.Modalities).ToList();
        bool pooled = cfg.Strategy == "centralized";
        var learners = pooled
            ? kinds.DistinctBy(k => k.Name).OrderBy(k => k.Name, StringComparer.Ordinal).ToList()
            : kinds.ToList();
        return new LearnerPlan(population, pooled, learners.Select(k => k.Name).ToList()) { AgentKinds = kinds, LearnerKinds = learners };
    }

    /// <summary>
    /// Per-agent types and final accuracies from per-learner ones: the identity, or with pooled learners every agent
    /// gets its type's learner's accuracy.
    /// </summary>
    public (IReadOnlyList<string> Types, IReadOnlyList<double> Accuracy) ExpandToAgents(IReadOnlyList<double> learnerAccuracy)
    {
        if (!Pooled) return (LearnerTypes, learnerAccuracy);
        var byType = LearnerTypes.Select((t, i) => (t, i)).ToDictionary(x => x.t, x => learnerAccuracy[x.i]);
        var types = AgentKinds.Select(k => k.Name).ToList();
        return (types, types.Select(t => byType[t]).ToList());
    }
}
