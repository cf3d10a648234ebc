using System.Collections.Concurrent;
using System.Diagnostics;
using Parse.Config;
using Parse.Data;
using Parse.Federation.Mixing;
using Parse.Federation.Overlays;
using Parse.Federation.Payload;
using Parse.Federation.Sharing;
using Parse.Federation.Topology;
using Parse.Model;
using Parse.Node;
using Parse.Util;
using TorchSharp;

namespace Parse.Simulation;

/// <summary>
/// The in-process runtime: an in-memory transport between <see cref="AgentCore"/>s with a virtual clock (discrete
/// events). Each agent trains for <c>timing.compute_ms</c> of virtual time, publishes its shared groups, payloads
/// arrive after <c>timing.latency_ms</c>, and the agent closes its round when all have arrived or at its deadline,
/// then starts the next. With the default timing every agent moves in lockstep (synchronous rounds, no latency), so
/// agents of one type can train as one batched model (<c>sim.batch_agents</c>). Events at the same virtual time and
/// phase run on <c>sim.parallelism</c> workers; results do not depend on the number of workers.
/// </summary>
public sealed class Simulator : IDisposable
{
    private readonly ExperimentConfig _cfg;
    private readonly ExperimentSetup _setup;
    private readonly TimingModel _timing;
    private readonly IReadOnlyList<Learner> _learners;
    private readonly List<AgentCore> _cores;
    private readonly Dictionary<string, Overlay> _overlayCache = new();
    private readonly ConcurrentDictionary<int, Lazy<Dictionary<string, Overlay>>> _overlaysByRound = new();
    private readonly object _overlayLock = new();
    private readonly object _deliveredLock = new();

    /// <summary>
    /// Builds every agent of <paramref name="cfg"/>; relative paths resolve against <paramref name="baseDir"/>.
    /// <paramref name="ct"/> cancels the setup (data loading, agent construction) with an <see cref="OperationCanceledException"/>.
    /// </summary>
    public Simulator(ExperimentConfig cfg, string baseDir, CancellationToken ct = default)
    {
        _cfg = cfg;
        _setup = ExperimentSetup.Build(cfg, baseDir, ct: ct);
        try
        {
            _timing = new TimingModel(cfg.Timing, _setup.LearnerCount, cfg.Seed, baseDir);
            // agents of one type train as one stacked model only if they start every local round at the same virtual time
            _learners = _setup.CreateLearners(cfg.Sim.BatchAgents && cfg.Timing.Lockstep, ct);
        }
        catch { _setup.Dispose(); throw; }
        Agents = _learners.SelectMany(l => l.Agents).OrderBy(a => a.Id).ToList();
        // mixers and payload pipelines may keep per-agent state (error feedback, CHOCO public copies): one per agent
        _cores = Agents.Select(a => new AgentCore(a, cfg, new View(this, a.Id), _setup.Data.Test, _setup.Strategy,
            MixerRegistry.Create(cfg), PayloadPipeline.Create(cfg), _setup.Attacks, _setup.Schedule)).ToList();
        try { if (!_setup.Topology.TimeVarying) MixerRequirements.Check(cfg, OverlaysAt(0)); }
        catch { Dispose(); throw; }
    }

    /// <summary>The agents' cores, indexed by id.</summary>
    public IReadOnlyList<AgentCore> Cores => _cores;

    /// <summary>The learners (model, data, optimizer), indexed by id (= position on the base graph).</summary>
    public IReadOnlyList<Agent> Agents { get; }

    /// <summary>The learners: one per agent, or with <c>sim.batch_agents</c> and lockstep timing one per group of agents of one type.</summary>
    public IReadOnlyList<Learner> Learners => _learners;

    /// <summary>The learners of two or more agents, trained as one stacked model (empty unless <c>sim.batch_agents</c> and lockstep timing).</summary>
    public IReadOnlyList<Learner> Batches => _learners.Where(l => l.Agents.Count > 1).ToList();

    /// <summary>The dataset in use.</summary>
    public DatasetBundle Data => _setup.Data;

