using System.Diagnostics;
using Parse.Config;
using Parse.Data;
using Parse.Federation.Mixing;
using Parse.Federation.Overlays;
using Parse.Federation.Payload;
using Parse.Federation.Sharing;
using Parse.Federation.Topology;
using Parse.Model;
using Parse.Util;
using TorchSharp;
using static TorchSharp.torch;

namespace Parse.Simulation;

/// <summary>
/// In-process synchronous DFL: every round each agent trains locally, sends each shared group to its
/// neighbours on that group's overlay, and replaces the group by the Metropolis-Hastings mix of what it
/// holds and what it accepted. Deterministic for a given seed, whatever <c>sim.parallelism</c> is.
/// </summary>
public sealed class Simulator : IDisposable
{
    private readonly ExperimentConfig _cfg;
    private readonly DatasetBundle _data;
    private readonly ITopology _topology;
    private readonly ISharingStrategy _strategy;
    private readonly PayloadPipeline _pipeline;
    private readonly Dictionary<string, Overlay> _overlayCache = new();

    public Simulator(ExperimentConfig cfg, string baseDir)
    {
        _cfg = cfg;
        _strategy = StrategyRegistry.Create(cfg.Strategy, cfg);
        _pipeline = PayloadPipeline.Create(cfg.Payload.Processors);
        var population = AgentPopulation.Build(cfg.Agents, cfg.Data.Modalities, cfg.Seed);
        _topology = TopologyFactory.Create(cfg.Topology, population.Count, cfg.Seed, baseDir);
        _data = DatasetRegistry.Load(cfg.Data, population.Count, cfg.Seed, baseDir);
        _data.Train.EnsureFinite($"data '{cfg.Data.Name}' (training)");
        _data.Test.EnsureFinite($"data '{cfg.Data.Name}' (test)");
        var parts = Partitioner.Split(_data.Train.Labels, _data.Train.NumClasses, population.Count, cfg.Data.Partition, cfg.Seed, _data.Groups);
        _population = population.Select(AgentTypes.Name).ToList();
        if (_strategy is CentralizedStrategy)
        {
            // upper bound: one model per agent type on the pooled training data of all agents, restricted to the
            // type's modalities, with as many optimizer steps per round as all agents of that type together
            var pooled = parts.SelectMany(p => p).Order().ToArray();
            Agents = _population.Distinct().OrderBy(t => t, StringComparer.Ordinal).Select((t, k) =>
            {
                var mods = AgentTypes.Parse(t);
                return new Agent(k, mods, _data.Train.Subset(pooled, mods), _data.Modalities, cfg, _data.Train.NumClasses,
                    Seeds.Derive(cfg.Seed, "centralized", t), stepsMultiplier: _population.Count(x => x == t));
            }).ToList();
            _alone = Agents.ToList();
            return;
        }
        Agents = population.Select((mods, i) => new Agent(i, mods, _data.Train.Subset(parts[i], mods), _data.Modalities, cfg,
            _data.Train.NumClasses, Seeds.Derive(cfg.Seed, "agent", i))).ToList();
        if (cfg.Sim.BatchAgents) (_batches, _alone) = AgentBatch.Plan(Agents, cfg);
        else _alone = Agents.ToList();
    }

    private readonly List<AgentBatch> _batches = [];
    private readonly List<Agent> _alone = [];

    /// <summary>The batches of agents trained as one stacked model (empty unless <c>sim.batch_agents</c>).</summary>
    public IReadOnlyList<AgentBatch> Batches => _batches;

    private readonly IReadOnlyList<string> _population;

    /// <summary>
    /// Called for every payload delivered over a link (sender, receiver, payload as sent), before validation.
    /// Lets tests and tools inspect exactly what crosses the wire. Overlays are exchanged on worker threads: calls
    /// come one at a time (under a lock) but not in a fixed order across keys.
    /// </summary>
    public Action<int, int, GroupPayload>? OnDelivered { get; set; }

