using Parse.Config;
using Parse.Data;
using Parse.Federation.Attacks;
using Parse.Federation.Mixing;
using Parse.Federation.Payload;
using Parse.Federation.Sharing;
using Parse.Model;
using Parse.Simulation;
using Parse.Util;
using TorchSharp;
using static TorchSharp.torch;

namespace Parse.Node;

/// <summary>
/// One agent, free of any runtime: its learner (model, data, optimizer), sharing strategy, overlay view, payload
/// pipeline, mixer, deadline and staleness policy, evaluation schedule and tally. It is driven by messages and
/// never looks at a clock or a socket; the in-process simulator (virtual clock) and the cluster runtime (Akka.NET,
/// wall clock) only move payloads between cores and tell them the time. A round reads like a decentralized-learning
/// node loop:
/// <code>
/// core.StartRound(now); core.Train();          // train
/// var outgoing = core.Publish(now);            // what to send, to whom (the transport sends it)
/// core.Receive(from, payload, now, bytes);     // for every payload that arrives, until
/// core.Ready or the deadline (core.DeadlineMs) // wait
/// core.CloseRound(now, atDeadline);            // mix, then evaluate when scheduled
/// </code>
/// Not thread-safe: a runtime drives each core from one thread at a time.
/// </summary>
public sealed partial class AgentCore : IDisposable
{
    private readonly ExperimentConfig _cfg;
    private readonly TimingConfig _timing;
    private readonly IOverlayView _overlays;
    private readonly MultimodalData? _test;
    private readonly ISharingStrategy _strategy;
    private readonly IMixer _mixer;
    private readonly PayloadPipeline _pipeline;
    private readonly List<ParameterGroup> _everShared;
    private readonly Dictionary<string, ParameterGroup> _byKey;
    private readonly HashSet<int> _finished = new();
    private readonly Dictionary<(string Key, int From), List<Held>> _pending = new();
    // newest round heard from a neighbour per key, whether its payload was accepted or refused (a refused payload still
    // answers the round: waiting for a better one until the deadline would let a faulty peer slow everyone down)
    private readonly Dictionary<(string Key, int From), int> _heard = new();
    private readonly Queue<double> _recentLastArrival = new();
    private double _waitStart, _roundStart, _lastArrival;
    private readonly IAttack? _attack;
    private readonly AttackPlan? _attacks;
    private readonly Dictionary<string, List<Tensor>> _initial = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<List<Tensor>>> _lastReceived = new(StringComparer.Ordinal);
    private readonly DynamicsSchedule? _schedule;
    private readonly INeighbourScreen? _screen;

    /// <summary>A received payload kept for mixing; disposing it releases its tensors (or the transport's lease on them).</summary>
    private sealed record Held(int Round, GroupPayload Payload, IDisposable? Lease) : IDisposable
    {
        public void Dispose()
        {
            if (Lease is not null) Lease.Dispose();
            else foreach (var v in Payload.Values) v.Dispose();
        }
    }

