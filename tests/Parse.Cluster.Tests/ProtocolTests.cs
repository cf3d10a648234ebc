using Akka.Actor;
using Parse.Cluster.Discovery;
using Parse.Cluster.Protocol;
using Parse.Federation.Overlays;
using Parse.Federation.Topology;

namespace Parse.Cluster.Tests;

public class ProtocolTests
{
    [Fact]
    public void Wire_messages_round_trip_through_the_binary_serializer_and_malformed_frames_fail()
    {
        using var system = ActorSystem.Create("ser");
        var ser = new MessageSerializer((ExtendedActorSystem)system);
        IWireMessage[] msgs =
        [
            new Challenge([1, 2, 3]), new Proof([1], [9, 9], [0, 4], [7, 7]), new Denied([1, 2], "no", [3]),
            new Sealed(1, 2, -5, 9, 3, "X", [1, 2, 3], [4, 5]),
            new KeyHello(1, 2, ["a|1x2", "b"], true), new FloodState(3, 4, "k", 1, [5, 6], true),
            new PayloadChunk(1, 2, 77, 0, 1, [8, 8, 8]), new Finished(5, 6),
            new JoinRequest(7, 8, 12, ["a|1x2", "b"]), new JoinChunk(8, 7, 5, 0, 2, 13, 3, [1, 2]),
        ];
        foreach (var m in msgs)
        {
            var back = ser.FromBinary(ser.ToBinary(m), ser.Manifest(m));
            Assert.Equal(System.Text.Json.JsonSerializer.Serialize(m, m.GetType()), System.Text.Json.JsonSerializer.Serialize(back, back.GetType()));
        }
        var bytes = ser.ToBinary(new KeyHello(1, 2, ["a"], false));
        Assert.Throws<System.Runtime.Serialization.SerializationException>(() => ser.FromBinary(bytes[..^2], "K"));
        Assert.Throws<System.Runtime.Serialization.SerializationException>(() => ser.FromBinary([255, 255, 255, 127], "X"));
    }

    [Fact]
    public void Admission_mac_depends_on_secret_nonce_address_and_agents()
    {
        var n = SecretAuth.NewNonce();
        byte[] fp = [1, 2, 3], otherFp = [1, 2, 4];
        var mac = SecretAuth.Mac("s3cret", n, "akka.tcp://parse@127.0.0.1:1", [2, 1], fp);
        Assert.True(SecretAuth.Verify("s3cret", n, "akka.tcp://parse@127.0.0.1:1", [1, 2], fp, mac));
        Assert.False(SecretAuth.Verify("other", n, "akka.tcp://parse@127.0.0.1:1", [1, 2], fp, mac));
        Assert.False(SecretAuth.Verify("s3cret", SecretAuth.NewNonce(), "akka.tcp://parse@127.0.0.1:1", [1, 2], fp, mac));
        Assert.False(SecretAuth.Verify("s3cret", n, "akka.tcp://parse@127.0.0.1:2", [1, 2], fp, mac));
        Assert.False(SecretAuth.Verify("s3cret", n, "akka.tcp://parse@127.0.0.1:1", [1, 3], fp, mac));
        Assert.False(SecretAuth.Verify("s3cret", n, "akka.tcp://parse@127.0.0.1:1", [1, 2], otherFp, mac));
        // a Denied verifies only under the same secret, nonce and reason
        var deny = new Denied(n, "no", SecretAuth.DenyMac("s3cret", n, "no"));
        Assert.True(SecretAuth.VerifyDeny("s3cret", deny));
        Assert.False(SecretAuth.VerifyDeny("other", deny));
        Assert.False(SecretAuth.VerifyDeny("s3cret", deny with { Reason = "stop" }));
    }