    /// <summary>Ids of the agents that run an attack (<c>attack.*</c>).</summary>
    public IReadOnlyList<int> Attackers => _setup.Attacks.Attackers;

    /// <summary>
    /// Called for every payload delivered over a link (sender, receiver, payload as sent), before validation.
    /// Lets tests and tools inspect exactly what crosses the wire. Calls come one at a time (under a lock).
    /// </summary>
    public Action<int, int, GroupPayload>? OnDelivered { get; set; }

    /// <summary>
    /// Overlays of 0-based round <paramref name="round"/>, one per key shared in it: the base graph among the key's holders,
    /// repaired to be connected on static graphs. The simulator knows every agent, so it computes them directly; on the
    /// cluster each agent discovers its part of the same overlays by messages.
    /// </summary>
    public IReadOnlyList<Overlay> OverlaysAt(int round) => OverlayMap(round).Values.ToList();

    /// <summary>The base graph of 0-based round <paramref name="round"/>, before any overlay repair.</summary>
    public Parse.Federation.Topology.Graph BaseGraphAt(int round) => _setup.Topology.At(round);

    private Dictionary<string, Overlay> OverlayMap(int round) =>
        _overlaysByRound.GetOrAdd(round, r => new Lazy<Dictionary<string, Overlay>>(() => BuildOverlays(r))).Value;

    private Dictionary<string, Overlay> BuildOverlays(int round)
    {
        var graph = _setup.Topology.At(round);
        var holders = new SortedDictionary<string, SortedSet<int>>(StringComparer.Ordinal);
        foreach (var c in _cores)
            foreach (var g in c.OverlayGroups(round + 1))
            {
                if (!holders.TryGetValue(g.Key, out var set)) holders[g.Key] = set = new SortedSet<int>();
                set.Add(c.Id);
            }
        var result = new Dictionary<string, Overlay>(StringComparer.Ordinal);
        bool timeVarying = _setup.Topology.TimeVarying;
        foreach (var (key, set) in holders)
        {
            string cacheKey = key + "@" + string.Join(',', set);
            Overlay? o;
            lock (_overlayLock)
                if (timeVarying || !_overlayCache.TryGetValue(cacheKey, out o))
                {
                    // a time-varying graph is repaired across rounds (overlay.repair_window), never per round
                    o = timeVarying && _cfg.Overlay.Repair && _cfg.Overlay.RepairWindow > 0
                        ? CrossRoundRepair.Build(key, _setup.Topology, round, set, _cfg.Overlay.RepairWindow)
                        : OverlayBuilder.Build(key, graph, set, _cfg.Overlay.Repair && !timeVarying).Overlay;
                    if (!timeVarying) _overlayCache[cacheKey] = o;
                }
            result[key] = o;
        }
        return result;
    }

    /// <summary>An agent's view of the simulator's overlays.</summary>
    private sealed class View(Simulator sim, int self) : IOverlayView
    {
        public IReadOnlyCollection<int> Neighbours(string key, int round) =>
            sim.OverlayMap(round - 1).TryGetValue(key, out var o) && o.Graph.N > self ? o.Graph.Neighbours(self) : [];
    }

    private enum Phase { Publish, Deliver, Deadline, Close, Begin }

    private sealed record Event(Phase Phase, int Agent, int Round, int From = -1, GroupPayload? Payload = null, Lease? Lease = null);

    /// <summary>One published payload shared by its receivers; the last release disposes its tensors.</summary>
    private sealed class Lease(OutgoingPayload payload, int receivers)
    {
        private int _left = receivers;
        public IDisposable Take() => new Release(this);
        private void Done() { if (Interlocked.Decrement(ref _left) == 0) payload.Dispose(); }
        private sealed class Release(Lease owner) : IDisposable
        {
            private int _done;
            public void Dispose() { if (Interlocked.Exchange(ref _done, 1) == 0) owner.Done(); }
        }
    }

    /// <summary>Slice CKA of the evaluated rounds so far (<c>eval.cka</c>).</summary>
    private readonly List<Reporting.SliceCkaRow> _cka = [];

