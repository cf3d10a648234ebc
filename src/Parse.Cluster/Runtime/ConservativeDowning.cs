using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Akka.Remote;

namespace Parse.Cluster.Runtime;

/// <summary>
/// The cluster's downing provider (<c>akka.cluster.downing-provider-class</c>), used instead of Akka's split-brain
/// resolver: it starts one <see cref="ConservativeDowning"/> actor per node. Its setting is
/// <c>parse-downing.down-after</c> (from <c>cluster.down_after_ms</c>, see <see cref="AkkaConfig.DownAfterMs"/>).
/// </summary>
public sealed class ConservativeDowningProvider : IDowningProvider
{
    private readonly TimeSpan _downAfter;
    private readonly Akka.Cluster.Cluster _cluster;

    /// <summary>Called by Akka with the actor system and its cluster extension.</summary>
    public ConservativeDowningProvider(ActorSystem system, Akka.Cluster.Cluster cluster)
    {
        _cluster = cluster;
        _downAfter = system.Settings.Config.GetTimeSpan("parse-downing.down-after", TimeSpan.FromSeconds(20), allowInfinite: false);
    }

    /// <inheritdoc />
    public TimeSpan DownRemovalMargin => TimeSpan.Zero;

    /// <inheritdoc />
    public Props DowningActorProps => Props.Create(() => new ConservativeDowning(_cluster, _downAfter));
}

/// <summary>
/// Downs members that have crashed or stayed cut off, and never one that only some observer suspects: every half
/// second it applies <see cref="DowningPolicy"/> to the cluster's view and this node's own failure detector. A process
/// restarted on the same address needs no downing from here: Akka downs its old incarnation when the new one joins.
/// </summary>
public sealed class ConservativeDowning : ReceiveActor, IWithTimers
{
    private sealed class Tick
    {
        public static readonly Tick Instance = new();
    }

    private readonly Akka.Cluster.Cluster _cluster;
    private readonly TimeSpan _downAfter;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    // since when each incarnation has been suspected without a break
    private readonly Dictionary<UniqueAddress, DateTime> _since = new();

    /// <param name="cluster">This node's cluster extension.</param>
    /// <param name="downAfter">How long a member must stay suspected before it is downed.</param>
    public ConservativeDowning(Akka.Cluster.Cluster cluster, TimeSpan downAfter)
    {
        _cluster = cluster;
        _downAfter = downAfter;
        Receive<Tick>(_ => OnTick());
        Receive<ThisActorSystemQuarantinedEvent>(OnQuarantined);
    }

    /// <summary>
    /// Another member has quarantined this node (it was downed and removed while this node could not hear it, e.g. while
    /// paused): no further association with it is possible, so this incarnation is over. It downs itself, and the node
    /// rejoins as a new incarnation (<c>cluster.rejoin</c>) instead of running on alone with every peer unreachable.
    /// </summary>
    private void OnQuarantined(ThisActorSystemQuarantinedEvent e)
    {
        // only a member's verdict counts (a process that is not in our view of the cluster cannot end this incarnation)
        if (_quarantined || !_cluster.State.Members.Any(m => m.Address == e.RemoteAddress)) return;
        _quarantined = true;
        _log.Warning("{0} has quarantined this node (it was removed from the cluster); downing this incarnation so that the node rejoins", e.RemoteAddress);
        _cluster.Down(_cluster.SelfAddress);
    }

    private bool _quarantined;

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    /// <inheritdoc />
    protected override void PreStart()
    {
        Context.System.EventStream.Subscribe(Self, typeof(ThisActorSystemQuarantinedEvent));
        Timers.StartPeriodicTimer("tick", Tick.Instance, TimeSpan.FromMilliseconds(500));
    }

    /// <inheritdoc />
    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);

    private void OnTick()
    {
        var state = _cluster.State;
        var self = _cluster.SelfAddress;
        var detector = _cluster.FailureDetector;
        var now = DateTime.UtcNow;
        var unreachable = state.Unreachable.Select(m => m.UniqueAddress).ToHashSet();
        var others = state.Members.Where(m => m.Address != self && m.Status is not (MemberStatus.Down or MemberStatus.Exiting or MemberStatus.Removed)).ToList();
        var views = new List<PeerView>();
        var byAddress = new Dictionary<Address, Member>();
        foreach (var m in others)
        {
            bool isUnreachable = unreachable.Contains(m.UniqueAddress);
            bool locallyUnavailable = detector.IsMonitoring(m.Address) ? !detector.IsAvailable(m.Address) : isUnreachable;
            var view = new PeerView(m.Address, m.Status is MemberStatus.Up or MemberStatus.Leaving, isUnreachable, locallyUnavailable, state.SeenBy.Contains(m.Address));
            views.Add(view);
            byAddress[m.Address] = m;
            if (DowningPolicy.Suspected(view)) _since.TryAdd(m.UniqueAddress, now);
            else _since.Remove(m.UniqueAddress);
        }
        foreach (var gone in _since.Keys.Where(u => !others.Any(m => m.UniqueAddress == u)).ToList()) _since.Remove(gone);

        var selfMember = _cluster.SelfMember;
        bool selfVoter = selfMember.Status is MemberStatus.Up or MemberStatus.Leaving;
        TimeSpan? SuspectedFor(Address a) =>
            byAddress.TryGetValue(a, out var m) && _since.TryGetValue(m.UniqueAddress, out var t) ? now - t : null;
        foreach (var a in DowningPolicy.ToDown(self, selfVoter, state.Leader == self, views, SuspectedFor, _downAfter))
        {
            // Down(address) acts on the member at that address: never while a new incarnation shares it
            if (state.Members.Count(m => m.Address == a) != 1) continue;
            _log.Warning("downing {0}: unreachable and not heard by this node for {1:F0} s (cluster.down_after_ms)", a, SuspectedFor(a)?.TotalSeconds ?? 0);
            _cluster.Down(a);
            _since.Remove(byAddress[a].UniqueAddress);
        }
    }
}
