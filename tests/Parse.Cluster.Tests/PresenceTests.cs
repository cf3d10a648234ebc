using Akka.Actor;
using Akka.Cluster;
using Parse.Cluster.Runtime;

namespace Parse.Cluster.Tests;

/// <summary>
/// When a node whose agents are done may stop lingering (<see cref="Presence"/>): only once every other process has left
/// the cluster on its own. Trial 17 of the issue-10 campaign: a paused process rejoined while the others were leaving and
/// lingered the full 240 s, because nobody was left to tell it that its neighbours had finished.
/// </summary>
public sealed class PresenceTests
{
    private static Address A(int port) => new("akka.tcp", "parse", "127.0.0.1", port);
    private static UniqueAddress U(int port, int uid) => new(A(port), uid);
    private static readonly UniqueAddress Self = U(5002, 7);

    [Fact]
    public void A_rejoined_node_is_deserted_once_the_others_have_left_on_their_own()
    {
        var p = new Presence(Self);
        // before this node has joined it is never deserted
        Assert.False(p.Deserted);
        // its own old incarnation, removed after it was downed, is not another process
        p.Seen(U(5002, 1), MemberStatus.Up);
        p.Removed(U(5002, 1), MemberStatus.Down);
        p.Seen(U(5000, 1), MemberStatus.Up);
        p.Seen(U(5001, 1), MemberStatus.Up);
        p.Seen(Self, MemberStatus.WeaklyUp);
        Assert.False(p.Deserted);
        p.Removed(U(5000, 1), MemberStatus.Exiting);
        Assert.False(p.Deserted);
        p.Removed(U(5001, 1), MemberStatus.Exiting);
        Assert.True(p.Deserted);
        // somebody new arrives: not deserted any more
        p.Seen(U(5003, 1), MemberStatus.Joining);
        Assert.False(p.Deserted);
    }

    [Fact]
    public void A_node_is_not_deserted_while_a_downed_process_may_still_come_back()
    {
        var p = new Presence(Self);
        p.Seen(Self, MemberStatus.Up);
        p.Seen(U(5000, 1), MemberStatus.Up);
        p.Seen(U(5001, 1), MemberStatus.Up);
        p.Removed(U(5000, 1), MemberStatus.Exiting);
        // 5001 crashed and was downed: its restart will need this node (it lingers for it)
        p.Removed(U(5001, 1), MemberStatus.Down);
        Assert.False(p.Deserted);
        // it restarted (a new incarnation at the same address), finished and left: now nobody can come back
        p.Seen(U(5001, 2), MemberStatus.Up);
        p.Removed(U(5001, 2), MemberStatus.Exiting);
        Assert.True(p.Deserted);
    }

    [Fact]
    public void The_old_incarnation_of_a_restarted_process_removed_after_its_restart_is_not_a_lost_process()
    {
        var p = new Presence(Self);
        p.Seen(Self, MemberStatus.Up);
        p.Seen(U(5000, 1), MemberStatus.Up);
        // the restart's MemberUp often comes before the old incarnation's removal
        p.Seen(U(5000, 2), MemberStatus.Up);
        p.Removed(U(5000, 1), MemberStatus.Down);
        Assert.False(p.Deserted);
        p.Removed(U(5000, 2), MemberStatus.Exiting);
        Assert.True(p.Deserted);
    }
}