    /// <summary>Runs all rounds.</summary>
    public SimulationResult Run(IProgress<RoundProgress>? progress = null, CancellationToken ct = default)
    {
        var wall = Stopwatch.StartNew();
        int par = Math.Max(1, _cfg.Sim.Parallelism);
        // Agents' models are small: per-op overhead dominates and intra-op threads only contend with the
        // agent-level parallelism (and with other processes). One thread per agent is fastest and deterministic.
        IntraOpThreads.Pin();
        var stats = OverlaysAt(0).Select(OverlayStats.Of).ToList();
        var conflict = new List<(int Round, double Mean, IReadOnlyDictionary<string, double> ByKey)>();
        double trainSeconds = 0, exchangeSeconds = 0, evalSeconds = 0;
        var queue = new PriorityQueue<Event, (double T, int Phase, long Seq)>();
        long seq = 0;
        void Enqueue(double t, Event e) => queue.Enqueue(e, (t, (int)e.Phase, seq++));
        var closing = new bool[_cores.Count];
        var atDeadline = new bool[_cores.Count];
        int reportedRound = 0;
        foreach (var c in _cores) Enqueue(0, new Event(Phase.Begin, c.Id, 1));

        try
        {
            while (queue.TryPeek(out _, out var head))
            {
                ct.ThrowIfCancellationRequested();
                var batch = new List<Event>();
                while (queue.TryPeek(out _, out var p) && p.T == head.T && p.Phase == head.Phase) batch.Add(queue.Dequeue());
                double t = head.T, now = t / 1000;
                var sw = Stopwatch.StartNew();
                switch ((Phase)head.Phase)
                {
                    case Phase.Begin:
                        Begin(batch.Select(e => _cores[e.Agent]).ToList(), now, par);
                        foreach (var e in batch) Enqueue(t + _timing.ComputeMs(e.Agent, e.Round), new Event(Phase.Publish, e.Agent, e.Round));
                        trainSeconds += sw.Elapsed.TotalSeconds;
                        break;
                    case Phase.Publish:
                    {
                        var outs = new IReadOnlyList<OutgoingPayload>[batch.Count];
                        ForEachUnit(par, batch.Select((e, k) => Labelled($"agent {e.Agent}", "publishing", () => outs[k] = _cores[e.Agent].Publish(now))).ToList());
                        for (int k = 0; k < batch.Count; k++)
                        {
                            var core = _cores[batch[k].Agent];
                            int message = 0;
                            foreach (var o in outs[k])
                            {
                                var lease = new Lease(o, o.To.Count);
                                foreach (int to in o.To)
                                {
                                    core.Sent(to, o.Role, o.Payload.WireBytes);
                                    Enqueue(t + _timing.LatencyMs(core.Id, to, core.Round + 1, message++),
                                        new Event(Phase.Deliver, to, core.Round + 1, core.Id, o.Payload, lease));
                                }
                            }
                            Enqueue(t + core.DeadlineMs, new Event(Phase.Deadline, core.Id, core.Round + 1));
                            if (core.Ready && !closing[core.Id]) { closing[core.Id] = true; Enqueue(t, new Event(Phase.Close, core.Id, core.Round + 1)); }
                        }
                        exchangeSeconds += sw.Elapsed.TotalSeconds;
                        break;
                    }
                    case Phase.Deliver:
                    {
                        // each receiver takes its payloads in (sender, key) order; receivers run in parallel
                        var byReceiver = batch.GroupBy(e => e.Agent).OrderBy(g => g.Key).ToList();
                        ForEachUnit(par, byReceiver.Select(g => Labelled($"agent {g.Key}", "receiving", () =>
                        {
                            var core = _cores[g.Key];
                            foreach (var e in g.OrderBy(e => e.From).ThenBy(e => e.Payload!.Key, StringComparer.Ordinal))
                            {
                                if (OnDelivered is { } observe) lock (_deliveredLock) observe(e.From, e.Agent, e.Payload!);
                                core.Receive(e.From, e.Payload!, now, e.Payload!.WireBytes, e.Lease!.Take());
                            }
                        })).ToList());
                        foreach (var g in byReceiver)
                        {
                            var core = _cores[g.Key];
                            if (core.Waiting && !closing[core.Id] && core.Ready) { closing[core.Id] = true; Enqueue(t, new Event(Phase.Close, core.Id, core.Round + 1)); }
                        }
                        exchangeSeconds += sw.Elapsed.TotalSeconds;
                        break;
                    }
                    case Phase.Deadline:
                        foreach (var e in batch)
                        {
                            var core = _cores[e.Agent];
                            if (core.Waiting && core.Round + 1 == e.Round && !closing[core.Id])
                            {
                                closing[core.Id] = atDeadline[core.Id] = true;
                                Enqueue(t, new Event(Phase.Close, core.Id, e.Round));
                            }
                        }
                        break;
                    case Phase.Close:
                    {
                        var cores = batch.Select(e => _cores[e.Agent]).ToList();
                        MixAll(cores, now, atDeadline, par);
                        exchangeSeconds += sw.Elapsed.TotalSeconds;
                        sw.Restart();
                        ForEachUnit(par, EvaluationUnits(cores, now));
                        evalSeconds += sw.Elapsed.TotalSeconds;
                        foreach (var c in cores)
                        {
                            closing[c.Id] = atDeadline[c.Id] = false;
                            if (c.Done) { foreach (int j in WhoMayWaitFor(c)) _cores[j].PeerFinished(c.Id); }
                            else Enqueue(t, new Event(Phase.Begin, c.Id, c.Round + 1));
                        }
                        // a round is complete once every agent has closed it
                        int completed = _cores.Min(c => c.Round);
                        while (reportedRound < completed)
                        {
                            reportedRound++;
                            Report(reportedRound, progress, conflict);
                        }
                        break;
                    }
                }
            }
        }
        finally
        {
            // payloads still in flight when the run ends (e.g. to agents that already finished) release their tensors
            while (queue.TryDequeue(out var e, out _)) if (e.Lease is { } l) l.Take().Dispose();
        }

        var tallies = _cores.Select(c => c.Tally).ToList();
        var (types, finalAcc) = _setup.ExpandToAgents(tallies.Select(x => x.FinalAccuracy).ToList());
        var byRole = new SortedDictionary<string, long>(StringComparer.Ordinal);
        var byLink = new Dictionary<(int, int), long>();
        var rejected = new SortedDictionary<string, long>(StringComparer.Ordinal);
        foreach (var c in _cores)
        {
            foreach (var (k, v) in c.Tally.BytesByRole) Counters.Add(byRole, k, v);
            foreach (var (to, v) in c.Tally.BytesSentTo) Counters.Add(byLink, (c.Id, to), v);
            foreach (var (k, v) in c.Tally.Rejected) Counters.Add(rejected, k, v);
        }
        var dropped = SimulationResult.SliceDropByType(_cores.Select(c => (c.Learner.TypeName, (IReadOnlyDictionary<string, double>)c.Tally.AccuracyWithoutHead)));
        return new SimulationResult
        {
            Metrics = tallies.SelectMany(x => x.Metrics).OrderBy(m => m.Round).ThenBy(m => m.Agent).ToList(),
            Overlays = stats,
            AgentTypes = types,
            FinalAccuracy = finalAcc,
            CeilingByType = _setup.Data.Ceiling is null ? null
                : types.Distinct().OrderBy(t => t, StringComparer.Ordinal).ToDictionary(t => t, t => _setup.Data.Ceiling(_setup.TypeModalities(t).ToList())),
            BytesSentTotal = tallies.Sum(x => x.BytesSent),
            BytesByRole = byRole,
            BytesByLink = byLink,
            Links = LinkSummary.Of(_setup.Topology.UnionOver(_cfg.Rounds), byLink),
            Rejected = rejected,
            WallSeconds = wall.Elapsed.TotalSeconds,
            TrainSeconds = trainSeconds,
            ExchangeSeconds = exchangeSeconds,
            EvalSeconds = evalSeconds,
            AgentSteps = tallies.Sum(x => x.AgentSteps),
            Samples = tallies.Sum(x => x.Samples),
            PeakWorkingSetBytes = Process.GetCurrentProcess().PeakWorkingSet64,
            Rounds = _cfg.Rounds,
            Conflict = conflict,
            Cka = _cka,
            AccuracyWithoutHead = dropped,
            Attackers = _setup.Attacks.Attackers,
            Screening = _cfg.Mixing.Screen == "none" ? null : new ScreeningSummary(tallies.Sum(x => x.ScreenChecked), tallies.Sum(x => x.Screened),
                tallies.Sum(x => x.ScreenedFromAttackers), tallies.Sum(x => x.ScreenCheckedFromAttackers), tallies.Sum(x => x.ScreenSeconds)),
            PrivacyEpsilon = _cores.Where(c => c.Tally.PrivacyEpsilon is not null).Select(c => (c.Learner.TypeName, c.Tally.PrivacyEpsilon!.Value)).ToList(),
            Timing = new TimingSummary(
                tallies.Max(x => x.MaxStaleness),
                tallies.Sum(x => x.Mixed) == 0 ? 0 : tallies.Sum(x => (double)x.StalenessSum) / tallies.Sum(x => x.Mixed),
                tallies.Sum(x => x.DeadlineRounds), tallies.Sum(x => x.Missing),
                _cores.Average(c => c.Tally.RoundsTimed == 0 ? 0 : c.Tally.RoundSecondsSum / c.Tally.RoundsTimed)),
        };
    }

