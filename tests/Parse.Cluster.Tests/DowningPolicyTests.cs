using Akka.Actor;
using Parse.Cluster.Runtime;

namespace Parse.Cluster.Tests;

/// <summary>
/// The downing rule (<see cref="DowningPolicy"/>) on the membership pictures of the issue-10 campaign: a crash with a
/// slow observer (trial 36), a stalled node, a clean partition, two processes.
/// </summary>
public sealed class DowningPolicyTests
{
    private static readonly TimeSpan DownAfter = TimeSpan.FromSeconds(16);
    private static Address A(int port) => new("akka.tcp", "parse", "127.0.0.1", port);
    private static readonly Address P0 = A(5000), P1 = A(5001), P2 = A(5002);

    private static PeerView Peer(Address a, bool unreachable = false, bool unheard = false, bool seen = false, bool voter = true) =>
        new(a, voter, unreachable, unheard, seen);

    private static Func<Address, TimeSpan?> For(TimeSpan t) => _ => t;

    [Fact]
    public void A_crashed_process_is_downed_by_the_majority_leader_after_down_after_and_not_before()
    {
        PeerView[] peers = [Peer(P0, unreachable: true, unheard: true), Peer(P2)];
        Assert.Equal([P0], DowningPolicy.ToDown(P1, true, leader: true, peers, For(DownAfter), DownAfter));
        Assert.Empty(DowningPolicy.ToDown(P1, true, leader: true, peers, For(DownAfter - TimeSpan.FromSeconds(1)), DownAfter));
        // only the leader acts
        Assert.Empty(DowningPolicy.ToDown(P1, true, leader: false, peers, For(DownAfter), DownAfter));
    }

    [Fact]
    public void Trial_36_a_slow_observer_suspecting_a_healthy_process_after_a_crash_downs_nobody_healthy()
    {
        // process 0 crashed; process 1, slow under load, hears neither 0 nor 2; 2 is healthy and hears 1.
        // In the cluster's view both 0 and 2 are unreachable; Akka's split-brain resolver called 2 "indirectly
        // connected" (it observes 0 and is observed by 1) and downed it with 0.
        var longAgo = For(TimeSpan.FromMinutes(5));
        // seen from 1 (the slow one): it hears no one, so it is in the minority and downs nobody, whatever it is told
        PeerView[] from1 = [Peer(P0, unreachable: true, unheard: true), Peer(P2, unreachable: true, unheard: true)];
        Assert.False(DowningPolicy.OnMajoritySide(P1, true, from1));
        Assert.Empty(DowningPolicy.ToDown(P1, true, leader: true, from1, longAgo, DownAfter));
        // seen from 2: 1 answers 2's heartbeats, only 0 is unheard: 2 may down 0 and nothing else
        PeerView[] from2 = [Peer(P0, unreachable: true, unheard: true), Peer(P1)];
        Assert.Equal([P0], DowningPolicy.ToDown(P2, true, leader: true, from2, longAgo, DownAfter));
        // seen from a leader that hears 2 although the cluster's view says 2 is unreachable (1's suspicion): 2 is spared
        PeerView[] from0 = [Peer(P1), Peer(P2, unreachable: true, unheard: false)];
        Assert.Empty(DowningPolicy.ToDown(P0, true, leader: true, from0, longAgo, DownAfter));
        // and a suspected member that has seen the current gossip is alive (it talks through someone): spared too
        PeerView[] seen = [Peer(P0, unreachable: true, unheard: true), Peer(P2, unreachable: true, unheard: true, seen: true), Peer(A(5003)), Peer(A(5004))];
        Assert.Equal([P0], DowningPolicy.ToDown(P1, true, leader: true, seen, longAgo, DownAfter));
    }

    [Fact]
    public void A_clean_partition_is_decided_by_the_majority_and_a_tie_by_the_lowest_address()
    {
        var longAgo = For(TimeSpan.FromMinutes(5));
        Address p3 = A(5003), p4 = A(5004);
        // {0, 1, 2} | {3, 4}: the majority downs 3 and 4, the minority downs nobody
        Assert.Equal([p3, p4], DowningPolicy.ToDown(P0, true, true, [Peer(P1), Peer(P2), Peer(p3, true, true), Peer(p4, true, true)], longAgo, DownAfter));
        Assert.Empty(DowningPolicy.ToDown(p3, true, true, [Peer(P0, true, true), Peer(P1, true, true), Peer(P2, true, true), Peer(p4)], longAgo, DownAfter));
        // two processes: the side with the lower address keeps going, the other downs nobody (it does not down itself either)
        Assert.Equal([P1], DowningPolicy.ToDown(P0, true, true, [Peer(P1, true, true)], longAgo, DownAfter));
        Assert.Empty(DowningPolicy.ToDown(P1, true, true, [Peer(P0, true, true)], longAgo, DownAfter));
        // joining members do not vote: a node that is not Up yet downs nobody
        Assert.Empty(DowningPolicy.ToDown(P0, false, true, [Peer(P1, true, true)], longAgo, DownAfter));
        Assert.True(DowningPolicy.OnMajoritySide(P1, true, [Peer(P0, true, true, voter: false), Peer(P2)]));
    }

    [Fact]
    public void The_down_after_default_is_twice_the_detection_pause_and_at_least_ten_seconds()
    {
        Assert.Equal(10_000, AkkaConfig.DownAfterMs(new Parse.Config.ClusterConfig { FailureDetectionMs = 2000 }));
        Assert.Equal(16_000, AkkaConfig.DownAfterMs(new Parse.Config.ClusterConfig { FailureDetectionMs = 8000 }));
        Assert.Equal(3_000, AkkaConfig.DownAfterMs(new Parse.Config.ClusterConfig { DownAfterMs = 3000 }));
        var hocon = AkkaConfig.Hocon(new NodeOptions { ConfigPath = "x", Agents = [0], Port = 1, SeedNodes = ["127.0.0.1:1"], OutDir = "o", Secret = "s" },
            new Parse.Config.ClusterConfig { FailureDetectionMs = 8000 });
        Assert.Contains("ConservativeDowningProvider", hocon);
        Assert.Contains("down-after = 16000ms", hocon);
        Assert.DoesNotContain("split-brain-resolver", hocon);
    }
}
