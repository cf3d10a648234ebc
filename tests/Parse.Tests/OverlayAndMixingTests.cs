using Parse.Federation.Mixing;
using Parse.Federation.Overlays;
using Parse.Federation.Topology;

namespace Parse.Tests;

public class OverlayAndMixingTests
{
    public static TheoryData<string, int> Graphs() => new()
    {
        { "ring", 30 }, { "chordal-ring", 30 }, { "exponential", 16 }, { "torus", 24 }, { "fully-connected", 9 }, { "erdos-renyi", 25 },
    };

    private static Graph Make(string kind, int n) =>
        TopologyFactory.Create(new Config.TopologyConfig { Kind = kind, P = 0.15 }, n, seed: 5, baseDir: ".").At(0);

    private static IEnumerable<HashSet<int>> HolderSets(int n)
    {
        yield return Enumerable.Range(0, n).ToHashSet();
        yield return Enumerable.Range(0, n).Where(i => i % 3 != 1).ToHashSet();  // a-holders in a 1:1:1 interleaving
        yield return Enumerable.Range(0, n).Where(i => i % 3 == 2).ToHashSet();  // multimodal only: never adjacent on a ring
        for (int s = 0; s < 5; s++)
        {
            var rng = new Random(100 + s);
            yield return Enumerable.Range(0, n).Where(_ => rng.NextDouble() < 0.3).ToHashSet();
        }
    }

    [Theory]
    [MemberData(nameof(Graphs))]
    public void MetropolisHastings_is_symmetric_and_doubly_stochastic_on_every_overlay(string kind, int n)
    {
        var g = Make(kind, n);
        foreach (var holders in HolderSets(n).Where(h => h.Count > 0))
        {
            var o = OverlayBuilder.Build("k", g, holders, repair: true).Overlay;
            var w = MetropolisHastings.Matrix(o);
            int m = o.Members.Count;
            for (int i = 0; i < m; i++)
            {
                double row = 0, col = 0;
                for (int j = 0; j < m; j++)
                {
                    Assert.True(w[i, j] >= 0, $"negative weight at ({i},{j})");
                    Assert.Equal(w[i, j], w[j, i], 12);
                    row += w[i, j];
                    col += w[j, i];
                }
                Assert.Equal(1.0, row, 12);
                Assert.Equal(1.0, col, 12);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Graphs))]
    public void Overlays_link_only_holders_and_repair_makes_them_connected(string kind, int n)
    {
        var g = Make(kind, n);
        Assert.True(g.IsConnected() || kind == "erdos-renyi");
        foreach (var holders in HolderSets(n))
        {
            var o = OverlayBuilder.Build("k", g, holders, repair: true).Overlay;
            Assert.Equal(holders.OrderBy(i => i), o.Members);
            foreach (var (a, b) in o.Graph.Edges())
                Assert.True(holders.Contains(a) && holders.Contains(b), $"edge {a}-{b} touches a non-holder");
            if (g.IsConnected()) Assert.True(o.IsConnected, $"{kind}: repaired overlay of {holders.Count} holders is disconnected");
            // bounded: a holder adds at most two links per adjacent non-holder component, so at most 2 x base degree
            foreach (int h in holders)
            {
                int added = o.Graph.Neighbours(h).Count(j => !g.HasEdge(h, j));
                Assert.True(added <= 2 * g.Degree(h), $"holder {h} added {added} links with base degree {g.Degree(h)}");
            }
        }
    }

    [Fact]
    public void Without_repair_scattered_holders_on_a_ring_are_disconnected_and_repair_bridges_them()
    {
        var ring = TopologyFactory.Ring(30);
        var multimodal = Enumerable.Range(0, 30).Where(i => i % 3 == 2).ToHashSet();
        var bare = OverlayBuilder.Build("k", ring, multimodal, repair: false).Overlay;
        Assert.Equal(0, bare.Graph.EdgeCount);
        Assert.False(bare.IsConnected);
        var repaired = OverlayBuilder.Build("k", ring, multimodal, repair: true);
        Assert.True(repaired.Overlay.IsConnected);
        Assert.Equal(10, repaired.Overlay.Bridges);   // the 10 holders form a ring through the gaps
        Assert.All(multimodal, h => Assert.Equal(2, repaired.Overlay.Graph.Degree(h)));
        Assert.True(repaired.FloodRounds >= 1);
    }

    [Fact]
    public void Spectral_gap_matches_closed_form_for_a_complete_overlay()
    {
        // K_n with MH weights 1/n everywhere: W = J/n, eigenvalues 1 and 0, gap 1
        var g = TopologyFactory.Create(new Config.TopologyConfig { Kind = "fully-connected" }, 6, 1, ".").At(0);
        var o = OverlayBuilder.Build("k", g, Enumerable.Range(0, 6).ToHashSet(), true).Overlay;
        Assert.Equal(1.0, OverlayStats.Of(o).SpectralGap, 6);
        // ring of n=8: MH weight 1/3, eigenvalues 1/3 + 2/3 cos(2 pi k / n); second largest modulus at k=1
        var ring = OverlayBuilder.Build("k", TopologyFactory.Ring(8), Enumerable.Range(0, 8).ToHashSet(), true).Overlay;
        double expected = 1 - (1.0 / 3 + 2.0 / 3 * Math.Cos(2 * Math.PI / 8));
        Assert.Equal(expected, OverlayStats.Of(ring).SpectralGap, 6);
    }

    [Fact]
    public void Time_varying_topologies_change_each_round_and_gossip_is_a_matching()
    {
        var gossip = TopologyFactory.Create(new Config.TopologyConfig { Kind = "random-gossip" }, 10, 1, ".");
        Assert.True(gossip.TimeVarying);
        var g0 = gossip.At(0);
        var g1 = gossip.At(1);
        Assert.All(Enumerable.Range(0, 10), i => Assert.Equal(1, g0.Degree(i)));
        Assert.NotEqual(g0.Edges().ToList(), g1.Edges().ToList());
        Assert.Equal(g0.Edges().ToList(), gossip.At(0).Edges().ToList()); // deterministic per round
        var onePeer = TopologyFactory.Create(new Config.TopologyConfig { Kind = "one-peer-exponential" }, 16, 1, ".");
        Assert.True(onePeer.At(0).HasEdge(0, 1));
        Assert.True(onePeer.At(1).HasEdge(0, 2));
        Assert.True(onePeer.At(3).HasEdge(0, 8));
    }
}
