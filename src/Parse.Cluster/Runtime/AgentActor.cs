using System.Diagnostics;
using System.Text.Json;
using Akka.Actor;
using Parse.Cluster.Checkpoints;
using Parse.Cluster.Discovery;
using Parse.Cluster.Protocol;
using Parse.Cluster.Wire;
using Parse.Federation.Mixing;
using Parse.Federation.Payload;
using Parse.Federation.Sharing;
using Parse.Model;
using TorchSharp;

namespace Parse.Cluster.Runtime;

/// <summary>
/// One agent on the cluster: discovers its overlays by handshake and flooding, then runs asynchronous rounds of
/// the shared <see cref="Parse.Simulation.Agent"/> local step, payload exchange and Metropolis-Hastings mixing.
/// A round closes when every live overlay neighbour's payload has arrived or at the deadline, whichever is first.
/// </summary>
public sealed class AgentActor : ReceiveActor, IWithTimers
{
    private readonly AgentSetup _s;
    private readonly Parse.Config.ClusterConfig _k;
    private readonly int _id;
    private readonly ISharingStrategy _strategy;
    private readonly PayloadPipeline _pipeline;
    private readonly OverlayDiscovery _discovery;
    private readonly Dictionary<string, ParameterGroup> _groups;
    private readonly Dictionary<int, Address> _where = new();
    private readonly HashSet<int> _helloSent = new();
    private readonly HashSet<int> _down = new();
    private readonly HashSet<int> _finished = new();
    private readonly List<(object Msg, Address From)> _early = new();
    private readonly Dictionary<(string Key, int From), List<(int Round, byte[] Bytes)>> _pending = new();
    // newest round heard from a neighbour per key, whether its payload was accepted or refused (a refused payload still
    // answers the round: waiting for a better one until the deadline would let a faulty peer slow everyone down)
    private readonly Dictionary<(string Key, int From), int> _heard = new();
    private readonly ChunkAssembler _chunks;
    private readonly Queue<double> _recentLastArrival = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private AgentTally _tally = new();
    private long _nextMessageId;
    private int _round;
    private int _resumedFrom;
    private bool _training, _waiting, _done, _failed, _settled, _allAdmitted;
    private double _discoveryStart, _lastChangeAt, _waitStart, _roundStart, _lastArrival;
    private int _lastChanges = -1;
    private Dictionary<string, int[]> _finalOverlays = new(), _finalBridges = new();

    public ITimerScheduler Timers { get; set; } = null!;

    public AgentActor(AgentSetup setup)
    {
        _s = setup;
        _k = setup.Config.Cluster;
        _id = setup.Agent.Id;
        _strategy = StrategyRegistry.Create(setup.Config.Strategy);
        _pipeline = PayloadPipeline.Create(setup.Config.Payload.Processors);
        _groups = setup.Agent.Model.Groups.Where(g => _strategy.Shares(g, 0)).ToDictionary(g => g.Key, StringComparer.Ordinal);
        _discovery = new OverlayDiscovery(_id, _groups.Keys, setup.BaseNeighbours, setup.Config.Overlay.Repair);
        _chunks = new ChunkAssembler(_k.MaxPayloadBytes);
        if (setup.Resume is { } c)
        {
            CheckpointStore.Restore(c, setup.Agent.Model);
            _tally = JsonSerializer.Deserialize<AgentTally>(c.Metadata) ?? new AgentTally();
            _round = _resumedFrom = c.Round;
            _tally.Events.Add($"round {c.Round}: resumed from checkpoint");
        }

        Receive<PeerUp>(OnPeerUp);
        Receive<PeerDown>(OnPeerDown);
        Receive<KeyHello>(m => Admitted(m, m.From, () => OnHello(m)));
        Receive<FloodState>(m => Admitted(m, m.From, () => Send(_discovery.OnFlood(m.From, m.Key, m.Component, m.Holders, m.Settled))));
        Receive<AdmissionStatus>(m => { _allAdmitted = m.AllAdmitted; _lastChangeAt = Now; });
        Receive<PayloadChunk>(m => Admitted(m, m.From, () => OnChunk(m)));
        Receive<Finished>(m => Admitted(m, m.From, () => OnFinishedPeer(m.From)));
        Receive<DiscoveryTick>(_ => OnDiscoveryTick());
        Receive<StartRound>(_ => Guard(RunRound));
        Receive<RoundDeadline>(m => { if (_waiting && m.Round == _round + 1) { _tally.DeadlineRounds++; Guard(Mix); } });
    }

