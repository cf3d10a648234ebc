using Akka.Actor;
using Akka.Cluster;
using Parse.Cluster.Protocol;
using Parse.Config;

namespace Parse.Cluster.Runtime;

/// <summary>
/// One per process (<c>/user/directory</c>). Membership and failure detection come from Akka Cluster; this actor
/// adds admission: every other member must answer a fresh challenge with an HMAC under the experiment secret (binding its
/// address, agents and config fingerprint) before its agents are announced to the local agents (<see cref="PeerUp"/>).
/// Admission also derives the per-peer message keys (<see cref="PeerKeys"/>). Unreachable or removed members are
/// announced as <see cref="PeerDown"/>; a member that becomes reachable again is challenged again.
/// A member whose proof fails is sent <see cref="Denied"/> and downed, but only by a node that has itself
/// admitted at least one peer (so a node without the secret cannot down honest members this way). A member with the
/// secret but another config is refused with a clear message. A <see cref="Denied"/> is obeyed only as the answer to our
/// own proof and only if it verifies under our secret; any other is ignored and logged.
/// The directories also share which agents have finished for good (<see cref="AgentsFinished"/>, sealed under the pair
/// keys like agent messages), so that an agent restarted late learns that its neighbours are done even if their
/// processes have already left.
/// A node that sees a peer's proof fail (or a <see cref="Denied"/> it cannot verify) before it has admitted anyone
/// holds its agents back (<see cref="AdmissionStatus.Untrusted"/>) and, if it still has admitted no one after the
/// admission grace, stops as not admitted: a node with the wrong secret never trains alone.
/// </summary>
public sealed class DirectoryActor : ReceiveActor, IWithTimers
{
    private const int ProofsPerPeer = 4;
    private readonly string _secret;
    private readonly PeerKeys _keys;
    private readonly int[] _local;
    private readonly IReadOnlyList<IActorRef> _agents;
    private readonly Action<string> _log;
    private readonly Action<string> _fatal;
    private readonly Action<string> _removed;
    private readonly HashSet<int> _finished = new();
    private bool _everAdmitted;
    private readonly Action _onAdmitted;
    // node-level messages are sealed like agent messages: one sequence per directory incarnation, checked per sender process
    private readonly long _incarnation = Random.Shared.NextInt64();
    private long _seq;
    private readonly Dictionary<Address, MessageAuth> _nodeAuth = new();
    // the newest incarnation (unique address) seen at each member address
    private readonly Dictionary<Address, UniqueAddress> _incarnations = new();
    private int _refusedNodeMessages;
    // proofs that failed the secret check (or Denied messages we could not verify) while this node had admitted no one
    private readonly List<string> _refusals = new();
    private readonly TimeSpan _admissionGrace;
    private readonly Action<string> _untrusted;
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private readonly Dictionary<Address, byte[]> _nonces = new();
    private readonly Dictionary<Address, int[]> _admitted = new();
    private readonly HashSet<Address> _denied = new();
    // nonces of the proofs we sent, per challenger (a Denied must answer one of them)
    private readonly Dictionary<Address, List<byte[]>> _proved = new();
    // members whose proof failed while this node had admitted no one (it could not refuse them yet)
    private readonly HashSet<Address> _failedEarly = new();
    private int _ignoredDenials;
    private readonly Presence _presence;
    private readonly Action<bool> _deserted;