    /// <summary>Agents that may still wait for <paramref name="c"/>'s payloads: its overlay neighbours (everyone on time-varying graphs).</summary>
    private IEnumerable<int> WhoMayWaitFor(AgentCore c)
    {
        if (_setup.Topology.TimeVarying) return _cores.Where(o => o.Id != c.Id).Select(o => o.Id);
        return OverlayMap(c.Round - 1).Values.Where(o => o.Graph.N > c.Id).SelectMany(o => o.Graph.Neighbours(c.Id)).Distinct().Order();
    }

    /// <summary>Local training of the agents that begin a round now: each learner (one agent or a stacked group) in one call.</summary>
    private void Begin(IReadOnlyList<AgentCore> cores, double now, int par)
    {
        foreach (var c in cores) c.StartRound(now);
        var starting = cores.Select(c => c.Id).ToHashSet();
        var units = new List<Action>();
        // costliest training units first, self-scheduled over the workers
        foreach (var l in _learners.OrderByDescending(l => l.Agents.Count * (l.Modalities.Count + 1)))
        {
            int present = l.Agents.Count(a => starting.Contains(a.Id));
            if (present == 0) continue;
            if (present != l.Agents.Count) throw new InvalidOperationException("internal: a group of agents trained as one model left lockstep");
            // an agent alone trains through its core (which also knows when not to train, e.g. a free rider)
            if (l.Agents.Count == 1) { var core = _cores[l.Agents[0].Id]; units.Add(Labelled($"agent {core.Id}", "training", () => core.Train())); continue; }
            units.Add(Labelled($"agents {string.Join(",", l.Agents.Select(a => a.Id))}", "training", () =>
            {
                var t = Stopwatch.StartNew();
                var losses = l.LocalTrain(_cores[l.Agents[0].Id].Round);
                double share = t.Elapsed.TotalSeconds / losses.Length;
                for (int k = 0; k < losses.Length; k++) _cores[l.Agents[k].Id].TrainedExternally(losses[k], share);
            }));
        }
        ForEachUnit(par, units);
    }

