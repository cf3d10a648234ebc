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
using Parse.Node;
using TorchSharp;

namespace Parse.Cluster.Runtime;

/// <summary>
/// One agent on the cluster: a thin adapter that forwards messages to the runtime-neutral <see cref="AgentCore"/> (the
/// same core the simulator drives). The actor owns only what a network adds: overlay discovery by handshake and
/// flooding, membership (who is up, down, finished), admission by address, chunked binary payloads, the deadline timer
/// on the wall clock, checkpoints and the agent's report. Training, what to send, staleness, mixing and evaluation are
/// the core's. A round closes when every live overlay neighbour's payload has arrived or at the deadline.
/// </summary>
public sealed class AgentActor : ReceiveActor, IWithTimers
{
    private readonly AgentSetup _s;
    private readonly Parse.Config.ClusterConfig _k;
    private readonly int _id;
    private readonly AgentCore _core;
    private readonly OverlayDiscovery _discovery;
    private readonly Dictionary<int, Address> _where = new();
    private readonly HashSet<int> _helloSent = new();
    private readonly HashSet<int> _down = new();
    private readonly HashSet<int> _finished = new();
    private readonly List<(object Msg, Address From)> _early = new();
    private readonly ChunkAssembler _chunks;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    // message ids start at a random point, so a restarted agent's ids do not collide with its previous incarnation's
    // half-assembled chunks at the receivers
    private long _nextMessageId = Random.Shared.NextInt64(1L << 62);
    private int _resumedFrom;
    private bool _training, _done, _failed, _settled, _allAdmitted;
    private double _discoveryStart, _lastChangeAt;
    private int _lastChanges = -1;
    private Dictionary<string, int[]> _finalOverlays = new(), _finalBridges = new();

    public ITimerScheduler Timers { get; set; } = null!;

    public AgentActor(AgentSetup setup)
    {
        _s = setup;
        _k = setup.Config.Cluster;
        _id = setup.Core.Id;
        _core = setup.Core;
        _discovery = new OverlayDiscovery(_id, _core.SharedKeys, setup.BaseNeighbours, setup.Config.Overlay.Repair);
        setup.Overlays.Discovery = _discovery;
        _core.IsReachable = j => !_down.Contains(j) && _where.ContainsKey(j);
        _core.Log = setup.Log;
        _chunks = new ChunkAssembler(_k.MaxPayloadBytes);

        Receive<PeerUp>(OnPeerUp);
        Receive<PeerDown>(OnPeerDown);
        Receive<KeyHello>(m => Admitted(m, m.From, () => OnHello(m)));
        Receive<FloodState>(m => Admitted(m, m.From, () => Send(_discovery.OnFlood(m.From, m.Key, m.Component, m.Holders, m.Settled))));
        Receive<AdmissionStatus>(m => { _allAdmitted = m.AllAdmitted; _lastChangeAt = Now; });
        Receive<PayloadChunk>(m => Admitted(m, m.From, () => OnChunk(m)));
        Receive<Finished>(m => Admitted(m, m.From, () => OnFinishedPeer(m.From)));
        Receive<DiscoveryTick>(_ => OnDiscoveryTick());
        Receive<StartRound>(_ => Guard(RunRound));
        Receive<RoundDeadline>(m => { if (_core.Waiting && m.Round == _core.Round + 1) Guard(() => Close(atDeadline: true)); });
    }

    private double Now => _clock.Elapsed.TotalSeconds;