    /// <param name="secret">Experiment secret.</param>
    /// <param name="keys">This process's message keys (derived at admission).</param>
    /// <param name="localAgents">Agent ids hosted here.</param>
    /// <param name="agents">Their actors.</param>
    /// <param name="log">Node log.</param>
    /// <param name="fatal">Called when this node is refused by its peers.</param>
    /// <param name="removed">Called when the cluster removes this node (e.g. after a long pause); the node may rejoin.</param>
    /// <param name="admitted">Called whenever a peer is admitted.</param>
    /// <param name="admissionGraceMs">How long a node that has seen a proof fail and admitted no one waits for an admission before it stops as not admitted.</param>
    /// <param name="untrusted">Called (with the reason) when a proof fails while this node has admitted no one.</param>
    /// <param name="deserted">Called after every membership change with <see cref="Presence.Deserted"/>: every other process left the cluster on its own.</param>
    public DirectoryActor(string secret, PeerKeys keys, int[] localAgents, IReadOnlyList<IActorRef> agents, Action<string> log, Action<string> fatal, Action<string> removed,
        Action? admitted = null, int admissionGraceMs = 60_000, Action<string>? untrusted = null, Action<bool>? deserted = null)
    {
        _presence = new Presence(_cluster.SelfUniqueAddress);
        _deserted = deserted ?? (_ => { });
        _admissionGrace = TimeSpan.FromMilliseconds(Math.Max(1, admissionGraceMs));
        _untrusted = untrusted ?? (_ => { });
        _removed = removed;
        _onAdmitted = admitted ?? (() => { });
        _secret = secret;
        _keys = keys;
        _local = localAgents;
        _agents = agents;
        _log = log;
        _fatal = fatal;
        Receive<ClusterEvent.MemberJoined>(m => Seen(m.Member));
        Receive<ClusterEvent.MemberUp>(m => { Seen(m.Member); Challenge(m.Member.Address); });
        Receive<ClusterEvent.MemberWeaklyUp>(m => { Seen(m.Member); Challenge(m.Member.Address); });
        Receive<ClusterEvent.ReachableMember>(m => { if (!Replaced(m.Member)) Challenge(m.Member.Address); });
        Receive<ClusterEvent.UnreachableMember>(m => { if (!Replaced(m.Member)) Lost(m.Member.Address, "unreachable"); });
        Receive<ClusterEvent.MemberRemoved>(m =>
        {
            _presence.Removed(m.Member.UniqueAddress, m.PreviousStatus);
            _deserted(_presence.Deserted);
            if (m.Member.UniqueAddress == _cluster.SelfUniqueAddress)
            {
                // removed after taking part: rejoin as a new incarnation (cluster.rejoin); never admitted: refused
                if (_everAdmitted) _removed("this node was removed from the cluster");
                else _fatal("this node was removed from the cluster before admitting any peer: not admitted (wrong experiment secret or config?)");
            }
            else
            {
                if (Replaced(m.Member)) return;   // the new incarnation's keys are already in place
                _incarnations.Remove(m.Member.Address);
                Lost(m.Member.Address, "removed");
                _keys.Forget(m.Member.Address.ToString());   // a process restarted at this address proves itself anew
                _proved.Remove(m.Member.Address);
                _nodeAuth.Remove(m.Member.Address);
            }
        });
        Receive<Challenge>(OnChallenge);
        Receive<Proof>(OnProof);
        Receive<Denied>(OnDenied);
        Receive<LocalAgentFinished>(m =>
        {
            if (!_finished.Add(m.Agent)) return;
            foreach (var a in _admitted.Keys) TellFinished(a, [m.Agent]);
        });
        Receive<Sealed>(OnSealed);
        // node-level news is accepted only inside an authenticated envelope
        Receive<AgentsFinished>(_ => RefusedNodeMessage(Sender.Path.Address, "unsealed"));
        Receive<AdmissionGraceOver>(_ => OnGraceOver());
        Receive<ClusterEvent.IMemberEvent>(_ => { });
        Receive<ClusterEvent.IReachabilityEvent>(_ => { });
    }

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PreStart()
    {
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.IMemberEvent), typeof(ClusterEvent.IReachabilityEvent));
        var up = new PeerUp(_local, Self.Path.Address);
        foreach (var a in _agents) a.Tell(up);
        // downed (e.g. by the honest nodes after a failed admission) without our MemberRemoved event reaching this actor:
        // Akka shuts the node down; the node must still exit with a reason (its own leave is filtered by the node)
        // (a node that took part rejoins as a new incarnation, cluster.rejoin; one nobody admitted is refused)
        var fatal = _fatal;
        var removed = _removed;
        _cluster.RegisterOnMemberRemoved(() =>
        {
            if (Volatile.Read(ref _everAdmitted)) removed("this node was removed from the cluster");
            else fatal("this node was removed from the cluster before admitting any peer: not admitted (wrong experiment secret or config?)");
        });
    }

    protected override void PostStop() => _cluster.Unsubscribe(Self);

    private void Challenge(Address a)
    {
        PublishStatus();
        if (a == _cluster.SelfAddress || _denied.Contains(a)) return;
        var nonce = SecretAuth.NewNonce();
        _nonces[a] = nonce;
        DirectoryOf(a).Tell(new Challenge(nonce), Self);
    }

    private void OnChallenge(Challenge c)
    {
        var from = Sender.Path.Address;
        if (from.HasLocalScope || c.Nonce.Length != 32) return;
        string self = _cluster.SelfAddress.ToString();
        // the challenger's agents will seal their messages to ours with the key of this nonce
        _keys.Answered(self, from.ToString(), c.Nonce);
        if (!_proved.TryGetValue(from, out var list)) _proved[from] = list = new();
        list.Insert(0, c.Nonce);
        if (list.Count > ProofsPerPeer) list.RemoveAt(list.Count - 1);
        Sender.Tell(new Proof(c.Nonce, SecretAuth.Mac(_secret, c.Nonce, self, _local, _keys.Fingerprint), _local, _keys.Fingerprint));
    }

    /// <summary>Tells the directory at <paramref name="a"/> (admitted, so we hold a send key for it) that <paramref name="agents"/> finished for good.</summary>
    private void TellFinished(Address a, int[] agents)
    {
        var key = _keys.SendKey(a.ToString(), local: false);
        if (key is null) return;
        DirectoryOf(a).Tell(MessageAuth.Seal(new AgentsFinished(agents), MessageAuth.Node, MessageAuth.Node, _incarnation, _seq++, 0, key), Self);
    }

    /// <summary>
    /// A sealed node message: accepted if it verifies under a key of the sending process (derived from the nonce of its
    /// challenge that we answered; only a holder of the secret and our config can derive it), names no agent, and is
    /// fresh; whether we have admitted the sender yet does not matter.
    /// </summary>
    private void OnSealed(Sealed m)
    {
        var from = Sender.Path.Address;
        if (from.HasLocalScope) return;
        if (!_nodeAuth.TryGetValue(from, out var auth))
        {
            if (_nodeAuth.Count >= 4096) { RefusedNodeMessage(from, "too many peers"); return; }
            _nodeAuth[from] = auth = new MessageAuth(MessageAuth.Node);
        }
        var verdict = m.From != MessageAuth.Node ? SealVerdict.ForgedSender : auth.Check(m, _keys.ReceiveKeys(from.ToString(), local: false), null);
        if (verdict != SealVerdict.Ok) { RefusedNodeMessage(from, SecurityTally.Kind(verdict)); return; }
        AgentsFinished g;
        try { g = MessageAuth.OpenNode(m); }
        catch (System.Runtime.Serialization.SerializationException e) { RefusedNodeMessage(from, "undecodable: " + e.Message); return; }
        LearnFinished(g.Agents.Take(100_000).ToArray());
    }

    private void RefusedNodeMessage(Address from, string why)
    {
        if (_refusedNodeMessages++ < 5) _log($"refused a node message from {from}: {why.Replace('_', ' ')}");
    }

    /// <summary>A proof failed (or a Denied did not verify) while this node had admitted no one: hold the agents back, start the grace.</summary>
    private void Refusal(string what)
    {
        if (_everAdmitted || _admitted.Count > 0) return;
        if (_refusals.Count == 0) Timers.StartSingleTimer("admission-grace", AdmissionGraceOver.Instance, _admissionGrace);
        if (_refusals.Count < 16) _refusals.Add(what);
        _untrusted(what);
        PublishStatus();
    }

    private void OnGraceOver()
    {
        if (_everAdmitted || _admitted.Count > 0) return;
        _fatal($"not admitted: no peer proved the experiment secret to this node and none admitted it within {_admissionGrace.TotalMilliseconds:F0} ms " +
               $"({string.Join("; ", _refusals)}); check --secret / $PARSE_SECRET and the config (every process must use the same)");
    }

    private void LearnFinished(int[] agents)
    {
        var fresh = agents.Where(a => !_local.Contains(a) && _finished.Add(a)).Distinct().ToArray();
        if (fresh.Length == 0) return;
        var msg = new PeersFinished(fresh);
        foreach (var ag in _agents) ag.Tell(msg);
    }

    private ActorSelection DirectoryOf(Address a) => Context.ActorSelection(new RootActorPath(a) / "user" / "directory");

    private void OnProof(Proof p)
    {
        var a = Sender.Path.Address;
        if (!_nonces.TryGetValue(a, out var nonce) || !nonce.AsSpan().SequenceEqual(p.Nonce)) return;   // not ours or replayed
        _nonces.Remove(a);
        if (!SecretAuth.Verify(_secret, nonce, a.ToString(), p.Agents, p.Fingerprint, p.Mac))
        {
            _log($"peer {a} failed admission (wrong or missing secret); its agents are ignored");
            if (!Deny(a, nonce, "wrong or missing experiment secret"))
            {
                _failedEarly.Add(a);
                Refusal($"the proof of {a} failed under our secret");
            }
            return;
        }
        if (!p.Fingerprint.AsSpan().SequenceEqual(_keys.Fingerprint))
        {
            // the peer holds the secret but runs another experiment: training with it would mislead
            string why = $"peer {a} runs a different experiment config (fingerprint {ConfigFingerprint.Short(p.Fingerprint)}, ours " +
                         $"{ConfigFingerprint.Short(_keys.Fingerprint)}): every process must use the same config file and --set overrides";
            _log("error: " + why);
            bool refused = Deny(a, nonce, "different experiment config: every process must use the same config file and --set overrides");
            // with no agreeing peer admitted this node cannot tell which side is right: it stops too
            if (!refused) _fatal(why);
            return;
        }
        bool fresh = !_admitted.ContainsKey(a);
        bool first = _admitted.Count == 0;
        _admitted[a] = p.Agents;
        _everAdmitted = true;
        Timers.Cancel("admission-grace");
        _keys.Admitted(_cluster.SelfAddress.ToString(), a.ToString(), nonce);
        _onAdmitted();
        if (fresh) _log($"admitted {a} hosting agents {string.Join(',', p.Agents)}");
        if (fresh && _finished.Count > 0) TellFinished(a, _finished.Order().ToArray());
        var up = new PeerUp(p.Agents, a);
        foreach (var ag in _agents) ag.Tell(up);
        PublishStatus();
        // now that this node has an admitted peer it may refuse: challenge again those that failed before
        if (first)
            foreach (var f in _failedEarly.ToList()) { _failedEarly.Remove(f); Challenge(f); }
    }

    /// <summary>Refuses and downs <paramref name="a"/> if this node has admitted a peer; true if it did.</summary>
    private bool Deny(Address a, byte[] nonce, string reason)
    {
        if (_admitted.Count == 0) return false;
        _denied.Add(a);
        Sender.Tell(new Denied(nonce, reason, SecretAuth.DenyMac(_secret, nonce, reason)));
        _cluster.Down(a);
        // a denied member no longer counts as "not admitted yet": without this, agents told "not all admitted" while it
        // was Up (e.g. just after the last honest peer's admission) kept waiting for a quiet discovery until its timeout
        PublishStatus();
        return true;
    }

    /// <summary>Obeys a <see cref="Denied"/> only if it answers one of our own proofs to its sender and verifies under our secret.</summary>
    private void OnDenied(Denied d)
    {
        var from = Sender.Path.Address;
        bool answersOurProof = _proved.TryGetValue(from, out var list) && list.Any(n => n.AsSpan().SequenceEqual(d.Nonce));
        if (answersOurProof && SecretAuth.VerifyDeny(_secret, d))
        {
            _fatal($"not admitted by {from}: {d.Reason}");
            return;
        }
        if (answersOurProof) Refusal($"{from} refused our proof with a Denied that does not verify under our secret");
        if (_ignoredDenials++ < 5)
            _log(answersOurProof
                ? $"ignored a Denied from {from} that does not verify under our secret (it or this node has the wrong secret)"
                : $"ignored a Denied from {from} that answers no proof of ours (spoofed)");
    }

    /// <summary>Tells local agents whether every Up member (other than this node) is admitted.</summary>
    private void PublishStatus()
    {
        var members = _cluster.State.Members.Where(m => m.Status is MemberStatus.Up or MemberStatus.WeaklyUp && m.Address != _cluster.SelfAddress)
            .Select(m => m.Address).Where(a => !_denied.Contains(a)).ToList();
        var status = new AdmissionStatus(members.All(_admitted.ContainsKey), !_everAdmitted && _admitted.Count == 0 && _refusals.Count > 0);
        foreach (var ag in _agents) ag.Tell(status);
    }

    /// <summary>
    /// True if a restarted process (same address, new incarnation) has already taken this member's place. Decided from
    /// the member events this actor has seen, not from <c>Cluster.State</c>: that view is updated by another actor and
    /// can lag behind the events (a new incarnation's MemberUp and the old one's MemberRemoved often come in one batch,
    /// and then the old one's removal must not drop the new one's admission and keys).
    /// </summary>
    private bool Replaced(Member old) => _incarnations.TryGetValue(old.Address, out var current) && current != old.UniqueAddress;

    /// <summary>Remembers the newest incarnation seen at a member's address.</summary>
    private void Seen(Member m)
    {
        _presence.Seen(m.UniqueAddress, m.Status);
        _deserted(_presence.Deserted);
        if (m.Address != _cluster.SelfAddress) _incarnations[m.Address] = m.UniqueAddress;
    }

    private void Lost(Address a, string why)
    {
        _nonces.Remove(a);
        if (!_admitted.Remove(a, out var agents)) return;
        _log($"peer {a} {why}; dropping agents {string.Join(',', agents)} from mixing");
        var down = new PeerDown(agents, why);
        foreach (var ag in _agents) ag.Tell(down);
    }
}