    /// <summary>Most agents of a learner evaluated in one unit (larger parts were slower per agent: activations leave the cache).</summary>
    private const int EvalPart = 32;

    /// <summary>
    /// Evaluation of the agents that close a round now: the agents of a learner that all close now and are due are
    /// evaluated in batched passes over parts of up to <see cref="EvalPart"/> agents; every other agent on its own.
    /// Costliest units first.
    /// </summary>
    private List<Action> EvaluationUnits(IReadOnlyList<AgentCore> cores, double now)
    {
        var units = new List<(double Cost, Action Run)>();
        var closing = cores.Select(c => c.Id).ToHashSet();
        foreach (var group in cores.GroupBy(c => c.Learner.Group))
        {
            var l = group.Key;
            double cost = l.Modalities.Count + 1;
            var members = l.Agents.Select(a => _cores[a.Id]).ToList();
            if (l.Agents.Count > 1 && members.All(c => closing.Contains(c.Id) && c.EvaluationDue))
            {
                foreach (var part in Enumerable.Range(0, members.Count).Chunk(EvalPart))
                    units.Add((cost * part.Length, () =>
                    {
                        var results = l.Evaluate(_setup.Data.Test, agents: part);
                        var drops = members[0].SliceDropDue ? l.SliceDrop(_setup.Data.Test, part) : null;
                        for (int i = 0; i < part.Length; i++) members[part[i]].EvaluateIfDue(now, results[i], drops?[i]);
                    }));
            }
            else units.AddRange(group.Select(c => (cost, (Action)(() => c.EvaluateIfDue(now)))));
        }
        return units.OrderByDescending(u => u.Cost).Select(u => u.Run).ToList();
    }