    /// <summary>The agents, indexed by id (= position on the base graph).</summary>
    public IReadOnlyList<Agent> Agents { get; }

    /// <summary>The dataset in use.</summary>
    public DatasetBundle Data => _data;

    /// <summary>Overlays used in <paramref name="round"/>, one per shared key.</summary>
    public IReadOnlyList<Overlay> OverlaysAt(int round)
    {
        var graph = _topology.At(round);
        var holders = new SortedDictionary<string, SortedSet<int>>(StringComparer.Ordinal);
        foreach (var a in Agents)
            foreach (var g in a.Model.Groups)
                if (_strategy.Shares(g, round))
                {
                    if (!holders.TryGetValue(g.Key, out var set)) holders[g.Key] = set = new SortedSet<int>();
                    set.Add(a.Id);
                }
        var result = new List<Overlay>();
        foreach (var (key, set) in holders)
        {
            string cacheKey = key + "@" + string.Join(',', set);
            if (_topology.TimeVarying || !_overlayCache.TryGetValue(cacheKey, out var o))
            {
                // repair is for static graphs; time-varying graphs are connected over time, not per round
                o = OverlayBuilder.Build(key, graph, set, _cfg.Overlay.Repair && !_topology.TimeVarying).Overlay;
                if (!_topology.TimeVarying) _overlayCache[cacheKey] = o;
            }
            result.Add(o);
        }
        return result;
    }

