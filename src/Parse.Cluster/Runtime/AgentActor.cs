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
public sealed partial class AgentActor : ReceiveActor, IWithTimers
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
    // agents anywhere in the cluster that finished for good (told by the directories); overlay peers among them are
    // not waited for, also when the overlay is only known after discovery
    private readonly HashSet<int> _gone = new();
    private readonly List<(object Msg, Address From, int Round)> _early = new();
    private readonly ChunkAssembler _chunks;
    // the keys this agent can decode: payloads name their group by a hash of its key (PayloadCodec, format 3)
    private readonly PayloadKeys _wireKeys;
    private readonly MessageAuth _auth;
    private readonly SecurityTally _security;
    // every agent message is sealed with a sequence number that increases per incarnation (random per actor start)
    private readonly long _incarnation = Random.Shared.NextInt64();
    private long _seq;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    // message ids start at a random point, so a restarted agent's ids do not collide with its previous incarnation's
    // half-assembled chunks at the receivers
    private long _nextMessageId = Random.Shared.NextInt64(1L << 62);
    private int _resumedFrom;
    private bool _training, _done, _failed, _settled, _allAdmitted, _untrusted, _stopped;
    private double _discoveryStart, _lastChangeAt;
    private int _lastChanges = -1;
    private int _lastAnnounced = -1;
    private Dictionary<string, int[]> _finalOverlays = new(), _finalBridges = new();
    // the join protocol (churn): as a newcomer, whom it asked and what came back; as a neighbour, requests not yet answerable
    private Dictionary<int, string[]>? _joinAsked;
    private bool _joinCompleted;
    private readonly Dictionary<int, (int Next, int Total, List<GroupPayload> Groups)> _joinParts = new();
    private readonly Dictionary<int, (int FirstRound, string[] Keys)> _joinRequests = new();
    private readonly ChunkAssembler _joinChunks;
    // test fault PayloadFault.Replayed: the last sealed payload chunk sent to each neighbour, resent a round later
    private readonly Dictionary<int, (Sealed Envelope, Address To)> _captured = new();

    public ITimerScheduler Timers { get; set; } = null!;

    public AgentActor(AgentSetup setup)
    {
        _s = setup;
        _k = setup.Config.Cluster;
        _id = setup.Core.Id;
        _core = setup.Core;
        _wireKeys = new PayloadKeys(_core.Learner.Model.Groups);
        _discovery = new OverlayDiscovery(_id, _core.SharedKeys, setup.BaseNeighbours, setup.Config.Overlay.Repair, setup.Discovery);
        setup.Overlays.Discovery = _discovery;
        _security = new SecurityTally(_k.Limits.QuarantineAfter);
        // a quarantined neighbour is not waited for, like a crashed one, but still sent to (AgentCore.IsIgnored)
        _core.IsReachable = j => !_down.Contains(j) && _where.ContainsKey(j);
        _core.IsIgnored = _security.IsQuarantined;
        // a newcomer is waited for only once it has asked for the groups (it may start late; it asks in its join round)
        _core.JoinByRequest = true;
        _core.Log = setup.Log;
        _chunks = new ChunkAssembler(_k.MaxPayloadBytes, chunkBytes: _k.ChunkBytes, maxPendingPerSender: _k.Limits.MaxPendingPerSender);
        _auth = new MessageAuth(_id);
        _joinChunks = new ChunkAssembler(_k.MaxPayloadBytes, chunkBytes: _k.ChunkBytes, maxPendingPerSender: _k.Limits.MaxPendingPerSender);

        Receive<PeerUp>(OnPeerUp);
        Receive<PeerDown>(OnPeerDown);
        Receive<Sealed>(OnSealed);
        Receive<AdmissionStatus>(m => { _allAdmitted = m.AllAdmitted; _untrusted = m.Untrusted; _lastChangeAt = Now; });
        Receive<PeersFinished>(m => { _gone.UnionWith(m.Agents); ApplyGone(); });
        // agent messages are accepted only inside an authenticated envelope
        Receive<IWireMessage>(_ => Refused("unsealed", -1, "an agent message outside an authenticated envelope"));
        Receive<DiscoveryTick>(_ => OnDiscoveryTick());
        Receive<StartRound>(_ => Guard(RunRound));
        Receive<JoinTimeout>(_ => { if (_joinAsked is not null && !_joinCompleted) CompleteJoin(timedOut: true); });
        Receive<RoundDeadline>(m => { if (_core.Waiting && m.Round == _core.Round + 1) Guard(() => Close(atDeadline: true)); });
    }

    private double Now => _clock.Elapsed.TotalSeconds;

    /// <summary>
    /// Every message handler runs here: a failure anywhere (a native TorchSharp error, a full disk while writing the
    /// report, a bug) is reported to the node with the agent id instead of stopping the actor silently.
    /// </summary>
    protected override bool AroundReceive(Receive receive, object message)
    {
        if (_failed) return true;
        Parse.Util.IntraOpThreads.Pin();   // dispatcher threads change between messages
        try { return base.AroundReceive(receive, message); }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            _failed = true;
            _s.OnFailed($"agent {_id}: {e.GetType().Name} while handling {message.GetType().Name}: {e.Message}");
            return true;
        }
    }

    /// <summary>An agent that stops before finishing (while its node is not shutting down) is a failure, never silent.</summary>
    protected override void PostStop()
    {
        if (!_done && !_failed && !_stopped) _s.OnFailed($"agent {_id}: actor stopped before finishing (round {_core.Round})");
        base.PostStop();
    }

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

    /// <summary>True when this agent has left the run for good (<c>churn.leave</c>) and completed its rounds.</summary>
    private bool LeftForGood => _done && _core.Schedule is { } plan && !plan.Present(_id, _s.Config.Rounds);

    private void CheckSettled()
    {
        if (!_done || _settled) return;
        if (LeftForGood)
        {
            // it left for good (churn.leave): its neighbours stopped exchanging with it at its leave round, so its process
            // may go now (a graceful cluster leave) instead of staying until they finish
            _settled = true;
            _s.OnSettled(_id);
            return;
        }
        var peers = OverlayPeers();
        peers.UnionWith(_discovery.Neighbours);
        // a quarantined neighbour is ignored for the rest of the run, its Finished message included: not waited for here either
        if (!peers.All(p => _finished.Contains(p) || _security.IsQuarantined(p))) return;
        _settled = true;
        _s.OnSettled(_id);
    }

    protected override void PreStart()
    {
        // the node restored the checkpoint (and refused one that does not fit) before starting the actor
        _resumedFrom = _s.ResumedFrom;
        _discoveryStart = _lastChangeAt = Now;
        if (_core.Done) { Finish(); return; }
        Timers.StartPeriodicTimer("discovery", new DiscoveryTick(), TimeSpan.FromMilliseconds(100));
    }

    /// <summary>Runs <paramref name="handle"/> only if the message comes from the address agent <paramref name="from"/> was admitted at.</summary>
    private void Admitted(object msg, int from, int round, Action handle)
    {
        var sender = Sender.Path.Address;
        if (_where.TryGetValue(from, out var a) && a == sender) { handle(); return; }
        if (_early.Count < 1_000) _early.Add((msg, sender, round));   // may be admitted a moment later; bounded
    }

    /// <summary>
    /// Checks an envelope (MAC under the sending process's key, sender hosted there, sequence number fresh), opens it and
    /// hands the message on; anything else is refused and counted. Messages of a quarantined agent are ignored.
    /// </summary>
    private void OnSealed(Sealed m)
    {
        if (_security.IsQuarantined(m.From)) { _security.Count("quarantined"); return; }
        var addr = Sender.Path.Address;
        bool local = addr.HasLocalScope;
        Func<int, bool>? hosted = _where.TryGetValue(m.From, out var at) ? _ => at == addr : null;
        var verdict = _auth.Check(m, _s.Keys.ReceiveKeys(addr.ToString(), local), hosted);
        if (verdict != SealVerdict.Ok) { Refused(SecurityTally.Kind(verdict), m.From, $"from {addr}"); return; }
        object inner;
        try { inner = MessageAuth.Open(m); }
        catch (System.Runtime.Serialization.SerializationException e)
        {
            // authentic but undecodable: the sender's fault; a payload chunk still answers its round
            if (m.Manifest == "X") _core.RefusedByTransport(m.From, RejectReason.Malformed, m.Body.Length, m.Round);
            Offence(m.From, e.Message);
            CloseIfReady();
            return;
        }
        switch (inner)
        {
            case KeyHello h: Admitted(h, h.From, m.Round, () => OnHello(h)); break;
            case FloodState f: Admitted(f, f.From, m.Round, () => Send(_discovery.OnFlood(f.From, f.Key, f.Component, f.Holders, f.Settled))); break;
            case PayloadChunk c: Admitted(c, c.From, m.Round, () => OnChunk(c, m.Round)); break;
            case Finished e: Admitted(e, e.From, m.Round, () => OnFinishedPeer(e.From)); break;
            case JoinRequest j: Admitted(j, j.From, m.Round, () => OnJoinRequest(j)); break;
            case JoinChunk x: Admitted(x, x.From, m.Round, () => OnJoinChunk(x)); break;
        }
    }

    private void Refused(string kind, int from, string detail)
    {
        if (_security.Count(kind) <= 3) _s.Log($"agent {_id}: refused a message claiming agent {from}: {kind.Replace('_', ' ')} ({detail})");
    }

    /// <summary>An admitted agent sent something undecodable; after <c>cluster.limits.quarantine_after</c> of these it is ignored.</summary>
    private void Offence(int from, string detail)
    {
        _security.Count("undecodable");
        if (!_security.Offence(from)) return;
        _core.Tally.Events.Add($"round {_core.Round}: agent {from} quarantined after {_k.Limits.QuarantineAfter} undecodable messages");
        _s.Log($"agent {_id}: quarantined agent {from} for the rest of the run after {_k.Limits.QuarantineAfter} undecodable messages (last: {detail})");
        CloseIfReady();
        CheckSettled();
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
                Tell(j, new KeyHello(_id, j, Announced(), Reply: false));
        }
        if (_done) WriteReport();
        var replay = _early.Where(e => m.Agents.Contains(FromOf(e.Msg)) && e.From == m.Address).ToList();
        foreach (var e in replay)
        {
            _early.Remove(e);
            Redeliver(e.Msg, e.Round);   // already checked: same agent, same address
        }
        // a readmitted agent that the directories already reported finished for good stays finished (its Finished
        // message may have been sent to a process that was down at the time, and it will not be sent again)
        ApplyGone();
    }

    private void Redeliver(object msg, int round)
    {
        switch (msg)
        {
            case KeyHello h: OnHello(h); break;
            case FloodState f: Send(_discovery.OnFlood(f.From, f.Key, f.Component, f.Holders, f.Settled)); break;
            case PayloadChunk c: OnChunk(c, round); break;
            case Finished f: OnFinishedPeer(f.From); break;
            case JoinRequest j: OnJoinRequest(j); break;
            case JoinChunk x: OnJoinChunk(x); break;
        }
    }

    private static int FromOf(object msg) => msg switch
    {
        KeyHello h => h.From, FloodState f => f.From, PayloadChunk c => c.From, Finished f => f.From,
        JoinRequest j => j.From, JoinChunk x => x.From, _ => -1,
    };

    private void OnPeerDown(PeerDown m)
    {
        foreach (int j in m.Agents)
        {
            _where.Remove(j);
            _helloSent.Remove(j);
            if (_discovery.Neighbours.Contains(j) || OverlayPeers().Contains(j))
                if (_down.Add(j) && !_finished.Contains(j) && !_gone.Contains(j) && !LeftForGood) _core.Tally.Events.Add($"round {_core.Round}: agent {j} dropped ({m.Why})");
            _discovery.Forget(j);
        }
        if (_done) WriteReport();
        CloseIfReady();
    }

    private void OnHello(KeyHello m)
    {
        Send(_discovery.OnNeighbourKeys(m.From, m.Keys));
        if (_helloSent.Add(m.From) || !m.Reply) Tell(m.From, new KeyHello(_id, m.From, Announced(), Reply: true));
        if (_core.LiesInDiscovery) Lie();
        if (_done) Tell(m.From, new Finished(_id, m.From));
    }

    /// <summary>The keys this agent announces: its own, or (a discovery liar, <c>attack.discovery</c>) every key it has heard of.</summary>
    private string[] Announced()
    {
        if (!_core.LiesInDiscovery) return _core.SharedKeys.ToArray();
        var keys = new SortedSet<string>(_core.SharedKeys, StringComparer.Ordinal);
        foreach (int n in _discovery.Neighbours) if (_discovery.KeysOf(n) is { } ks) keys.UnionWith(ks);
        return keys.ToArray();
    }

    /// <summary>
    /// A discovery liar's messages after each hello: its grown key list to every neighbour, and for every key it
    /// does not hold a repair report naming the other attackers as holders (to pull its neighbours into links with them).
    /// </summary>
    private void Lie()
    {
        var announced = Announced();
        if (announced.Length == _lastAnnounced) return;
        _lastAnnounced = announced.Length;
        foreach (int n in _discovery.Neighbours.Where(_where.ContainsKey))
        {
            Tell(n, new KeyHello(_id, n, announced, Reply: true));
            foreach (var key in announced.Where(k => !_core.SharedKeys.Contains(k)))
                Tell(n, new FloodState(_id, n, key, 0, _core.Attackers.Where(a => a != _id).Append(n).Order().ToArray(), true));
        }
    }

    private void ApplyGone()
    {
        if (_gone.Count == 0) return;
        var peers = OverlayPeers();
        peers.UnionWith(_discovery.Neighbours);
        foreach (int j in _gone.Where(j => peers.Contains(j) && !_finished.Contains(j)).ToList()) OnFinishedPeer(j);
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

    /// <summary>Sends an agent message to <paramref name="agent"/>, sealed under the key of its process (see <see cref="PeerKeys"/>).</summary>
    private void Tell(int agent, object msg, int? round = null)
    {
        if (!_where.TryGetValue(agent, out var addr)) return;
        var key = _s.Keys.SendKey(addr.ToString(), addr.HasLocalScope);
        if (key is null) return;   // not admitted by our directory (cannot happen for an address in _where)
        var env = MessageAuth.Seal(msg, _id, agent, _incarnation, _seq++, round ?? _core.Round + 1, key);
        Context.ActorSelection(new RootActorPath(addr) / "user" / NodeHost.AgentActorName(agent)).Tell(env, Self);
        if (_s.Fault == PayloadFault.Replayed && msg is PayloadChunk && !addr.HasLocalScope) _captured[agent] = (env, addr);
    }

    /// <summary>
    /// Test fault <see cref="PayloadFault.ForgedSender"/>: the payload again, sealed under this process's genuine pair key
    /// but claiming to come from an agent hosted by another process (what an insider holding the secret could try). The
    /// receiver must refuse it as a forged sender.
    /// </summary>
    private void TellForged(int to, IReadOnlyList<byte[]> chunks, int round)
    {
        if (!_where.TryGetValue(to, out var addr) || addr.HasLocalScope) return;
        // an agent the receiver hosts itself (it always knows where those live), another than the receiver if there is one
        var there = _where.Where(kv => kv.Value == addr).Select(kv => kv.Key).Order().ToList();
        int? claimed = there.Where(a => a != to).Cast<int?>().FirstOrDefault() ?? to;
        var key = _s.Keys.SendKey(addr.ToString(), local: false);
        if (claimed is not int c || key is null) return;
        long id = _nextMessageId++;
        for (int i = 0; i < chunks.Count; i++)
        {
            var env = MessageAuth.Seal(new PayloadChunk(c, to, id, i, chunks.Count, chunks[i]), c, to, _incarnation, _seq++, round, key);
            Context.ActorSelection(new RootActorPath(addr) / "user" / NodeHost.AgentActorName(to)).Tell(env, Self);
        }
    }

    private HashSet<int> OverlayPeers() => _core.SharedKeys.SelectMany(_discovery.OverlayNeighbours).ToHashSet();

    private void OnDiscoveryTick()
    {
        if (_training) return;
        // a peer's proof failed and this node has admitted no one (a wrong secret here or there): never train alone;
        // the directory admits someone or stops the node as not admitted
        if (_untrusted) return;
        // nor before the node has joined the cluster (the node gives up at the same timeout: never train outside it);
        // an agent without base neighbours (a pooled centralized learner) needs no one: it trains at once, else a node
        // that joins last can find every other process already finished and gone (nothing left to join through)
        if (_discovery.Neighbours.Count > 0
            && Akka.Cluster.Cluster.Get(Context.System).SelfMember.Status is not (Akka.Cluster.MemberStatus.Up or Akka.Cluster.MemberStatus.WeaklyUp)) return;
        if (_discovery.Changes != _lastChanges) { _lastChanges = _discovery.Changes; _lastChangeAt = Now; }
        // an agent without base neighbours (e.g. a pooled centralized learner) has nothing to discover or wait for
        // neighbours that finished for good (told by the directories) will never answer: they are not waited for
        bool quiet = _allAdmitted && Now - _lastChangeAt >= _k.DiscoveryQuietMs / 1000.0;
        var unknown = _discovery.Neighbours.Where(n => _discovery.KeysOf(n) is null).ToList();
        bool settled = _discovery.Neighbours.Count == 0
            || (_discovery.Settled && quiet)
            || (unknown.Count > 0 && unknown.All(j => _finished.Contains(j) || _gone.Contains(j) || JoinsLater(j)) && quiet);
        bool timedOut = Now - _discoveryStart >= _k.DiscoveryTimeoutMs / 1000.0;
        if (!settled && !timedOut) return;
        if (!settled)
        {
            var missing = _discovery.Neighbours.Where(n => _discovery.KeysOf(n) is null).ToList();
            _s.Log($"agent {_id}: discovery timed out; starting without neighbours {string.Join(',', missing)}");
        }
        _training = true;
        Timers.Cancel("discovery");
        ApplyGone();
        Self.Tell(new StartRound());
    }

    /// <summary>
    /// True for a neighbour that joins after the current round (<c>churn.join</c>) and whose process is not up yet: discovery
    /// does not wait for it (it says hello when it arrives, and asks for the groups with a join request).
    /// </summary>
    private bool JoinsLater(int j) => _s.Config.Churn.Processes && _core.Schedule?.JoinRound(j) is int jr && jr > _core.Round + 1 && !_where.ContainsKey(j);

    private void RunRound()
    {
        if (_core.JoinsNext && _joinAsked is null) { StartJoin(); return; }
        int r = _core.Round + 1;
        if (_s.Fault == PayloadFault.Replayed)
            foreach (var (agent, (env, to)) in _captured.ToList())
                Context.ActorSelection(new RootActorPath(to) / "user" / NodeHost.AgentActorName(agent)).Tell(env, Self);
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
                    for (int c = 0; c < chunks.Count; c++) Tell(j, new PayloadChunk(_id, j, id, c, chunks.Count, chunks[c]), o.Payload.Round);
                    if (_s.Fault == PayloadFault.Oversized) Tell(j, new PayloadChunk(_id, j, _nextMessageId++, 0, int.MaxValue, new byte[Math.Min(_k.ChunkBytes, 1 << 16)]), o.Payload.Round);
                    if (_s.Fault == PayloadFault.ForgedSender) TellForged(j, chunks, o.Payload.Round);
                    _core.Sent(j, o.Role, bytes.Length);
                }
            }
        // the first round also absorbs neighbours that are still finishing discovery, so it may wait up to the discovery timeout
        double deadline = r == _resumedFrom + 1 ? Math.Max(_core.DeadlineMs, _k.DiscoveryTimeoutMs) : _core.DeadlineMs;
        Timers.StartSingleTimer("deadline", new RoundDeadline(r), TimeSpan.FromMilliseconds(deadline));
        AnswerJoins();
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
        }
        if (_s.Fault == PayloadFault.Scaled) p = p with { Values = p.Values.Select(v => Parse.Util.ScalarOps.Times(v, 1000.0)).ToList() };
        return PayloadCodec.Encode(p);
    }

    private void OnChunk(PayloadChunk m, int round)
    {
        // bounded: only rounds [r - max_staleness, r + max_rounds_ahead] are kept (an honest peer is never further away)
        int r = _core.Round + 1;
        if (round < r - _s.Config.Timing.MaxStaleness || round > r + _k.Limits.MaxRoundsAhead)
        {
            Refused("out_of_window", m.From, $"round {round} while at {r}");
            return;
        }
        byte[]? whole;
        try { whole = _chunks.Add(m.From, m.MessageId, m.Index, m.Count, m.Data); }
        catch (InvalidDataException e) { RefuseUndecodable(m.From, RejectReason.Malformed, 0, e.Message, round); return; }
        if (whole is null) return;
        var p = Decode(whole, out var reason, out var detail);   // the core owns its tensors from here
        if (p is null && reason == RejectReason.UnknownKey)
        {
            // a group this agent does not hold (e.g. a peer that believes it does): refused as the core would, no offence
            _core.RefusedUnknownKey(m.From, whole.Length, detail);
            return;
        }
        if (p is null) { RefuseUndecodable(m.From, reason, whole.Length, detail, round); return; }
        if (p.Sender != m.From || p.Round != round)
        {
            foreach (var v in p.Values) v.Dispose();
            RefuseUndecodable(m.From, RejectReason.Malformed, whole.Length, $"payload says agent {p.Sender} round {p.Round}, envelope agent {m.From} round {round}", round);
            return;
        }
        Guard(() => _core.Receive(m.From, p, Now, whole.Length));
        CloseIfReady();
    }

    /// <summary>Decodes an assembled payload; the caller owns its tensors. Null, with the reason, when it cannot be read.</summary>
    private GroupPayload? Decode(byte[] whole, out RejectReason reason, out string detail)
    {
        using var scope = torch.NewDisposeScope();
        var p = PayloadCodec.TryDecode(whole, _k.MaxPayloadBytes, _wireKeys, out reason, out detail);
        if (p is not null) foreach (var v in p.Values) v.DetachFromDisposeScope();
        return p;
    }

    /// <summary>An undecodable payload counts as the sender's (refused) answer for its round, so the round does not wait for the deadline; it is also an offence.</summary>
    private void RefuseUndecodable(int from, RejectReason reason, long bytes, string detail, int round)
    {
        _core.RefusedByTransport(from, reason, bytes, round);
        if (_core.Tally.Rejected.GetValueOrDefault(reason.ToString()) <= 3) _s.Log($"agent {_id}: rejected payload from agent {from}: {reason} ({detail})");
        Offence(from, detail);
        CloseIfReady();
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
        AfterClose();
    }

    /// <summary>After a closed round: checkpoint when due, join requests now answerable, then the next round or finish.</summary>
    private void AfterClose()
    {
        int r = _core.Round;
        var cfg = _s.Config;
        bool stop = _s.StopAfterRound > 0 && r >= _s.StopAfterRound && !_core.Done;
        if ((_k.CheckpointEvery > 0 && (r % _k.CheckpointEvery == 0 || r == cfg.Rounds)) || stop)
            AgentCheckpoint.Save(_s.Checkpoints, _core, _s.Fingerprint);
        _s.OnProgress(_id, r);
        AnswerJoins();
        if (stop) { StopHere(); return; }
        if (_core.Done) Finish();
        else Self.Tell(new StartRound());
    }

    /// <summary>
    /// A planned stop (<c>--stop-after</c>): the checkpoint is written; the agent sends nothing more and tells its
    /// neighbours, which stop at the same round, so that the node can leave once they have closed it too.
    /// </summary>
    private void StopHere()
    {
        _stopped = true;
        _done = true;
        _training = true;
        foreach (int j in _where.Keys.Where(j => _discovery.Neighbours.Contains(j) || OverlayPeers().Contains(j)).ToList())
            Tell(j, new Finished(_id, j));
        _s.Log($"agent {_id}: stopped after round {_core.Round} as asked (checkpoint written)");
        _s.OnFinished(WriteReport());
        CheckSettled();
    }

    private void Finish()
    {
        AnswerJoins();
        _done = true;
        _training = true;
        foreach (int j in _where.Keys.Where(j => _discovery.Neighbours.Contains(j) || OverlayPeers().Contains(j)).ToList())
            Tell(j, new Finished(_id, j));
        // overlays as trained on; neighbours leaving afterwards must not shrink what the report shows
        _finalOverlays = _core.SharedKeys.ToDictionary(k => k, k => _discovery.OverlayNeighbours(k).ToArray());
        _finalBridges = _core.SharedKeys.ToDictionary(k => k, k => _discovery.Bridges(k).ToArray());
        if (_security.Refused.Count > 0)
            _s.Log($"agent {_id}: refused messages {string.Join(", ", _security.Refused.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key}={kv.Value}"))}" +
                   (_security.Quarantined.Count > 0 ? $"; quarantined agents {string.Join(',', _security.Quarantined)}" : ""));
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
            Events = t.Events.Concat(_discovery.LieLog.Select(l => "discovery lie refused: " + l)).ToList(),
            DiscoveryLiesRefused = _discovery.LiesRefused,
            AccuracyWithoutHead = t.AccuracyWithoutHead,
            PrivacyEpsilon = t.PrivacyEpsilon,
            PeakWorkingSetBytes = Process.GetCurrentProcess().PeakWorkingSet64,
            Security = new Dictionary<string, long>(_security.Refused),
            Quarantined = _security.Quarantined.ToArray(),
        };
        Directory.CreateDirectory(_s.OutDir);
        Parse.Reporting.AtomicFile.WriteAllText(Path.Combine(_s.OutDir, AgentReport.FileName(_id)), report.ToJson());
        return report;
    }
}