    /// <summary>Once every agent has completed <paramref name="round"/>: gradient conflict (when evaluated) and progress.</summary>
    private void Report(int round, IProgress<RoundProgress>? progress, List<(int, double, IReadOnlyDictionary<string, double>)> conflict)
    {
        // overlays of rounds no payload can still come from (beyond the staleness bound) are not needed any more
        foreach (int old in _overlaysByRound.Keys.Where(r => r < round - _cfg.Timing.MaxStaleness - 2).ToList()) _overlaysByRound.TryRemove(old, out _);
        bool eval = round % Math.Max(1, _cfg.Eval.Every) == 0 || round == _cfg.Rounds;
        if (eval && _cfg.Eval.GradientConflict)
        {
            var (mean, byKey) = GradientConflict.Measure(Agents);
            conflict.Add((round, mean, byKey));
        }
        if (eval && _cfg.Eval.Cka) _cka.AddRange(Reporting.SliceCka.Measure(round, Agents, _setup.Data.Test));
        if (progress is null) return;
        var accByType = new Dictionary<string, double>();
        if (eval)
            accByType = _cores.Select(c => (c.Learner.TypeName, M: c.Tally.Metrics.LastOrDefault(m => m.Round == round)))
                .Where(x => x.M is not null).GroupBy(x => x.TypeName).OrderBy(g => g.Key, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => g.Average(x => x.M!.Accuracy));
        progress.Report(new RoundProgress(round, _cfg.Rounds, eval, accByType, _cores.Sum(c => c.Tally.BytesSent),
            _cores.Average(c => c.LastTrainLoss)));
    }

    /// <summary>
    /// True (the default) to mix agents of one stacked model together when the rule can (<see cref="IBatchedMixer"/>,
    /// with <c>sim.batch_agents</c>); false mixes agent by agent. Both give the same values (tests compare them).
    /// </summary>
    public bool BatchedMixing { get; set; } = true;

    /// <summary>The mixer that mixes every batched round (the first agent's to close a round), once chosen.</summary>
    private IBatchedMixer? _batchMixer;