    /// <summary>Creates the core of <paramref name="learner"/>.</summary>
    /// <param name="learner">The agent's model, data and optimizer; owned (disposed) by the core.</param>
    /// <param name="cfg">The experiment (strategy, mixing, payload, timing and eval sections are read).</param>
    /// <param name="overlays">Who the agent's overlay neighbours are, per shared key and round.</param>
    /// <param name="test">Test data for evaluation (null: never evaluate).</param>
    /// <param name="strategy">Sharing strategy (default: from <c>strategy</c>).</param>
    /// <param name="mixer">Mixing rule (default: from <c>mixing.rule</c>).</param>
    /// <param name="pipeline">Payload processors (default: from <c>payload.processors</c>).</param>
    /// <param name="attacks">Who attacks and how (default: nobody); this agent runs its attack if it is an attacker.</param>
    /// <param name="schedule">Modality dynamics and churn (default: from <c>dynamics</c> and <c>churn</c>; null when neither is set).</param>
    public AgentCore(Agent learner, ExperimentConfig cfg, IOverlayView overlays, MultimodalData? test,
        ISharingStrategy? strategy = null, IMixer? mixer = null, PayloadPipeline? pipeline = null, AttackPlan? attacks = null,
        DynamicsSchedule? schedule = null)
    {
        Learner = learner;
        _cfg = cfg;
        _timing = cfg.Timing;
        _schedule = schedule ?? (cfg.Strategy == "centralized" ? null : DynamicsSchedule.Of(cfg));
        _overlays = _schedule is null ? overlays : new ScheduledOverlayView(overlays, _schedule);
        _test = test;
        _strategy = strategy ?? StrategyRegistry.Create(cfg.Strategy, cfg);
        _mixer = mixer ?? MixerRegistry.Create(cfg);
        _pipeline = pipeline ?? PayloadPipeline.Create(cfg);
        _everShared = learner.Model.Groups.Where(g => Enumerable.Range(0, cfg.Rounds).Any(r => _strategy.Shares(g, r))).ToList();
        _byKey = _everShared.ToDictionary(g => g.Key, StringComparer.Ordinal);
        _pipeline.Bind(new PayloadContext(learner.Id, cfg, _everShared, () => Tally), _mixer);
        _attacks = attacks;
        _attack = attacks?.For(learner.Id);
        _screen = NeighbourScreens.Create(learner, cfg);
        if (_attack is not null)
        {
            using var noGrad = torch.no_grad();
            foreach (var g in _everShared) _initial[g.Key] = g.Parameters.Select(p => p.detach().clone()).ToList();
        }
    }

    /// <summary>True if this agent lies in overlay discovery (<c>attack.discovery</c>; only the cluster runs discovery).</summary>
    public bool LiesInDiscovery => _attacks?.LiesInDiscovery(Id) == true;

    /// <summary>The ids of every attacking agent (colluding attackers know each other).</summary>
    public IReadOnlyList<int> Attackers => _attacks?.Attackers ?? [];

    /// <summary>True if this agent runs an attack (<c>attack.*</c>).</summary>
    public bool IsAttacker => _attack is not null;

    /// <summary>Agent id (= position on the base graph).</summary>
    public int Id => Learner.Id;
    /// <summary>The local learner: model, data, optimizer, local step and evaluation.</summary>
    public Agent Learner { get; }
    /// <summary>Running counters: bytes, rejections, staleness, metrics.</summary>
    public AgentTally Tally { get; private set; } = new();
    /// <summary>Rounds completed (mixed) so far; the round being played is <c>Round + 1</c>.</summary>
    public int Round { get; private set; }
    /// <summary>True once every round of the experiment is completed.</summary>
    public bool Done => Round >= _cfg.Rounds;
    /// <summary>True between <see cref="Publish"/> and <see cref="CloseRound"/>.</summary>
    public bool Waiting { get; private set; }
    /// <summary>Mean training loss of the last local round.</summary>
    public double LastTrainLoss { get; private set; }

    /// <summary>Keys of every group this agent shares in some round (what overlay discovery must learn about).</summary>
    public IReadOnlyList<string> SharedKeys => _everShared.Select(g => g.Key).ToList();

    /// <summary>Groups shared in round <paramref name="round"/> (1-based): by the strategy, and active in the dynamics schedule.</summary>
    public IEnumerable<ParameterGroup> SharedGroups(int round) =>
        _everShared.Where(g => _strategy.Shares(g, round - 1) && (_schedule?.KeyActive(Id, g.Key, round) ?? true));

    /// <summary>
    /// Groups whose overlays the agent belongs to in round <paramref name="round"/>: those the strategy shares, whatever
    /// the dynamics (an inactive group stays in its overlay and is skipped by its neighbours' views, on both runtimes).
    /// </summary>
    public IEnumerable<ParameterGroup> OverlayGroups(int round) => _everShared.Where(g => _strategy.Shares(g, round - 1));

    /// <summary>The dynamics and churn schedule (null when neither is configured).</summary>
    public DynamicsSchedule? Schedule => _schedule;

    /// <summary>True when the agent takes part in round <paramref name="round"/> (churn: it has joined and not left).</summary>
    public bool Present(int round) => _schedule?.Present(Id, round) ?? true;

