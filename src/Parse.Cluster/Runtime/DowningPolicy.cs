using Akka.Actor;
using Akka.Cluster;

namespace Parse.Cluster.Runtime;

/// <summary>What one node knows about another member when it considers downing it.</summary>
/// <param name="Address">The member's address.</param>
/// <param name="Voter">Up or Leaving (counts for the majority; Joining, WeaklyUp, Down and Exiting members do not).</param>
/// <param name="Unreachable">Unreachable in the cluster's view (some member's failure detector suspects it).</param>
/// <param name="LocallyUnavailable">This node's own failure detector does not hear it either (for a member this node does not monitor: <paramref name="Unreachable"/>).</param>
/// <param name="SeenCurrentGossip">It has seen the current gossip version: it is alive and talks to someone, so a suspicion of it is a slow or broken link, not a crash.</param>
public readonly record struct PeerView(Address Address, bool Voter, bool Unreachable, bool LocallyUnavailable, bool SeenCurrentGossip);

/// <summary>
/// The downing rule of <see cref="ConservativeDowning"/>, as a pure function. A member is downed only when (1) this node is
/// the leader in its own view, (2) this node is on the majority side as its own failure detector sees it (more than half
/// of the Up/Leaving members, itself included, answer its heartbeats; on a tie, the side with the lowest address), (3) the
/// member is unreachable in the cluster's view AND this node does not hear it either, and has been so without a break
/// for <c>down-after</c>, and (4) it has not seen the current gossip.
/// </summary>
/// <remarks>
/// Akka's split-brain resolver downs "indirectly connected" members: any member that is both an observer and a subject
/// of unreachability. After a crash every healthy member observes the crashed one, so a single slow observer that
/// suspects a healthy member for a moment (a loaded machine, a long GC) turns that healthy member into "indirectly
/// connected", and it is downed with the crashed one (trial 36 of the issue-10 campaign). Here one observer's
/// suspicion is never enough: the deciding node must not hear the member itself, a stalled node (which hears no one)
/// finds itself in the minority and downs nobody, and a member that still takes part in gossip is spared.
/// </remarks>
public static class DowningPolicy
{
    /// <summary>True if this node, with the peers it hears, holds a majority of the voters (a tie goes to the side with the lowest address).</summary>
    public static bool OnMajoritySide(Address self, bool selfVoter, IReadOnlyCollection<PeerView> peers)
    {
        var voters = peers.Where(p => p.Voter).Select(p => (p.Address, With: !p.LocallyUnavailable)).ToList();
        if (selfVoter) voters.Add((self, true));
        if (voters.Count == 0) return false;
        int with = voters.Count(v => v.With);
        if (2 * with != voters.Count) return 2 * with > voters.Count;
        return voters.OrderBy(v => v.Address, Member.AddressOrdering).First().With;
    }

    /// <summary>True if <paramref name="p"/> is a candidate for downing right now (its suspicion clock runs).</summary>
    public static bool Suspected(PeerView p) => p.Unreachable && p.LocallyUnavailable && !p.SeenCurrentGossip;

    /// <summary>The members to down now.</summary>
    /// <param name="self">This node's address.</param>
    /// <param name="selfVoter">This node is Up or Leaving.</param>
    /// <param name="leader">This node is the leader in its own view.</param>
    /// <param name="peers">Every other member that is not already Down or Exiting.</param>
    /// <param name="suspectedFor">How long each peer has been <see cref="Suspected"/> without a break (missing = not suspected).</param>
    /// <param name="downAfter">How long a suspicion must last.</param>
    public static IReadOnlyList<Address> ToDown(Address self, bool selfVoter, bool leader, IReadOnlyCollection<PeerView> peers,
        Func<Address, TimeSpan?> suspectedFor, TimeSpan downAfter)
    {
        if (!leader || !OnMajoritySide(self, selfVoter, peers)) return [];
        return peers.Where(p => Suspected(p) && suspectedFor(p.Address) is { } t && t >= downAfter).Select(p => p.Address).ToList();
    }
}