    /// <summary>Runs the message-driven discovery to quiescence with random delivery order and compares with OverlayBuilder.</summary>
    [Theory]
    [InlineData(12, "ring", 1)]
    [InlineData(15, "ring", 2)]
    [InlineData(16, "chordal", 3)]
    public void Message_driven_discovery_builds_the_same_overlays_as_OverlayBuilder(int n, string kind, int seed)
    {
        var rng = new Random(seed);
        var g = kind == "ring" ? TopologyFactory.Ring(n) : TopologyFactory.ChordalRing(n, 5);
        // random key ownership: each agent holds each of three keys with probability 0.35 (key "all" is everywhere)
        var keys = new[] { "x", "y", "z" };
        var own = Enumerable.Range(0, n).Select(_ => keys.Where(_ => rng.NextDouble() < 0.35).Append("all").ToArray()).ToArray();
        var agents = Enumerable.Range(0, n).Select(i => new OverlayDiscovery(i, own[i], g.Neighbours(i), repair: true)).ToArray();
        var queue = new List<Action>();
        void Post(int from, IReadOnlyList<(int To, string Key, int Comp, int[] Holders, bool Settled)> outbox)
        {
            foreach (var m in outbox) queue.Add(() => Post(m.To, agents[m.To].OnFlood(from, m.Key, m.Comp, m.Holders, m.Settled)));
        }
        for (int i = 0; i < n; i++)
            foreach (int j in g.Neighbours(i))
            {
                int a = i, b = j;
                queue.Add(() => Post(b, agents[b].OnNeighbourKeys(a, own[a])));
            }
        int steps = 0;
        while (queue.Count > 0 && steps++ < 1_000_000)
        {
            int k = rng.Next(queue.Count);
            var act = queue[k];
            queue.RemoveAt(k);
            act();
        }
        Assert.Empty(queue);
        Assert.All(agents, a => Assert.True(a.Settled));
        foreach (var key in keys.Append("all"))
        {
            var holders = Enumerable.Range(0, n).Where(i => own[i].Contains(key)).ToHashSet();
            var expected = OverlayBuilder.Build(key, g, holders, repair: true).Overlay;
            foreach (int i in holders)
                Assert.Equal(expected.Neighbours(i).Order(), agents[i].OverlayNeighbours(key));
            Assert.True(holders.Count == 0 || expected.IsConnected);
        }
    }

    /// <summary>
    /// Lying discovery peers (attack.discovery): they announce keys their type does not hold and send repair reports
    /// naming each other as holders. Without a policy the lies add links; with the config's expected overlays as the
    /// policy, every honest agent ends with exactly the overlays OverlayBuilder gives and counts the lies it refused.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Lying_discovery_peers_add_links_only_without_the_config_policy(bool checkAgainstConfig)
    {
        const int n = 18;
        var g = TopologyFactory.ChordalRing(n, 5);
        var rng = new Random(7);
        var keys = new[] { "x", "y", "z" };
        var own = Enumerable.Range(0, n).Select(_ => keys.Where(_ => rng.NextDouble() < 0.4).Append("all").ToArray()).ToArray();
        var liars = new HashSet<int> { 2, 9, 14 };
        var holdersOf = keys.Append("all").ToDictionary(k => k, k => (IReadOnlySet<int>)Enumerable.Range(0, n).Where(i => own[i].Contains(k)).ToHashSet());
        var expected = holdersOf.ToDictionary(kv => kv.Key, kv => OverlayBuilder.Build(kv.Key, g, kv.Value, repair: true).Overlay);
        var policy = new DiscoveryPolicy(
            j => j >= 0 && j < n ? own[j].ToHashSet() : null,
            (k, a) => expected.TryGetValue(k, out var o) && o.Members.Contains(a) ? o.Neighbours(a) : []);
        var agents = Enumerable.Range(0, n).Select(i => new OverlayDiscovery(i, own[i], g.Neighbours(i), repair: true, checkAgainstConfig ? policy : null)).ToArray();
        var queue = new List<Action>();
        void Post(int from, IReadOnlyList<(int To, string Key, int Comp, int[] Holders, bool Settled)> outbox)
        {
            foreach (var m in outbox) queue.Add(() => Post(m.To, agents[m.To].OnFlood(from, m.Key, m.Comp, m.Holders, m.Settled)));
        }
        for (int i = 0; i < n; i++)
            foreach (int j in g.Neighbours(i))
            {
                int a = i, b = j;
                if (!liars.Contains(a)) { queue.Add(() => Post(b, agents[b].OnNeighbourKeys(a, own[a]))); continue; }
                // a liar announces every key of the experiment and claims, for each key it lacks, a chain of its fellow liars
                queue.Add(() => Post(b, agents[b].OnNeighbourKeys(a, keys.Append("all"))));
                foreach (var k in keys.Where(k => !own[a].Contains(k)))
                    queue.Add(() => Post(b, agents[b].OnFlood(a, k, 0, liars.Where(l => l != a).Append(b).Order().ToArray(), true)));
            }
        while (queue.Count > 0)
        {
            int k = rng.Next(queue.Count);
            var act = queue[k];
            queue.RemoveAt(k);
            act();
        }
        int wrong = 0;
        foreach (var (key, holders) in holdersOf)
            foreach (int i in holders.Where(i => !liars.Contains(i)))
                if (!expected[key].Neighbours(i).Order().SequenceEqual(agents[i].OverlayNeighbours(key))) wrong++;
        int refused = agents.Where((_, i) => !liars.Contains(i)).Sum(a => a.LiesRefused);
        if (checkAgainstConfig)
        {
            Assert.Equal(0, wrong);
            Assert.True(refused > 0, "the honest agents must have noticed the lies");
            Assert.Contains(agents.SelectMany(a => a.LieLog), l => l.Contains("which its type does not hold"));
        }
        else
        {
            Assert.True(wrong > 0, "without the policy the lies must change some honest agent's overlay (else this test shows nothing)");
            Assert.Equal(0, refused);
        }
    }
}