    private bool Joining(int agent, string key, int round) => _schedule?.Joining(agent, key, round) ?? false;

    /// <summary>
    /// Whether a neighbour can be reached at all (the cluster answers from membership; default: always). A neighbour
    /// that cannot be reached is not waited for and not mixed.
    /// </summary>
    public Func<int, bool> IsReachable { get; set; } = _ => true;

    /// <summary>
    /// Whether this agent no longer listens to a reachable neighbour (the cluster's quarantine of a peer that sent
    /// undecodable messages; default: never). An ignored neighbour is not waited for, but it is still sent to: its
    /// other neighbours may not have quarantined it yet, and a peer left waiting for this agent's payload until its
    /// deadline would keep them waiting too.
    /// </summary>
    public Func<int, bool> IsIgnored { get; set; } = _ => false;

    /// <summary>Continues from a checkpoint: completed rounds and the tally saved with it (the model is restored by the caller).</summary>
    public void ResumeAt(int round, AgentTally tally)
    {
        Round = round;
        Tally = tally;
        Learner.ResumeEnsembleFolds(round);
        Tally.Events.Add($"round {round}: resumed from checkpoint");
    }

    /// <summary>
    /// Live overlay neighbours of <paramref name="key"/> in <paramref name="round"/> whose payloads this agent waits for,
    /// ascending (a neighbour that rejoins with a warm start only listens in its first round and is not waited for).
    /// </summary>
    public List<int> Expected(string key, int round)
    {
        var result = new List<int>();
        foreach (int j in _overlays.Neighbours(key, round))
            if (j != Id && IsReachable(j) && !IsIgnored(j) && !Joining(j, key, round) && !NotYetJoined(j) && (!_finished.Contains(j) || _pending.GetValueOrDefault((key, j))?.Count > 0)) result.Add(j);
        result.Sort();
        return result;
    }

    /// <summary>Neighbours this agent sends its payload of <paramref name="key"/> to in <paramref name="round"/>: the expected ones and the ones that rejoin with a warm start.</summary>
    public List<int> Recipients(string key, int round)
    {
        var result = new List<int>();
        foreach (int j in _overlays.Neighbours(key, round))
            if (j != Id && IsReachable(j) && !_finished.Contains(j)) result.Add(j);
        result.Sort();
        return result;
    }

    /// <summary>
    /// Marks the start of round <c>Round + 1</c> (for round timing) and tells the learner which sensors are down in it
    /// (their inputs are zero and masked, see <see cref="Agent.Unavailable"/>).
    /// </summary>
    public void StartRound(double now)
    {
        _roundStart = now;
        if (_schedule is not null) Learner.Unavailable = _schedule.Unavailable(Id, Round + 1);
    }

    /// <summary>
    /// Local training for round <c>Round + 1</c>; returns the mean training loss. For an agent that is its learner's only
    /// member (always on the cluster); a runtime that trains several agents as one learner calls
    /// <see cref="Learner"/>.<see cref="Agent.Group"/>.<see cref="Simulation.Learner.LocalTrain"/> and reports each
    /// agent's share with <see cref="TrainedExternally"/>.
    /// </summary>
    public double Train()
    {
        if (_attack?.SkipsTraining == true || !Present(Round + 1)) { LastTrainLoss = Tally.LastTrainLoss = 0; return 0; }
        var t = System.Diagnostics.Stopwatch.StartNew();
        double loss = Learner.LocalTrain(Round);
        TrainedExternally(loss, t.Elapsed.TotalSeconds);
        return loss;
    }

    /// <summary>Records a local round that a runtime ran for this agent (e.g. several agents trained as one batch).</summary>
    public void TrainedExternally(double loss, double seconds)
    {
        LastTrainLoss = loss;
        Tally.LastTrainLoss = loss;
        Tally.TrainSeconds += seconds;
        Tally.AgentSteps += Learner.StepsPerRound;
        Tally.Samples += (long)Learner.StepsPerRound * Learner.BatchSize;
    }

