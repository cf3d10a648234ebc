using Parse.Federation.Overlays;
using Parse.Federation.Topology;
using Parse.Simulation;

namespace Parse.Tests;

/// <summary>
/// Cross-round repair of time-varying graphs (<c>overlay.repair_window</c>): one-peer exponential never links two
/// agents of one type in an interleaved 10:10:10 layout, so without it the a+b agents never share their synergy
/// group; with it, every a+b agent meets another within each window and the window's overlays are connected.
/// </summary>
public class CrossRoundRepairTests
{
    private static Simulator Sim(int window, int rounds = 5) => new(TestConfigs.Load(
        $"rounds={rounds}", "agents.count=30", "agents.mix=10:10:10", "agents.placement=interleaved",
        "topology.kind=one-peer-exponential", $"overlay.repair_window={window}", "eval.every=5"), ".");

    private static List<Overlay> SynergyOverlays(Simulator sim, int rounds) =>
        Enumerable.Range(0, rounds).Select(r => sim.OverlaysAt(r).Single(o => o.Key.StartsWith("head/synergy/a+b", StringComparison.Ordinal))).ToList();

    [Fact]
    public void Without_the_window_one_peer_exponential_never_links_two_multimodal_agents()
    {
        using var sim = Sim(0);
        var overlays = SynergyOverlays(sim, 10);
        Assert.Equal(10, overlays[0].Members.Count);
        Assert.All(overlays, o => Assert.Equal(0, o.Graph.Edges().Count(e => o.Members.Contains(e.A) && o.Members.Contains(e.B))));
    }

    [Fact]
    public void With_a_window_every_multimodal_agent_meets_another_and_the_window_is_connected()
    {
        using var sim = Sim(5, rounds: 10);
        var overlays = SynergyOverlays(sim, 10);
        var members = overlays[0].Members;
        for (int start = 0; start < 10; start += 5)
        {
            var union = new Graph(30);
            for (int r = start; r < start + 5; r++)
                foreach (var (a, b) in overlays[r].Graph.Edges()) union.AddEdge(a, b);
            Assert.All(members, m => Assert.True(union.Degree(m) >= 1, $"agent {m} meets no other a+b agent in rounds {start}..{start + 4}"));
            Assert.True(union.IsConnected(members));
            // the bridges are spread over the window: no round carries all of them
            Assert.True(overlays.Skip(start).Take(5).Max(o => o.Graph.EdgeCount) < union.EdgeCount);
        }
        // the same schedule in each window (one-peer exponential repeats every ceil(log2 30) = 5 rounds)
        for (int r = 0; r < 5; r++)
            Assert.Equal(overlays[r].Graph.Edges().ToList(), overlays[r + 5].Graph.Edges().ToList());
    }

    [Fact]
    public void Cross_round_repair_lets_the_multimodal_agents_share_their_synergy_group()
    {
        using var bare = Sim(0);
        using var repaired = Sim(5);
        var without = bare.Run();
        var with = repaired.Run();
        Assert.Equal(0, without.BytesByRole.GetValueOrDefault("synergy"));
        Assert.True(with.BytesByRole.GetValueOrDefault("synergy") > 0);
        Assert.True(with.Links!.UsedOutsideBase > 0);
    }

    [Fact]
    public void A_negative_window_is_named()
    {
        var e = Assert.Throws<Parse.Config.ConfigException>(() => TestConfigs.Load("overlay.repair_window=-1"));
        Assert.Contains("overlay.repair_window", e.Message);
    }
}