    /// <summary>Runs all rounds.</summary>
    public SimulationResult Run(IProgress<RoundProgress>? progress = null, CancellationToken ct = default)
    {
        var wall = Stopwatch.StartNew();
        int par = Math.Max(1, _cfg.Sim.Parallelism);
        // Agents' models are small: per-op overhead dominates and intra-op threads only contend with the
        // agent-level parallelism (and with other processes). One thread per agent is fastest and deterministic.
        torch.set_num_threads(1);
        var metrics = new List<AgentRoundMetrics>();
        var sent = new long[Agents.Count];
        var received = new long[Agents.Count];
        var byRole = new SortedDictionary<string, long>(StringComparer.Ordinal);
        var byLink = new Dictionary<(int, int), long>();
        var rejected = new SortedDictionary<string, long>(StringComparer.Ordinal);
        var finalAcc = new double[Agents.Count];
        var trainLoss = new double[Agents.Count];
        double trainSeconds = 0;
        long steps = 0, samples = 0;
        var stats = OverlaysAt(0).Select(OverlayStats.Of).ToList();
        var conflict = new List<(int Round, double Mean, IReadOnlyDictionary<string, double> ByKey)>();

        for (int round = 1; round <= _cfg.Rounds; round++)
        {
            ct.ThrowIfCancellationRequested();
            var tTrain = Stopwatch.StartNew();
            // training units: each batch of same-type agents (costliest first), then the agents trained alone
            ForEachUnit(par, _batches.OrderByDescending(b => b.Agents.Count * (b.Agents[0].Modalities.Count + 1)).Select(b => (Action)(() =>
                {
                    var losses = b.LocalTrain();
                    for (int k = 0; k < losses.Length; k++) trainLoss[b.Agents[k].Id] = losses[k];
                }))
                .Concat(_alone.Select(a => (Action)(() => trainLoss[a.Id] = a.LocalTrain()))).ToList());
            trainSeconds += tTrain.Elapsed.TotalSeconds;
            steps += Agents.Sum(a => (long)a.StepsPerRound);
            samples += Agents.Sum(a => (long)a.StepsPerRound * a.BatchSize);

            Exchange(round - 1, sent, received, byRole, byLink, rejected);

            bool eval = round % Math.Max(1, _cfg.Eval.Every) == 0 || round == _cfg.Rounds;
            var accByType = new Dictionary<string, double>();
            if (eval && _cfg.Eval.GradientConflict)
            {
                var (mean, byKey) = GradientConflict.Measure(Agents);
                conflict.Add((round, mean, byKey));
            }
            if (eval)
            {
                var results = new EvalResult[Agents.Count];
                ForEachAgent(par, a => results[a.Id] = a.Evaluate(_data.Test));
                foreach (var a in Agents)
                {
                    var r = results[a.Id];
                    finalAcc[a.Id] = r.Accuracy;
                    metrics.Add(new AgentRoundMetrics(round, a.Id, a.TypeName, r.Accuracy, r.Loss, trainLoss[a.Id], sent[a.Id], received[a.Id], r.HeadAccuracy));
                }
                accByType = Agents.GroupBy(a => a.TypeName).OrderBy(g => g.Key, StringComparer.Ordinal)
                    .ToDictionary(g => g.Key, g => g.Average(a => results[a.Id].Accuracy));
            }
            progress?.Report(new RoundProgress(round, _cfg.Rounds, eval, accByType, sent.Sum(), trainLoss.Average()));
        }

        var types = Agents.Select(a => a.TypeName).ToList();
        if (_strategy is CentralizedStrategy)
        {
            // every agent of a type is represented by its type's pooled model
            var byType = Agents.ToDictionary(a => a.TypeName, a => finalAcc[a.Id]);
            types = _population.ToList();
            finalAcc = types.Select(t => byType[t]).ToArray();
        }
        // slice-drop ablation at inference: the final models with one head left out of the ensemble
        var dropped = new SortedDictionary<string, IReadOnlyDictionary<string, double>>(StringComparer.Ordinal);
        foreach (var head in Agents.SelectMany(a => a.Model.HeadNames).Select(h => h.StartsWith("unique/", StringComparison.Ordinal) ? "unique" : h).Distinct())
        {
            var accs = new double?[Agents.Count];
            ForEachAgent(par, a =>
            {
                var drop = a.Model.HeadNames.Where(h => h == head || (head == "unique" && h.StartsWith("unique/", StringComparison.Ordinal))).ToHashSet();
                if (drop.Count > 0 && drop.Count < a.Model.HeadNames.Count()) accs[a.Id] = a.Evaluate(_data.Test, drop).Accuracy;
            });
            dropped[head] = Agents.Where(a => accs[a.Id].HasValue).GroupBy(a => a.TypeName).OrderBy(g => g.Key, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => g.Average(a => accs[a.Id]!.Value));
        }
        return new SimulationResult
        {
            Metrics = metrics,
            Overlays = stats,
            AgentTypes = types,
            FinalAccuracy = finalAcc,
            CeilingByType = _data.Ceiling is null ? null
                : types.Distinct().OrderBy(t => t, StringComparer.Ordinal).ToDictionary(t => t, t => _data.Ceiling(AgentTypes.Parse(t).ToList())),
            BytesSentTotal = sent.Sum(),
            BytesByRole = byRole,
            BytesByLink = byLink,
            Rejected = rejected,
            WallSeconds = wall.Elapsed.TotalSeconds,
            TrainSeconds = trainSeconds,
            AgentSteps = steps,
            Samples = samples,
            PeakWorkingSetBytes = Process.GetCurrentProcess().PeakWorkingSet64,
            Rounds = _cfg.Rounds,
            Conflict = conflict,
            AccuracyWithoutHead = dropped,
        };
    }