    /// <summary>
    /// The payloads of round <c>Round + 1</c>: one per shared group that has live neighbours, with its recipients. The
    /// caller owns the returned payloads' tensors (dispose each <see cref="OutgoingPayload"/> once sent) and reports
    /// what it put on the wire with <see cref="Sent"/>. Starts the wait for the neighbours' payloads.
    /// </summary>
    public IReadOnlyList<OutgoingPayload> Publish(double now)
    {
        int r = Round + 1;
        var outgoing = new List<OutgoingPayload>();
        using (torch.no_grad())
            foreach (var g in SharedGroups(r))
            {
                if (Joining(Id, g.Key, r)) continue;   // listens only in the round it rejoins
                var peers = Expected(g.Key, r);
                var to = Recipients(g.Key, r);
                if (to.Count == 0) continue;
                using var scope = torch.NewDisposeScope();
                IReadOnlyList<Tensor> values = g.Parameters.Select(p => p.detach().clone()).ToList();
                if (_attack is not null && r >= _attacks!.Config.StartRound && _attacks.Targets(g.Role))
                    values = _attack.Poison(new AttackContext(r, g, values, _lastReceived.TryGetValue(g.Key, out var seen)
                        ? seen.Select(x => (IReadOnlyList<Tensor>)x).ToList() : [], _initial[g.Key],
                        // one stream per round and group, derived from the seed: a resumed attacker continues exactly
                        new Random(Util.Seeds.Derive(_cfg.Seed, "attack", Id, r, g.Key)))) ?? values;
                var payload = _pipeline.Outgoing(new GroupPayload(g.Key, Id, r, peers.Count, values));
                foreach (var v in payload.Values) v.DetachFromDisposeScope();
                outgoing.Add(new OutgoingPayload(payload, g.Role, to));
            }
        Waiting = true;
        _waitStart = now;
        _lastArrival = 0;
        return outgoing;
    }

    /// <summary>Counts <paramref name="bytes"/> sent to <paramref name="to"/> for a group of <paramref name="role"/>.</summary>
    public void Sent(int to, GroupRole role, long bytes) => CountSent(to, role.ToString().ToLowerInvariant(), bytes);

    private void CountSent(int to, string role, long bytes)
    {
        Tally.BytesSent += bytes;
        Util.Counters.Add(Tally.BytesSentTo, to, bytes);
        Util.Counters.Add(Tally.BytesByRole, role, bytes);
    }

    /// <summary>
    /// Takes a neighbour's payload: checks sender, key, overlay membership, the payload pipeline (shapes, finiteness,
    /// decompression) and staleness; keeps it for mixing or refuses it. The core owns <paramref name="payload"/>'s
    /// tensors from here on, or, when <paramref name="lease"/> is given, holds the lease and disposes it when the values
    /// are no longer needed (a transport that hands the same tensors to several receivers counts leases).
    /// </summary>
    /// <returns>Null if accepted, else why it was refused.</returns>
    public RejectReason? Receive(int from, GroupPayload payload, double now, long wireBytes, IDisposable? lease = null)
    {
        var held = new Held(payload.Round, payload, lease);
        Tally.BytesReceived += wireBytes;
        if (Done) { held.Dispose(); return null; }
        if (payload.Sender != from) return Refuse(held, from, RejectReason.Malformed, $"payload names sender {payload.Sender}");
        _heard[(payload.Key, from)] = Math.Max(payload.Round, _heard.GetValueOrDefault((payload.Key, from), -1));
        if (!_byKey.TryGetValue(payload.Key, out var g)) return Refuse(held, from, RejectReason.UnknownKey, payload.Key);
        if (!_overlays.Neighbours(payload.Key, payload.Round).Contains(from)) return Refuse(held, from, RejectReason.NotNeighbour, payload.Key);
        GroupPayload? accepted;
        using (var scope = torch.NewDisposeScope())
        {
            accepted = _pipeline.Incoming(payload, g.Shapes, g.Key, out var reason);
            if (accepted is null) return Refuse(held, from, reason, payload.Key);
            if (Round + 1 - payload.Round > _timing.MaxStaleness)
                return Refuse(held, from, RejectReason.Stale, $"round {payload.Round} while at {Round + 1}");
            if (accepted.Values.Count != payload.Values.Count || accepted.Values.Where((v, i) => !ReferenceEquals(v, payload.Values[i])).Any())
            {
                // a processor made new tensors (e.g. decompression): keep own copies, release the received ones
                var own = accepted.Values.Select(v => payload.Values.Any(x => ReferenceEquals(x, v)) ? v.clone() : v).ToList();
                foreach (var v in own) v.DetachFromDisposeScope();
                held.Dispose();
                held = new Held(payload.Round, accepted with { Values = own }, null);
            }
        }
        if (!_pending.TryGetValue((payload.Key, from), out var list)) _pending[(payload.Key, from)] = list = new();
        list.Add(held);
        // bounded memory: a neighbour running ahead (it closes rounds at its deadline) cannot make us hold more than
        // staleness + 2 of its payloads per group; the oldest go first
        while (list.Count > _timing.MaxStaleness + 2)
        {
            var oldest = list.MinBy(x => x.Round)!;
            list.Remove(oldest);
            Refuse(oldest, from, RejectReason.Stale, $"more than {_timing.MaxStaleness + 2} payloads pending");
        }
        if (Waiting && payload.Round >= Round + 1) _lastArrival = Math.Max(_lastArrival, now - _waitStart);
        return null;
    }