    private double Now => _clock.Elapsed.TotalSeconds;

    /// <summary>Training and mixing failures end the node with one message instead of restarting the actor.</summary>
    private void Guard(Action work)
    {
        if (_failed) return;
        try { work(); }
        catch (Exception e) when (e is InvalidOperationException or IOException or InvalidDataException or ArgumentException or UnauthorizedAccessException)
        {
            _failed = true;
            _s.OnFailed($"agent {_id}: {e.Message}");
        }
    }

    private void CheckSettled()
    {
        if (!_done || _settled) return;
        var peers = OverlayPeers();
        peers.UnionWith(_discovery.Neighbours);
        if (!peers.All(_finished.Contains)) return;
        _settled = true;
        _s.OnSettled(_id);
    }

    protected override void PreStart()
    {
        _discoveryStart = _lastChangeAt = Now;
        if (_round >= _s.Config.Rounds) { Finish(); return; }
        Timers.StartPeriodicTimer("discovery", new DiscoveryTick(), TimeSpan.FromMilliseconds(100));
    }

    /// <summary>Runs <paramref name="handle"/> only if the message comes from the address agent <paramref name="from"/> was admitted at.</summary>
    private void Admitted(object msg, int from, Action handle)
    {
        var sender = Sender.Path.Address;
        if (_where.TryGetValue(from, out var a) && a == sender) { handle(); return; }
        if (_early.Count < 1_000) _early.Add((msg, sender));   // may be admitted a moment later; bounded
    }

    private void OnPeerUp(PeerUp m)
    {
        foreach (int j in m.Agents)
        {
            bool wasDown = _down.Remove(j);
            _where[j] = m.Address;
            if (wasDown)
            {
                _finished.Remove(j);
                _tally.Events.Add($"round {_round}: agent {j} readmitted");
            }
            if (_discovery.Neighbours.Contains(j) && _helloSent.Add(j))
                Tell(j, new KeyHello(_id, j, _groups.Keys.ToArray(), Reply: false));
        }
        if (_done) WriteReport();
        var replay = _early.Where(e => m.Agents.Contains(FromOf(e.Msg)) && e.From == m.Address).ToList();
        foreach (var e in replay)
        {
            _early.Remove(e);
            Redeliver(e.Msg);   // already checked: same agent, same address
        }
    }

    private void Redeliver(object msg)
    {
        switch (msg)
        {
            case KeyHello h: OnHello(h); break;
            case FloodState f: Send(_discovery.OnFlood(f.From, f.Key, f.Component, f.Holders, f.Settled)); break;
            case PayloadChunk c: OnChunk(c); break;
            case Finished f: OnFinishedPeer(f.From); break;
        }
    }

    private static int FromOf(object msg) => msg switch
    {
        KeyHello h => h.From, FloodState f => f.From, PayloadChunk c => c.From, Finished f => f.From, _ => -1,
    };

    private void OnPeerDown(PeerDown m)
    {
        foreach (int j in m.Agents)
        {
            _where.Remove(j);
            _helloSent.Remove(j);
            if (_discovery.Neighbours.Contains(j) || OverlayPeers().Contains(j))
                if (_down.Add(j)) _tally.Events.Add($"round {_round}: agent {j} dropped ({m.Why})");
            _discovery.Forget(j);
        }
        if (_done) WriteReport();
        if (_waiting && Ready()) Guard(Mix);
    }

    private void OnHello(KeyHello m)
    {
        Send(_discovery.OnNeighbourKeys(m.From, m.Keys));
        if (_helloSent.Add(m.From) || !m.Reply) Tell(m.From, new KeyHello(_id, m.From, _groups.Keys.ToArray(), Reply: true));
        if (_done) Tell(m.From, new Finished(_id, m.From));
    }

    private void OnFinishedPeer(int j)
    {
        if (_finished.Add(j)) _tally.Events.Add($"round {_round}: agent {j} finished");
        if (_waiting && Ready()) Guard(Mix);
        CheckSettled();
    }

    private void Send(IReadOnlyList<(int To, string Key, int Comp, int[] Holders, bool Settled)> outbox)
    {
        foreach (var (to, key, comp, holders, settled) in outbox) Tell(to, new FloodState(_id, to, key, comp, holders, settled));
    }

    private void Tell(int agent, object msg)
    {
        if (!_where.TryGetValue(agent, out var addr)) return;
        Context.ActorSelection(new RootActorPath(addr) / "user" / NodeHost.AgentActorName(agent)).Tell(msg, Self);
    }