    private static void ForEachUnit(int parallelism, IReadOnlyList<Action> units)
    {
        if (parallelism <= 1 || units.Count <= 1) { foreach (var u in units) u(); return; }
        // self-scheduling: each worker takes the next unit in list order (callers put the costliest first)
        int next = -1;
        // pool threads, not a fresh thread per round: new threads get new native malloc arenas, and the working
        // set of a long run would creep up
        var workers = Enumerable.Range(0, Math.Min(parallelism, units.Count)).Select(_ => Task.Run(() =>
        {
            for (int i = Interlocked.Increment(ref next); i < units.Count; i = Interlocked.Increment(ref next)) units[i]();
        })).ToArray();
        try { Task.WaitAll(workers); }
        catch (AggregateException e) when (e.InnerExceptions.Count >= 1)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
        }
    }

    private void ForEachAgent(int parallelism, Action<Agent> work) =>
        ForEachUnit(parallelism, Agents.Select(a => (Action)(() => work(a))).ToList());

    /// <summary>What crossed one link for one group in one round (tallied after the exchange, in overlay order).</summary>
    private readonly record struct Delivery(int From, int To, long Bytes, string Role, RejectReason? Rejected);

    private readonly object _deliveredLock = new();

    /// <summary>
    /// Synchronous exchange and mixing of every shared group over its overlay. Overlays are independent (each
    /// parameter belongs to exactly one group, so to one key) and run on <c>sim.parallelism</c> workers; the
    /// arithmetic of each is unchanged, and the tallies are merged afterwards in overlay order, so results
    /// do not depend on the number of workers.
    /// </summary>
    private void Exchange(int round, long[] sent, long[] received, IDictionary<string, long> byRole,
        IDictionary<(int, int), long> byLink, IDictionary<string, long> rejected)
    {
        var overlays = OverlaysAt(round);
        if (overlays.Count == 0) return;
        var logs = new List<Delivery>[overlays.Count];
        ForEachUnit(Math.Max(1, _cfg.Sim.Parallelism),
            overlays.Select((o, k) => (Action)(() => logs[k] = ExchangeOverlay(o, round))).ToList());
        foreach (var log in logs)
            foreach (var d in log)
            {
                sent[d.From] += d.Bytes;
                received[d.To] += d.Bytes;
                Counters.Add(byRole, d.Role, d.Bytes);
                Counters.Add(byLink, (d.From, d.To), d.Bytes);
                if (d.Rejected is { } reason) Counters.Add(rejected, reason.ToString(), 1);
            }
    }

    /// <summary>Every member of one overlay publishes its group, then mixes what it accepted (Metropolis-Hastings).</summary>
    private List<Delivery> ExchangeOverlay(Overlay overlay, int round)
    {
        var log = new List<Delivery>();
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        // every member publishes its current values first (synchronous round)
        var outgoing = new Dictionary<int, GroupPayload>();
        var groups = new Dictionary<int, ParameterGroup>();
        foreach (int i in overlay.Members)
        {
            var g = Agents[i].Model.Groups.First(x => x.Key == overlay.Key);
            groups[i] = g;
            if (overlay.Graph.Degree(i) == 0) continue;
            var values = g.Parameters.Select(p => p.detach().clone()).ToList();
            outgoing[i] = _pipeline.Outgoing(new GroupPayload(overlay.Key, i, round, overlay.Graph.Degree(i), values));
        }
        foreach (int i in overlay.Members)
        {
            int deg = overlay.Graph.Degree(i);
            if (deg == 0) continue;
            var g = groups[i];
            string role = g.Role.ToString().ToLowerInvariant();
            double self = 1;
            var acc = g.Parameters.Select(p => torch.zeros_like(p)).ToList();
            foreach (int j in overlay.Neighbours(i))
            {
                var msg = outgoing[j];
                if (OnDelivered is { } observe) lock (_deliveredLock) observe(j, i, msg);
                var ok = _pipeline.Incoming(msg, g.Shapes, g.Key, out var reason);
                log.Add(new Delivery(j, i, msg.WireBytes, role, ok is null ? reason : null));
                if (ok is null) continue;
                double w = MetropolisHastings.Weight(deg, msg.SenderDegree);
                self -= w;
                for (int k = 0; k < acc.Count; k++) acc[k].add_(ok.Values[k], alpha: w);
            }
            for (int k = 0; k < acc.Count; k++)
            {
                acc[k].add_(g.Parameters[k], alpha: self);
            }
            for (int k = 0; k < acc.Count; k++) g.Parameters[k].copy_(acc[k]);
        }
        return log;
    }

    public void Dispose()
    {
        foreach (var b in _batches) b.Dispose();
        foreach (var a in Agents) a.Dispose();
        _data.Dispose();
    }
}