    /// <summary>
    /// Counts a payload the transport could not even decode. It answers the current round for every group the sender
    /// shares with this agent (its key and round are unknown): waiting for a better one until the deadline would let
    /// one faulty peer slow down everyone. <c>round</c> is the round the transport says the payload was for (an
    /// authenticated envelope's); default the current one.
    /// </summary>
    public void RefusedByTransport(int from, RejectReason reason, long wireBytes, int? round = null)
    {
        Tally.BytesReceived += wireBytes;
        CountRejection(from, reason);
        int r = round ?? Round + 1;
        // every shared group, whether or not the overlay already names the sender: on the cluster a payload can arrive
        // before this agent's overlay discovery has settled (the overlay is still empty), and it must still answer the
        // round (only overlay neighbours are waited for, so marking the others changes nothing)
        foreach (var g in SharedGroups(r))
            _heard[(g.Key, from)] = Math.Max(r, _heard.GetValueOrDefault((g.Key, from), -1));
    }

    /// <summary>
    /// Counts a payload the transport refused because it names a group this agent does not hold (its key id does not
    /// resolve, see <see cref="Federation.Payload.PayloadKeys"/>): like <see cref="Receive"/> refusing an unknown key, it
    /// answers no round and is no offence.
    /// </summary>
    public void RefusedUnknownKey(int from, long wireBytes, string detail)
    {
        Tally.BytesReceived += wireBytes;
        CountRejection(from, RejectReason.UnknownKey);
        if (Tally.Rejected[nameof(RejectReason.UnknownKey)] <= 3 && Log is { } log) log($"agent {Id}: rejected payload from agent {from}: UnknownKey ({detail})");
    }

    private RejectReason Refuse(Held held, int from, RejectReason reason, string detail)
    {
        held.Dispose();
        CountRejection(from, reason);
        if (Tally.Rejected[reason.ToString()] <= 3 && Log is { } log) log($"agent {Id}: rejected payload from agent {from}: {reason} ({detail})");
        return reason;
    }

    private void CountRejection(int from, RejectReason reason)
    {
        Util.Counters.Add(Tally.Rejected, reason.ToString());
        Util.Counters.Add(Tally.RejectedFrom, from);
    }

    /// <summary>Where the core writes notable events (rejections); null = nowhere.</summary>
    public Action<string>? Log { get; set; }

    /// <summary>A neighbour has finished all its rounds: it is no longer waited for once its last payloads are used.</summary>
    public void PeerFinished(int peer)
    {
        if (_finished.Add(peer)) Tally.Events.Add($"round {Round}: agent {peer} finished");
    }

    /// <summary>A neighbour is back (e.g. restarted from a checkpoint): it is waited for again.</summary>
    public void PeerReturned(int peer) => _finished.Remove(peer);