    private HashSet<int> OverlayPeers() => _groups.Keys.SelectMany(_discovery.OverlayNeighbours).ToHashSet();

    private void OnDiscoveryTick()
    {
        if (_training) return;
        if (_discovery.Changes != _lastChanges) { _lastChanges = _discovery.Changes; _lastChangeAt = Now; }
        bool settled = _discovery.Settled && _allAdmitted && Now - _lastChangeAt >= _k.DiscoveryQuietMs / 1000.0;
        bool timedOut = Now - _discoveryStart >= _k.DiscoveryTimeoutMs / 1000.0;
        if (!settled && !timedOut) return;
        if (!settled)
        {
            var missing = _discovery.Neighbours.Where(n => _discovery.KeysOf(n) is null).ToList();
            _s.Log($"agent {_id}: discovery timed out; starting without neighbours {string.Join(',', missing)}");
        }
        _training = true;
        Timers.Cancel("discovery");
        Self.Tell(new StartRound());
    }

    /// <summary>
    /// Live overlay neighbours of a key: on the overlay and reachable; a finished neighbour still counts while one of
    /// its payloads is pending (its last payloads arrive before its <see cref="Finished"/>).
    /// </summary>
    private List<int> Expected(string key) =>
        _discovery.OverlayNeighbours(key).Where(j => !_down.Contains(j) && _where.ContainsKey(j)
            && (!_finished.Contains(j) || _pending.GetValueOrDefault((key, j))?.Count > 0)).ToList();

    private void RunRound()
    {
        int r = _round + 1;
        _roundStart = Now;
        var t = Stopwatch.StartNew();
        _s.Agent.LocalTrain();
        _tally.TrainSeconds += t.Elapsed.TotalSeconds;
        _tally.AgentSteps += _s.Agent.StepsPerRound;
        _tally.Samples += (long)_s.Agent.StepsPerRound * _s.Agent.BatchSize;
        foreach (var (key, g) in _groups)
        {
            var peers = Expected(key);
            if (peers.Count == 0) continue;
            byte[] bytes = Encode(g, r, peers.Count);
            foreach (int j in peers)
            {
                var chunks = PayloadChunker.Split(bytes, _k.ChunkBytes);
                long id = _nextMessageId++;
                for (int c = 0; c < chunks.Count; c++) Tell(j, new PayloadChunk(_id, j, id, c, chunks.Count, chunks[c]));
                _tally.BytesSent += bytes.Length;
                Parse.Util.Counters.Add(_tally.BytesSentTo, j, bytes.Length);
                Parse.Util.Counters.Add(_tally.BytesByRole, g.Role.ToString().ToLowerInvariant(), bytes.Length);
            }
        }
        _waiting = true;
        _waitStart = Now;
        _lastArrival = 0;
        // the first round also absorbs neighbours that are still finishing discovery, so it may wait up to the discovery timeout
        double deadline = r == _resumedFrom + 1 ? Math.Max(_k.DeadlineMs, _k.DiscoveryTimeoutMs) : DeadlineMs();
        Timers.StartSingleTimer("deadline", new RoundDeadline(r), TimeSpan.FromMilliseconds(deadline));
        if (Ready()) Mix();
    }

    private byte[] Encode(ParameterGroup g, int round, int degree)
    {
        using var scope = torch.NewDisposeScope();
        if (_s.Fault == PayloadFault.Garbage) return System.Text.Encoding.UTF8.GetBytes("not a payload " + round);
        var values = g.Parameters.Select(p => _s.Fault == PayloadFault.NaN ? torch.full_like(p, float.NaN) : p.detach().clone()).ToList();
        return PayloadCodec.Encode(_pipeline.Outgoing(new GroupPayload(g.Key, _id, round, degree, values)));
    }

    /// <summary>The deadline of the next round: fixed, or (adaptive) factor x the slowest recent last arrival, within bounds.</summary>
    private double DeadlineMs()
    {
        if (!_k.AdaptiveDeadline || _recentLastArrival.Count == 0) return _k.DeadlineMs;
        double ms = _k.DeadlineFactor * _recentLastArrival.Max() * 1000;
        return Math.Clamp(ms, _k.MinDeadlineMs, _k.DeadlineMs);
    }

