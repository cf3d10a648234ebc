using Akka.Actor;
using Akka.Cluster;

namespace Parse.Cluster.Runtime;

/// <summary>
/// Which other processes are in the cluster, as the member events tell one directory, and whether this node has been
/// left alone for good: every other process it saw has left the cluster on its own (a normal end of run), none was
/// downed (a crashed or cut-off process may still come back and need this node), and none is present now.
/// </summary>
/// <remarks>
/// A node whose agents have all finished lingers until their neighbours have finished too, so that restarted
/// neighbours can rejoin. A node that comes back (a paused process rejoining as a new incarnation) while the others
/// are leaving may never hear that its neighbours finished: nobody is left to say so, and before this rule it lingered
/// the full <c>cluster.linger_ms</c> (trial 17 of the issue-10 campaign). When it is deserted nobody can tell it
/// anything any more, so waiting longer is useless.
/// </remarks>
public sealed class Presence
{
    private readonly UniqueAddress _self;
    private bool _joined;
    private readonly HashSet<UniqueAddress> _present = new();
    // addresses whose last incarnation was downed and removed (until a new incarnation shows up there)
    private readonly HashSet<Address> _downed = new();

    /// <param name="self">This incarnation (its own address, old incarnations included, is not "another process").</param>
    public Presence(UniqueAddress self) => _self = self;

    /// <summary>A member (<paramref name="who"/>, now <paramref name="status"/>) joined or came up.</summary>
    public void Seen(UniqueAddress who, MemberStatus status)
    {
        if (who == _self && status is MemberStatus.Up or MemberStatus.WeaklyUp) _joined = true;
        if (who.Address == _self.Address) return;
        _present.Add(who);
        _downed.Remove(who.Address);
    }

    /// <summary>A member (<paramref name="who"/>) was removed; <paramref name="previous"/> is its status before (Exiting = it left, Down = it was downed).</summary>
    public void Removed(UniqueAddress who, MemberStatus previous)
    {
        if (who.Address == _self.Address) return;
        _present.Remove(who);
        // a removed old incarnation of a process that has already restarted at that address is not a lost process
        bool replaced = _present.Any(u => u.Address == who.Address);
        if (previous == MemberStatus.Down && !replaced) _downed.Add(who.Address);
    }

    /// <summary>
    /// True once this node has joined, no other process is in the cluster, and every one it saw left on its own (none was
    /// downed). Before joining it is never deserted: the members it is about to meet are not known yet.
    /// </summary>
    public bool Deserted => _joined && _present.Count == 0 && _downed.Count == 0;
}