    /// <summary>True when every live neighbour of every shared key has answered round <c>Round + 1</c>.</summary>
    public bool Ready
    {
        get
        {
            int r = Round + 1;
            foreach (var g in SharedGroups(r))
                foreach (int j in Expected(g.Key, r))
                    if ((!_pending.TryGetValue((g.Key, j), out var l) || !l.Any(x => x.Round >= r)) && _heard.GetValueOrDefault((g.Key, j), -1) < r)
                        return false;
            return true;
        }
    }

    /// <summary>
    /// How long to wait for the neighbours of the current round, in milliseconds: <c>timing.deadline_ms</c>, or with
    /// <c>timing.adaptive_deadline</c> the factor times the slowest of the last arrivals, within bounds.
    /// </summary>
    public double DeadlineMs
    {
        get
        {
            // a newcomer's first round: its neighbours may be far behind on the wall clock (it skipped the rounds before)
            if (!Present(Round) && Present(Round + 1)) return Math.Max(_timing.DeadlineMs, _cfg.Cluster.DiscoveryTimeoutMs);
            if (!_timing.AdaptiveDeadline || _recentLastArrival.Count == 0) return _timing.DeadlineMs;
            return Math.Clamp(_timing.DeadlineFactor * _recentLastArrival.Max() * 1000, _timing.MinDeadlineMs, _timing.DeadlineMs);
        }
    }

    /// <summary>
    /// Closes round <c>Round + 1</c>: mixes every shared group with the neighbours' chosen payloads (the mixing rule),
    /// then evaluates when the schedule says so (every <c>eval.every</c> rounds and after the last, which also measures
    /// slice-drop). Returns the evaluation, or null.
    /// </summary>
    /// <param name="now">Current time in seconds (virtual or wall).</param>
    /// <param name="atDeadline">True when the deadline, not the last arrival, closes the round.</param>
    public EvalResult? CloseRound(double now, bool atDeadline)
    {
        Mix(now, atDeadline);
        return EvaluateIfDue(now);
    }

    /// <summary>The mixing half of <see cref="CloseRound"/> (a runtime may time it apart from evaluation).</summary>
    public void Mix(double now, bool atDeadline)
    {
        using var prepared = PrepareMix(now, atDeadline);
        using (var scope = torch.NewDisposeScope())
        using (torch.no_grad())
            foreach (var t in prepared.Tasks) _mixer.Mix(t.Group.Parameters, t.OwnDegree, t.Received);
    }

    /// <summary>
    /// <see cref="Mix"/> in two halves, for a runtime that mixes many agents at once (the simulator batches the agents
    /// of a stacked model with <see cref="IBatchedMixer.MixBatch"/>): chooses every shared group's neighbour payloads
    /// of round <c>Round + 1</c>, counts them, runs warm starts, and returns what is left to mix. The round is
    /// complete (and the payloads released) when the returned object is disposed, after the caller mixed its
    /// <see cref="PreparedMix.Tasks"/> with this agent's rule.
    /// </summary>
    public PreparedMix PrepareMix(double now, bool atDeadline)
    {
        int r = Round + 1;
        Waiting = false;
        if (atDeadline) Tally.DeadlineRounds++;
        Tally.WaitSecondsSum += now - _waitStart;
        if (_lastArrival > 0)
        {
            _recentLastArrival.Enqueue(_lastArrival);
            while (_recentLastArrival.Count > 5) _recentLastArrival.Dequeue();
        }
        var tasks = new List<MixTask>();
        var chosen = new List<IDisposable>();
        _screen?.BeginRound();
        using (var scope = torch.NewDisposeScope())
        using (torch.no_grad())
            foreach (var g in SharedGroups(r))
            {
                var peers = Expected(g.Key, r);
                if (peers.Count == 0) continue;
                var contributions = new List<Contribution>();
                foreach (int j in peers)
                {
                    var pick = Choose(g.Key, j, r);
                    if (pick is null && _heard.GetValueOrDefault((g.Key, j), -1) >= r) continue;   // refused, already counted
                    if (pick is null)
                    {
                        if (++Tally.Missing <= 20) Tally.Events.Add($"round {r}: no payload from agent {j} for {g.Key}");
                        continue;
                    }
                    chosen.Add(pick);
                    if (_attacks?.Silenced(j, r, g.Role) == true) continue;   // attack.kind silent: as if nothing came
                    int stale = Math.Max(0, r - pick.Round);
                    contributions.Add(new Contribution(j, pick.Payload.SenderDegree, pick.Payload.Values, stale));
                }
                if (_attack?.NeedsReceived == true) Remember(g.Key, contributions);
                bool joining = Joining(Id, g.Key, r);
                if (_screen is not null && !joining && contributions.Count > 0) contributions = Screen(g, peers.Count, contributions, r);
                foreach (var c in contributions)
                {
                    Tally.Mixed++;
                    Tally.StalenessSum += c.Staleness;
                    Tally.MaxStaleness = Math.Max(Tally.MaxStaleness, c.Staleness);
                }
                if (joining) WarmStart(g, contributions, r);
                else tasks.Add(new MixTask(g, peers.Count, contributions));
            }
        return new PreparedMix(tasks, chosen, () => Round = r);
    }

