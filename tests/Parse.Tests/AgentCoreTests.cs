using Parse.Federation.Payload;
using Parse.Simulation;
using TorchSharp;

namespace Parse.Tests;

/// <summary>The agent core driven by hand, as a transport would: waiting, refusals, bounded memory.</summary>
public class AgentCoreTests
{
    [Fact]
    public void A_core_waits_for_every_neighbour_and_an_undecodable_payload_still_answers_the_round()
    {
        // one-agent learners: a core trains its agent itself (stacked agents are trained by the runtime)
        using var sim = new Simulator(TestConfigs.Load("sim.batch_agents=false"), ".");
        var core = sim.Cores[0];
        core.StartRound(0);
        core.Train();
        foreach (var o in core.Publish(0)) o.Dispose();
        var neighbours = core.SharedGroups(1).SelectMany(g => core.Expected(g.Key, 1)).Distinct().ToList();
        Assert.NotEmpty(neighbours);
        Assert.False(core.Ready);
        foreach (int j in neighbours) core.RefusedByTransport(j, RejectReason.Malformed, 16);
        Assert.True(core.Ready);
        Assert.Equal(neighbours.Count, core.Tally.Rejected["Malformed"]);
        core.CloseRound(1, atDeadline: false);
        Assert.Equal(1, core.Round);
        Assert.Equal(0, core.Tally.Mixed);
    }

    /// <summary>An overlay view that knows nothing until <see cref="Known"/> (like a cluster agent before discovery settles).</summary>
    private sealed class LateOverlays(IReadOnlyList<int> neighbours) : Parse.Node.IOverlayView
    {
        public bool Known { get; set; }
        public IReadOnlyCollection<int> Neighbours(string key, int round) => Known ? neighbours : [];
    }

    [Fact]
    public void An_undecodable_payload_that_arrives_before_the_overlay_is_known_still_answers_its_round()
    {
        // on the cluster a fast neighbour's first payload can arrive while this agent is still discovering its overlays
        var cfg = TestConfigs.Load("sim.batch_agents=false");
        using var setup = Parse.Node.ExperimentSetup.Build(cfg, ".");
        var view = new LateOverlays(setup.BaseNeighbours(0));
        using var core = new Parse.Node.AgentCore(setup.CreateLearner(0), cfg, view, setup.Data.Test, setup.Strategy);
        foreach (int j in setup.BaseNeighbours(0)) core.RefusedByTransport(j, RejectReason.Malformed, 16, round: 1);
        view.Known = true;
        core.StartRound(0);
        core.Train();
        foreach (var o in core.Publish(0)) o.Dispose();
        Assert.NotEmpty(core.SharedGroups(1).SelectMany(g => core.Expected(g.Key, 1)));
        Assert.True(core.Ready, "the refused payloads answered round 1: nothing left to wait for");
        core.CloseRound(1, atDeadline: false);
        Assert.Equal(0, core.Tally.Missing);
    }

    [Fact]
    public void A_neighbour_running_ahead_cannot_make_the_core_hold_unbounded_payloads()
    {
        using var sim = new Simulator(TestConfigs.Load("timing.max_staleness=1"), ".");
        var core = sim.Cores[0];
        var g = core.SharedGroups(1).First();
        int j = core.Expected(g.Key, 1)[0];
        for (int r = 1; r <= 10; r++)
        {
            var values = g.Parameters.Select(p => p.detach().clone()).ToList();
            foreach (var v in values) v.DetachFromDisposeScope();
            Assert.Null(core.Receive(j, new GroupPayload(g.Key, j, r, 2, values), 0, 100));
        }
        // staleness 1 + 2 payloads kept; the 7 oldest refused as stale
        Assert.Equal(7, core.Tally.Rejected["Stale"]);
    }

    [Fact]
    public void Payloads_from_a_non_neighbour_or_for_an_unknown_key_are_refused()
    {
        using var sim = new Simulator(TestConfigs.Load(), ".");
        var core = sim.Cores[0];
        var g = core.SharedGroups(1).First();
        int stranger = Enumerable.Range(1, 11).First(j => !core.Expected(g.Key, 1).Contains(j));
        var v1 = g.Parameters.Select(p => { var t = p.detach().clone(); t.DetachFromDisposeScope(); return t; }).ToList();
        Assert.Equal(RejectReason.NotNeighbour, core.Receive(stranger, new GroupPayload(g.Key, stranger, 1, 2, v1), 0, 10));
        var v2 = g.Parameters.Select(p => { var t = p.detach().clone(); t.DetachFromDisposeScope(); return t; }).ToList();
        Assert.Equal(RejectReason.UnknownKey, core.Receive(stranger, new GroupPayload("no/such|1", stranger, 1, 2, v2), 0, 10));
        var v3 = g.Parameters.Select(p => { var t = p.detach().clone(); t.DetachFromDisposeScope(); return t; }).ToList();
        Assert.Equal(RejectReason.Malformed, core.Receive(stranger, new GroupPayload(g.Key, stranger + 1, 1, 2, v3), 0, 10));
    }
}
