using Akka.Actor;
using Akka.Cluster;
using Parse.Cluster.Protocol;

namespace Parse.Cluster.Runtime;

/// <summary>
/// One per process (<c>/user/directory</c>). Membership and failure detection come from Akka Cluster; this actor
/// adds admission: every other member must answer a fresh challenge with an HMAC under the experiment secret
/// before its agents are announced to the local agents (<see cref="PeerUp"/>). Unreachable or removed members are
/// announced as <see cref="PeerDown"/>; a member that becomes reachable again is challenged again.
/// A member whose proof fails is sent <see cref="Denied"/> and downed, but only by a node that has itself
/// admitted at least one peer (so a node without the secret cannot down honest members this way).
/// The directories also share which agents have finished for good (<see cref="AgentsFinished"/>), so that an agent
/// restarted late learns that its neighbours are done even if their processes have already left.
/// </summary>
public sealed class DirectoryActor : ReceiveActor
{
    private readonly string _secret;
    private readonly int[] _local;
    private readonly IReadOnlyList<IActorRef> _agents;
    private readonly Action<string> _log;
    private readonly Action<string> _fatal;
    private readonly Action<string> _removed;
    private readonly HashSet<int> _finished = new();
    private bool _everAdmitted;
    private readonly Action _onAdmitted;
    private readonly Dictionary<Address, int[]> _finishedUnverified = new();
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private readonly Dictionary<Address, byte[]> _nonces = new();
    private readonly Dictionary<Address, int[]> _admitted = new();
    private readonly HashSet<Address> _denied = new();

    /// <param name="secret">Experiment secret.</param>
    /// <param name="localAgents">Agent ids hosted here.</param>
    /// <param name="agents">Their actors.</param>
    /// <param name="log">Node log.</param>
    /// <param name="fatal">Called when this node is refused by its peers.</param>
    /// <param name="removed">Called when the cluster removes this node (e.g. after a long pause); the node may rejoin.</param>
    /// <param name="admitted">Called whenever a peer is admitted.</param>
    public DirectoryActor(string secret, int[] localAgents, IReadOnlyList<IActorRef> agents, Action<string> log, Action<string> fatal, Action<string> removed,
        Action? admitted = null)
    {
        _removed = removed;
        _onAdmitted = admitted ?? (() => { });
        _secret = secret;
        _local = localAgents;
        _agents = agents;
        _log = log;
        _fatal = fatal;
        Receive<ClusterEvent.MemberUp>(m => Challenge(m.Member.Address));
        Receive<ClusterEvent.MemberWeaklyUp>(m => Challenge(m.Member.Address));
        Receive<ClusterEvent.ReachableMember>(m => Challenge(m.Member.Address));
        Receive<ClusterEvent.UnreachableMember>(m => { if (!Replaced(m.Member)) Lost(m.Member.Address, "unreachable"); });
        Receive<ClusterEvent.MemberRemoved>(m =>
        {
            // only a node that took part (admitted a peer) rejoins; one nobody admitted (e.g. a wrong secret) stays out
            if (m.Member.UniqueAddress == _cluster.SelfUniqueAddress)
                (_everAdmitted ? _removed : _fatal)("this node was removed from the cluster");
            else if (!Replaced(m.Member)) Lost(m.Member.Address, "removed");
        });
        Receive<Challenge>(c => Sender.Tell(new Proof(c.Nonce, SecretAuth.Mac(_secret, c.Nonce, _cluster.SelfAddress.ToString(), _local), _local)));
        Receive<Proof>(OnProof);
        Receive<Denied>(d => _fatal($"not admitted by {Sender.Path.Address}: {d.Reason}"));
        Receive<LocalAgentFinished>(m =>
        {
            if (!_finished.Add(m.Agent)) return;
            foreach (var a in _admitted.Keys) DirectoryOf(a).Tell(new AgentsFinished([m.Agent]), Self);
        });
        Receive<AgentsFinished>(m =>
        {
            // only admitted members speak for the cluster; news from a member not admitted yet waits for its proof (bounded)
            var from = Sender.Path.Address;
            if (_admitted.ContainsKey(from)) LearnFinished(m.Agents);
            else if (_finishedUnverified.Count < 64 || _finishedUnverified.ContainsKey(from))
                _finishedUnverified[from] = [.. _finishedUnverified.GetValueOrDefault(from, []), .. m.Agents.Take(100_000)];
        });
        Receive<ClusterEvent.IMemberEvent>(_ => { });
        Receive<ClusterEvent.IReachabilityEvent>(_ => { });
    }

    protected override void PreStart()
    {
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.IMemberEvent), typeof(ClusterEvent.IReachabilityEvent));
        var up = new PeerUp(_local, Self.Path.Address);
        foreach (var a in _agents) a.Tell(up);
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
        if (!SecretAuth.Verify(_secret, nonce, a.ToString(), p.Agents, p.Mac))
        {
            _log($"peer {a} failed admission (wrong or missing secret); its agents are ignored");
            if (_admitted.Count > 0)
            {
                _denied.Add(a);
                Sender.Tell(new Denied("wrong or missing experiment secret"));
                _cluster.Down(a);
            }
            return;
        }
        bool fresh = !_admitted.ContainsKey(a);
        _admitted[a] = p.Agents;
        _everAdmitted = true;
        _onAdmitted();
        if (fresh) _log($"admitted {a} hosting agents {string.Join(',', p.Agents)}");
        if (fresh && _finished.Count > 0) Sender.Tell(new AgentsFinished(_finished.Order().ToArray()), Self);
        if (_finishedUnverified.Remove(a, out var told)) LearnFinished(told);
        var up = new PeerUp(p.Agents, a);
        foreach (var ag in _agents) ag.Tell(up);
        PublishStatus();
    }

    /// <summary>Tells local agents whether every Up member (other than this node) is admitted.</summary>
    private void PublishStatus()
    {
        var members = _cluster.State.Members.Where(m => m.Status is MemberStatus.Up or MemberStatus.WeaklyUp && m.Address != _cluster.SelfAddress)
            .Select(m => m.Address).Where(a => !_denied.Contains(a)).ToList();
        var status = new AdmissionStatus(members.All(_admitted.ContainsKey));
        foreach (var ag in _agents) ag.Tell(status);
    }

    /// <summary>True if a restarted process (same address, new incarnation) has already taken this member's place.</summary>
    private bool Replaced(Member old) =>
        _cluster.State.Members.Any(x => x.Address == old.Address && x.UniqueAddress != old.UniqueAddress && x.Status != MemberStatus.Removed);

    private void Lost(Address a, string why)
    {
        _nonces.Remove(a);
        _finishedUnverified.Remove(a);
        if (!_admitted.Remove(a, out var agents)) return;
        _log($"peer {a} {why}; dropping agents {string.Join(',', agents)} from mixing");
        var down = new PeerDown(agents, why);
        foreach (var ag in _agents) ag.Tell(down);
    }
}