    /// <summary>Training and mixing failures end the node with one message instead of restarting the actor.</summary>
    private void Guard(Action work)
    {
        if (_failed) return;
        try { work(); }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // any failure (including a native TorchSharp error) ends the node with one message naming the agent,
            // never a silently stopped actor that its node would wait for forever
            _failed = true;
            _s.OnFailed($"agent {_id}: {e.GetType().Name}: {e.Message}");
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
        // a checkpoint that does not fit (shapes, corrupt metadata) ends the node with a message instead of a dead actor
        if (_s.Resume is { } c)
            Guard(() =>
            {
                CheckpointStore.Restore(c, _core.Learner.Model.State());
                _core.ResumeAt(c.Round, JsonSerializer.Deserialize<AgentTally>(c.Metadata) ?? new AgentTally());
                _resumedFrom = c.Round;
            });
        if (_failed) return;
        _discoveryStart = _lastChangeAt = Now;
        if (_core.Done) { Finish(); return; }
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
                _core.PeerReturned(j);
                _core.Tally.Events.Add($"round {_core.Round}: agent {j} readmitted");
            }
            if (_discovery.Neighbours.Contains(j) && _helloSent.Add(j))
                Tell(j, new KeyHello(_id, j, _core.SharedKeys.ToArray(), Reply: false));
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
                if (_down.Add(j)) _core.Tally.Events.Add($"round {_core.Round}: agent {j} dropped ({m.Why})");
            _discovery.Forget(j);
        }
        if (_done) WriteReport();
        CloseIfReady();
    }

    private void OnHello(KeyHello m)
    {
        Send(_discovery.OnNeighbourKeys(m.From, m.Keys));
        if (_helloSent.Add(m.From) || !m.Reply) Tell(m.From, new KeyHello(_id, m.From, _core.SharedKeys.ToArray(), Reply: true));
        if (_done) Tell(m.From, new Finished(_id, m.From));
    }

    private void OnFinishedPeer(int j)
    {
        _finished.Add(j);
        _core.PeerFinished(j);
        CloseIfReady();
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

    private HashSet<int> OverlayPeers() => _core.SharedKeys.SelectMany(_discovery.OverlayNeighbours).ToHashSet();

    private void OnDiscoveryTick()
    {
        if (_training) return;
        if (_discovery.Changes != _lastChanges) { _lastChanges = _discovery.Changes; _lastChangeAt = Now; }
        // an agent without base neighbours (e.g. a pooled centralized learner) has nothing to discover or wait for
        bool settled = _discovery.Neighbours.Count == 0
            || (_discovery.Settled && _allAdmitted && Now - _lastChangeAt >= _k.DiscoveryQuietMs / 1000.0);
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

    private void RunRound()
    {
        int r = _core.Round + 1;
        _core.StartRound(Now);
        _core.Train();
        foreach (var o in _core.Publish(Now))
            using (o)
            {
                byte[] bytes = Encode(o.Payload);
                foreach (int j in o.To)
                {
                    var chunks = PayloadChunker.Split(bytes, _k.ChunkBytes);
                    long id = _nextMessageId++;
                    for (int c = 0; c < chunks.Count; c++) Tell(j, new PayloadChunk(_id, j, id, c, chunks.Count, chunks[c]));
                    _core.Sent(j, o.Role, bytes.Length);
                }
            }
        // the first round also absorbs neighbours that are still finishing discovery, so it may wait up to the discovery timeout
        double deadline = r == _resumedFrom + 1 ? Math.Max(_core.DeadlineMs, _k.DiscoveryTimeoutMs) : _core.DeadlineMs;
        Timers.StartSingleTimer("deadline", new RoundDeadline(r), TimeSpan.FromMilliseconds(deadline));
        CloseIfReady();
    }

    private byte[] Encode(GroupPayload p)
    {
        using var scope = torch.NewDisposeScope();
        if (_s.Fault == PayloadFault.Garbage) return System.Text.Encoding.UTF8.GetBytes("not a payload " + p.Round);
        if (_s.Fault == PayloadFault.NaN)
        {
            using var nan = float.NaN.ToScalar();   // held for the calls (Util.ScalarOps)
            p = p with { Values = p.Values.Select(v => torch.full_like(v, nan)).ToList() };
            return PayloadCodec.Encode(p);
        }
        return PayloadCodec.Encode(p);
    }

    private void OnChunk(PayloadChunk m)
    {
        byte[]? whole;
        try { whole = _chunks.Add(m.From, m.MessageId, m.Index, m.Count, m.Data); }
        catch (InvalidDataException e) { RefuseUndecodable(m.From, RejectReason.Malformed, 0, e.Message); return; }
        if (whole is null) return;
        GroupPayload? p;
        RejectReason reason;
        string detail;
        using (var scope = torch.NewDisposeScope())
        {
            p = PayloadCodec.TryDecode(whole, _k.MaxPayloadBytes, out reason, out detail);
            if (p is not null) foreach (var v in p.Values) v.DetachFromDisposeScope();   // the core owns them from here
        }
        if (p is null) { RefuseUndecodable(m.From, reason, whole.Length, detail); return; }
        Guard(() => _core.Receive(m.From, p, Now, whole.Length));
        CloseIfReady();
    }

    private void RefuseUndecodable(int from, RejectReason reason, long bytes, string detail)
    {
        _core.RefusedByTransport(from, reason, bytes);
        if (_core.Tally.Rejected.GetValueOrDefault(reason.ToString()) <= 3) _s.Log($"agent {_id}: rejected payload from agent {from}: {reason} ({detail})");
    }

    private void CloseIfReady()
    {
        if (_core.Waiting && _core.Ready) Guard(() => Close(atDeadline: false));
    }

    /// <summary>Mixes and evaluates through the core, checkpoints when due, then starts the next round or finishes.</summary>
    private void Close(bool atDeadline)
    {
        Timers.Cancel("deadline");
        _core.CloseRound(Now, atDeadline);
        int r = _core.Round;
        var cfg = _s.Config;
        if (_k.CheckpointEvery > 0 && (r % _k.CheckpointEvery == 0 || r == cfg.Rounds))
            _s.Checkpoints.Save(_id, r, _core.Learner.Model.State(), JsonSerializer.Serialize(_core.Tally));
        if (_core.Done) Finish();
        else Self.Tell(new StartRound());
    }

    private void Finish()
    {
        _done = true;
        _training = true;
        foreach (int j in _where.Keys.Where(j => _discovery.Neighbours.Contains(j) || OverlayPeers().Contains(j)).ToList())
            Tell(j, new Finished(_id, j));
        // overlays as trained on; neighbours leaving afterwards must not shrink what the report shows
        _finalOverlays = _core.SharedKeys.ToDictionary(k => k, k => _discovery.OverlayNeighbours(k).ToArray());
        _finalBridges = _core.SharedKeys.ToDictionary(k => k, k => _discovery.Bridges(k).ToArray());
        _s.OnFinished(WriteReport());
        CheckSettled();
    }

    /// <summary>Writes the agent's report (again after a membership event seen while lingering); returns it.</summary>
    private AgentReport WriteReport()
    {
        var t = _core.Tally;
        var report = new AgentReport
        {
            Agent = _id, Type = _core.Learner.TypeName, RoundsCompleted = _core.Round, ResumedFromRound = _resumedFrom,
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
            AccuracyWithoutHead = t.AccuracyWithoutHead,
            PrivacyEpsilon = t.PrivacyEpsilon,
            PeakWorkingSetBytes = Process.GetCurrentProcess().PeakWorkingSet64,
        };
        Directory.CreateDirectory(_s.OutDir);
        Parse.Reporting.AtomicFile.WriteAllText(Path.Combine(_s.OutDir, AgentReport.FileName(_id)), report.ToJson());
        return report;
    }
}