    /// <summary>
    /// Closes the mixing half of the round for <paramref name="cores"/>: agent by agent, or, for a rule that batches,
    /// every agent's payloads chosen first, then one batched call per stacked store (a group of a learner), in parallel.
    /// </summary>
    private void MixAll(IReadOnlyList<AgentCore> cores, double now, bool[] atDeadline, int par)
    {
        // one batching mixer for the whole run, whichever agents close together: a rule that remembers per-agent state
        // (the own-history radius) keeps it by stacked store in that mixer, so every round must go through it
        if (_batchMixer is null && BatchedMixing && _cfg.Sim.BatchAgents && cores[0].Mixer is IBatchedMixer first
            && _cores.All(c => c.Mixer is IBatchedMixer && c.Mixer.GetType() == first.GetType()))
            _batchMixer = first;
        var batched = BatchedMixing && _cfg.Sim.BatchAgents ? _batchMixer : null;
        if (batched is null)
        {
            ForEachUnit(par, cores.Select(c => Labelled($"agent {c.Id}", "mixing", () => c.Mix(now, atDeadline[c.Id]))).ToList());
            return;
        }
        var prepared = new PreparedMix?[cores.Count];
        try
        {
            ForEachUnit(par, cores.Select((c, k) => Labelled($"agent {c.Id}", "mixing", () => prepared[k] = c.PrepareMix(now, atDeadline[c.Id]))).ToList());
            var byStore = new Dictionary<object, List<MixTask>>(ReferenceEqualityComparer.Instance);
            var agentOf = new Dictionary<MixTask, int>(ReferenceEqualityComparer.Instance);
            for (int k = 0; k < cores.Count; k++)
                foreach (var t in prepared[k]!.Tasks)
                {
                    object store = t.Group.Stacked.Count > 0 ? t.Group.Stacked : t;
                    if (!byStore.TryGetValue(store, out var list)) byStore[store] = list = new();
                    list.Add(t);
                    agentOf[t] = cores[k].Id;
                }
            // costliest first: the self-scheduling workers then balance the rest
            var units = byStore.Values.OrderByDescending(l => l.Count * l[0].Group.NumElements * (l[0].Received.Count + 1))
                .Select(l => Labelled(l.Count == 1 ? $"agent {agentOf[l[0]]}" : $"agents {string.Join(",", l.Select(t => agentOf[t]))}",
                    $"mixing {l[0].Group.Key}", () =>
                    {
                        using var scope = torch.NewDisposeScope();
                        using var noGrad = torch.no_grad();
                        batched.MixBatch(l);
                    })).ToList();
            ForEachUnit(par, units);
        }
        finally
        {
            foreach (var p in prepared) p?.Dispose();
        }
    }

    /// <summary>
    /// <paramref name="run"/>, with any failure other than a config error or a cancellation turned into an
    /// <see cref="AgentFailureException"/> naming <paramref name="who"/> and <paramref name="phase"/>.
    /// </summary>
    private static Action Labelled(string who, string phase, Action run) => () =>
    {
        try { run(); }
        catch (Exception e) when (e is not (ConfigException or OperationCanceledException or AgentFailureException))
        {
            throw new AgentFailureException(who, phase, e);
        }
    };

    /// <summary>
    /// Runs <paramref name="units"/> on up to <paramref name="parallelism"/> pool workers. The first failure stops the
    /// workers from taking further units; every worker is joined, and the failure is rethrown on the calling thread
    /// (several different failures: an <see cref="AggregateException"/> holding all of them). No unit's exception is lost.
    /// </summary>
    private static void ForEachUnit(int parallelism, IReadOnlyList<Action> units)
    {
        if (parallelism <= 1 || units.Count <= 1) { foreach (var u in units) u(); return; }
        // self-scheduling: each worker takes the next unit in list order (callers put the costliest first)
        int next = -1, failed = 0;
        var errors = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        // pool threads, not a fresh thread per round: new threads get new native malloc arenas, and the working
        // set of a long run would creep up
        var workers = Enumerable.Range(0, Math.Min(parallelism, units.Count)).Select(_ => Task.Run(() =>
        {
            IntraOpThreads.Pin();
            for (int i = Interlocked.Increment(ref next); i < units.Count && Volatile.Read(ref failed) == 0; i = Interlocked.Increment(ref next))
            {
                try { units[i](); }
                catch (Exception e) { errors.Enqueue(e); Volatile.Write(ref failed, 1); }
            }
        })).ToArray();
        Task.WaitAll(workers);   // the workers catch everything: this returns once each has stopped
        if (errors.IsEmpty) return;
        var distinct = errors.DistinctBy(e => (e.GetType(), e is AgentFailureException a ? a.InnerException?.Message : e.Message)).ToList();
        if (distinct.Count == 1) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(errors.First()).Throw();
        throw new AggregateException($"{errors.Count} simulator work units failed: " + string.Join("; ", distinct.Select(e => e.Message)), errors);
    }

    /// <summary>Disposes agents, learners and data.</summary>
    public void Dispose()
    {
        foreach (var c in _cores) c.Dispose();
        foreach (var l in _learners) l.Dispose();
        _setup.Dispose();
    }
}