    /// <summary>
    /// <c>mixing.screen</c>: the contributions that pass the agent's screen; the others are counted (rejection reason
    /// <c>Screened</c>) and left out of the round.
    /// </summary>
    private List<Contribution> Screen(ParameterGroup g, int ownDegree, List<Contribution> contributions, int r)
    {
        var t = System.Diagnostics.Stopwatch.StartNew();
        var kept = new List<Contribution>(contributions.Count);
        foreach (var c in contributions)
        {
            bool keep = _screen!.Keeps(g, ownDegree, c, out string why);
            Tally.ScreenChecked++;
            bool fromAttacker = Attackers.Contains(c.Sender);
            if (fromAttacker) Tally.ScreenCheckedFromAttackers++;
            if (keep) { kept.Add(c); continue; }
            CountRejection(c.Sender, RejectReason.Screened);
            Tally.Screened++;
            if (fromAttacker) Tally.ScreenedFromAttackers++;
            if (Tally.Screened <= 20)
                Tally.Events.Add($"round {r}: screened out agent {c.Sender}'s {g.Key} ({why})");
        }
        Tally.ScreenSeconds += t.Elapsed.TotalSeconds;
        return kept;
    }

    /// <summary>This agent's mixing rule (<c>mixing.rule</c>).</summary>
    public IMixer Mixer => _mixer;

    /// <summary>
    /// Warm start of a group that rejoins its overlay: its parameters become the plain average of the neighbours'
    /// payloads of this round (unchanged when none arrived).
    /// </summary>
    private void WarmStart(ParameterGroup g, IReadOnlyList<Contribution> contributions, int r) =>
        WarmStart(g, contributions.Select(c => c.Values).ToList(), r);

    /// <summary>
    /// The warm-start rule, for both runtimes (passive listening in the simulator, the join request on the cluster): the
    /// group's parameters become the plain average of <paramref name="values"/> (in the order given: ascending sender),
    /// unchanged when there are none.
    /// </summary>
    private void WarmStart(ParameterGroup g, IReadOnlyList<IReadOnlyList<Tensor>> values, int r)
    {
        if (values.Count == 0)
        {
            Tally.Events.Add($"round {r}: warm start of {g.Key}: no neighbour payload, kept own parameters");
            return;
        }
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        for (int i = 0; i < g.Parameters.Count; i++)
        {
            var sum = values[0][i].to_type(g.Parameters[i].dtype).clone();
            for (int c = 1; c < values.Count; c++) sum.add_(values[c][i].to_type(sum.dtype), Util.ScalarOps.One);
            g.Parameters[i].copy_(sum.Over(values.Count));
        }
        Tally.WarmStarts++;
        Tally.Events.Add($"round {r}: warm start of {g.Key} from {values.Count} neighbour(s)");
    }