    private void OnChunk(PayloadChunk m)
    {
        byte[]? whole;
        try { whole = _chunks.Add(m.From, m.MessageId, m.Index, m.Count, m.Data); }
        catch (InvalidDataException e) { Reject(m.From, RejectReason.Malformed, e.Message); return; }
        if (whole is null) return;
        _tally.BytesReceived += whole.Length;
        using var scope = torch.NewDisposeScope();
        var p = PayloadCodec.TryDecode(whole, _k.MaxPayloadBytes, out var reason, out string detail);
        if (p is null) { Reject(m.From, reason, detail); return; }
        if (p.Sender != m.From) { Reject(m.From, RejectReason.Malformed, $"payload names sender {p.Sender}"); return; }
        _heard[(p.Key, m.From)] = Math.Max(p.Round, _heard.GetValueOrDefault((p.Key, m.From), -1));
        if (!_groups.TryGetValue(p.Key, out var g)) { Reject(m.From, RejectReason.UnknownKey, p.Key); return; }
        if (!_discovery.OverlayNeighbours(p.Key).Contains(m.From)) { Reject(m.From, RejectReason.NotNeighbour, p.Key); return; }
        if (_pipeline.Incoming(p, g.Shapes, g.Key, out reason) is null)
        {
            Reject(m.From, reason, p.Key);
            if (_waiting && Ready()) Guard(Mix);
            return;
        }
        if (_round + 1 - p.Round > _k.MaxStaleness) { Reject(m.From, RejectReason.Stale, $"round {p.Round} while at {_round + 1}"); return; }
        if (!_pending.TryGetValue((p.Key, m.From), out var list)) _pending[(p.Key, m.From)] = list = new();
        list.Add((p.Round, whole));
        if (_waiting)
        {
            if (p.Round >= _round + 1) _lastArrival = Math.Max(_lastArrival, Now - _waitStart);
            if (Ready()) Guard(Mix);
        }
    }

    private void Reject(int from, RejectReason reason, string detail)
    {
        string r = reason.ToString();
        Parse.Util.Counters.Add(_tally.Rejected, r);
        Parse.Util.Counters.Add(_tally.RejectedFrom, from);
        if (_tally.Rejected[r] <= 3) _s.Log($"agent {_id}: rejected payload from agent {from}: {r} ({detail})");
    }

    private bool Ready()
    {
        int r = _round + 1;
        foreach (var key in _groups.Keys)
            foreach (int j in Expected(key))
                if ((!_pending.TryGetValue((key, j), out var l) || !l.Any(x => x.Round >= r)) && _heard.GetValueOrDefault((key, j), -1) < r)
                    return false;
        return true;
    }

    private void Mix()
    {
        int r = _round + 1;
        _waiting = false;
        Timers.Cancel("deadline");
        _tally.WaitSecondsSum += Now - _waitStart;
        if (_lastArrival > 0)
        {
            _recentLastArrival.Enqueue(_lastArrival);
            while (_recentLastArrival.Count > 5) _recentLastArrival.Dequeue();
        }
        using (var scope = torch.NewDisposeScope())
        using (var noGrad = torch.no_grad())
        {
            foreach (var (key, g) in _groups)
            {
                var peers = Expected(key);
                if (peers.Count == 0) continue;
                int deg = peers.Count;
                double self = 1;
                var acc = g.Parameters.Select(p => torch.zeros_like(p)).ToList();
                foreach (int j in peers)
                {
                    var chosen = Choose(key, j, r);
                    if (chosen is null && _heard.GetValueOrDefault((key, j), -1) >= r) continue;   // refused, already counted
                    if (chosen is null)
                    {
                        if (++_tally.Missing <= 20) _tally.Events.Add($"round {r}: no payload from agent {j} for {key}");
                        continue;
                    }
                    var p = PayloadCodec.TryDecode(chosen.Value.Bytes, _k.MaxPayloadBytes, out _, out _)!;
                    double w = MetropolisHastings.Weight(deg, p.SenderDegree);
                    self -= w;
                    for (int k = 0; k < acc.Count; k++) acc[k].add_(p.Values[k], alpha: w);
                    int stale = Math.Max(0, r - chosen.Value.Round);
                    _tally.Mixed++;
                    _tally.StalenessSum += stale;
                    _tally.MaxStaleness = Math.Max(_tally.MaxStaleness, stale);
                }
                for (int k = 0; k < acc.Count; k++) acc[k].add_(g.Parameters[k], alpha: self);
                for (int k = 0; k < acc.Count; k++) g.Parameters[k].copy_(acc[k]);
            }
        }
        _round = r;
        var cfg = _s.Config;
        if (r % Math.Max(1, cfg.Eval.Every) == 0 || r == cfg.Rounds)
        {
            var e = _s.Agent.Evaluate(_s.Test);
            _tally.FinalAccuracy = e.Accuracy;
            _tally.Metrics.Add(new Parse.Simulation.AgentRoundMetrics(r, _id, _s.Agent.TypeName, e.Accuracy, e.Loss, 0,
                _tally.BytesSent, _tally.BytesReceived, e.HeadAccuracy));
        }
        _tally.RoundSecondsSum += Now - _roundStart;
        _tally.RoundsTimed++;
        if (_k.CheckpointEvery > 0 && (r % _k.CheckpointEvery == 0 || r == cfg.Rounds))
            _s.Checkpoints.Save(_id, r, _s.Agent.Model, JsonSerializer.Serialize(_tally));
        if (r >= cfg.Rounds) Finish();
        else Self.Tell(new StartRound());
    }