    /// <summary>An attacker's copy of what its neighbours sent for a group in its last mixed round.</summary>
    private void Remember(string key, IReadOnlyList<Contribution> contributions)
    {
        if (_lastReceived.TryGetValue(key, out var old)) foreach (var l in old) foreach (var t in l) t.Dispose();
        var copy = contributions.Select(c => c.Values.Select(v => { var t = v.clone(); t.DetachFromDisposeScope(); return t; }).ToList()).ToList();
        _lastReceived[key] = copy;
    }

    /// <summary>True when the completed round <see cref="Round"/> is scheduled for evaluation (every <c>eval.every</c> rounds and the last).</summary>
    public bool EvaluationDue => _test is not null && (Round % Math.Max(1, _cfg.Eval.Every) == 0 || Round == _cfg.Rounds) && Present(Round);

    /// <summary>True when the evaluation due now also measures slice-drop (after the last round).</summary>
    public bool SliceDropDue => EvaluationDue && Round == _cfg.Rounds;

    /// <summary>
    /// The evaluation half of <see cref="CloseRound"/>: evaluates when round <see cref="Round"/> is scheduled. A runtime
    /// that evaluated the agent already (e.g. with the other agents of its learner in one batched pass, on the same
    /// test data) passes the results: the evaluation and, when <see cref="SliceDropDue"/>, the slice-drop accuracies.
    /// </summary>
    public EvalResult? EvaluateIfDue(double now, EvalResult? evaluated = null, IReadOnlyDictionary<string, double>? sliceDrop = null)
    {
        int r = Round;
        EvalResult? result = null;
        if (EvaluationDue)
        {
            result = evaluated ?? Learner.Evaluate(_test!);
            Tally.FinalAccuracy = result.Accuracy;
            Tally.Metrics.Add(new AgentRoundMetrics(r, Id, Learner.TypeName, result.Accuracy, result.Loss, LastTrainLoss,
                Tally.BytesSent, Tally.BytesReceived, result.HeadAccuracy)
            {
                BytesSentByRole = new Dictionary<string, long>(Tally.BytesByRole),
                AllSensorsAccuracy = result.AllSensorsAccuracy,
                Unavailable = _schedule is null ? null : string.Join('+', Learner.Unavailable.Order(StringComparer.Ordinal)),
            });
            if (SliceDropDue) Tally.AccuracyWithoutHead = new Dictionary<string, double>(sliceDrop ?? Learner.SliceDrop(_test!));
        }
        Tally.RoundSecondsSum += now - _roundStart;
        Tally.RoundsTimed++;
        return result;
    }

    /// <summary>
    /// Takes the payload of neighbour <paramref name="j"/> to mix in round <paramref name="r"/>: the one of round r if
    /// present, else the newest older one within the staleness bound, else the oldest newer one unless that is of round
    /// r + 1 (kept for the next round, so a neighbour that skipped us once realigns instead of staying one round ahead).
    /// Older ones are dropped.
    /// </summary>
    private Held? Choose(string key, int j, int r)
    {
        if (!_pending.TryGetValue((key, j), out var list) || list.Count == 0) return null;
        foreach (var old in list.Where(x => r - x.Round > _timing.MaxStaleness).ToList())
        {
            list.Remove(old);
            Refuse(old, j, RejectReason.Stale, $"round {old.Round} while at {r}");
        }
        if (list.Count == 0) return null;
        var pick = list.FirstOrDefault(x => x.Round == r)
            ?? (list.Any(x => x.Round < r) ? list.Where(x => x.Round < r).MaxBy(x => x.Round)! : list.MinBy(x => x.Round)!);
        if (pick.Round == r + 1) return null;
        foreach (var h in list.Where(x => x.Round < pick.Round)) h.Dispose();
        list.RemoveAll(x => x.Round <= pick.Round);
        return pick;
    }

    /// <summary>Disposes the learner and every payload still held.</summary>
    public void Dispose()
    {
        foreach (var list in _pending.Values)
            foreach (var h in list) h.Dispose();
        _pending.Clear();
        foreach (var l in _initial.Values) foreach (var t in l) t.Dispose();
        foreach (var l in _lastReceived.Values) foreach (var x in l) foreach (var t in x) t.Dispose();
        _screen?.Dispose();
        Learner.Dispose();
    }
}