    /// <summary>
    /// Takes the payload of neighbour <paramref name="j"/> to mix in round <paramref name="r"/>: the one of round r if
    /// present, else the newest older one within the staleness bound, else the oldest newer one unless that is of round
    /// r + 1 (kept for the next round, so a neighbour that skipped us once realigns instead of staying one round ahead).
    /// Older ones are dropped.
    /// </summary>
    private (int Round, byte[] Bytes)? Choose(string key, int j, int r)
    {
        if (!_pending.TryGetValue((key, j), out var list) || list.Count == 0) return null;
        foreach (var old in list.Where(x => r - x.Round > _k.MaxStaleness).ToList())
        {
            list.Remove(old);
            Reject(j, RejectReason.Stale, $"round {old.Round} while at {r}");
        }
        if (list.Count == 0) return null;
        var pick = list.Any(x => x.Round == r) ? list.First(x => x.Round == r)
            : list.Any(x => x.Round < r) ? list.Where(x => x.Round < r).MaxBy(x => x.Round)
            : list.MinBy(x => x.Round);
        if (pick.Round == r + 1) return null;
        list.RemoveAll(x => x.Round <= pick.Round);
        return pick;
    }

    private void Finish()
    {
        _done = true;
        _training = true;
        foreach (int j in _where.Keys.Where(j => _discovery.Neighbours.Contains(j) || OverlayPeers().Contains(j)).ToList())
            Tell(j, new Finished(_id, j));
        // overlays as trained on; neighbours leaving afterwards must not shrink what the report shows
        _finalOverlays = _groups.Keys.ToDictionary(k => k, k => _discovery.OverlayNeighbours(k).ToArray());
        _finalBridges = _groups.Keys.ToDictionary(k => k, k => _discovery.Bridges(k).ToArray());
        _s.OnFinished(WriteReport());
        CheckSettled();
    }

    /// <summary>Writes the agent's report (again after a membership event seen while lingering); returns it.</summary>
    private AgentReport WriteReport()
    {
        var t = _tally;
        var report = new AgentReport
        {
            Agent = _id, Type = _s.Agent.TypeName, RoundsCompleted = _round, ResumedFromRound = _resumedFrom,
            FinalAccuracy = t.FinalAccuracy, Ceiling = _s.Ceiling, Metrics = t.Metrics,
            BytesSent = t.BytesSent, BytesReceived = t.BytesReceived, BytesSentTo = t.BytesSentTo, BytesByRole = t.BytesByRole,
            Rejected = t.Rejected, RejectedFrom = t.RejectedFrom, Mixed = t.Mixed, Missing = t.Missing,
            MaxStaleness = t.MaxStaleness, MeanStaleness = t.Mixed == 0 ? 0 : (double)t.StalenessSum / t.Mixed,
            DeadlineRounds = t.DeadlineRounds,
            MeanRoundSeconds = t.RoundsTimed == 0 ? 0 : t.RoundSecondsSum / t.RoundsTimed,
            MeanWaitSeconds = t.RoundsTimed == 0 ? 0 : t.WaitSecondsSum / t.RoundsTimed,
            TrainSeconds = t.TrainSeconds, AgentSteps = t.AgentSteps, Samples = t.Samples,
            OverlayNeighbours = _finalOverlays,
            Bridges = _finalBridges,
            Events = t.Events,
            PeakWorkingSetBytes = Process.GetCurrentProcess().PeakWorkingSet64,
        };
        Directory.CreateDirectory(_s.OutDir);
        Parse.Reporting.AtomicFile.WriteAllText(Path.Combine(_s.OutDir, AgentReport.FileName(_id)), report.ToJson());
        return report;
    }
}
