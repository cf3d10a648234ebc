using Parse.Config;
using Parse.Node;
using Parse.Simulation;
using TorchSharp;
using static TorchSharp.torch;

namespace Parse.Tests;

/// <summary>Loss-based screening of neighbours' values (<c>mixing.screen: loss</c>), before any mixing rule.</summary>
public class LossScreenTests
{
    private static float[] Flat(IReadOnlyList<Tensor> ts) => ts.SelectMany(t => t.detach().reshape(-1).data<float>().ToArray()).ToArray();

    /// <summary>
    /// After a few rounds of training on a ring (neighbours differ): an honest neighbour's values of a trained group
    /// (another agent's, of the same key) are kept, the same values sign-flipped are dropped, and the agent's own values
    /// are exactly as before every measurement. (ALIE's values are not tested here: by design they are close to what the
    /// honest neighbours send, and docs/robustness.md measures how often the screen catches them.)
    /// </summary>
    [Fact]
    public void A_sign_flipped_neighbour_is_dropped_and_an_honest_one_kept()
    {
        var cfg = TestConfigs.Load("rounds=8", "train.local_steps=8", "train.lr=0.01", "data.samples_per_agent=96", "mixing.screen=loss", "mixing.screen_tolerance=0.05");
        using var sim = new Simulator(cfg, ".");
        sim.Run();
        int checkedGroups = 0;
        foreach (var agent in sim.Agents.Where(a => a.Modalities.Count == 2))
        {
            var peer = sim.Agents.First(p => p.Id != agent.Id && p.TypeName == agent.TypeName);
            foreach (var g in agent.Model.Groups.Where(g => g.Role is Model.GroupRole.Trunk or Model.GroupRole.Unique))
            {
                var other = peer.Model.Groups.Single(x => x.Key == g.Key).Parameters;
                using var screen = new LossScreen(agent, cfg.Mixing, cfg.Seed);
                var before = Flat(g.Parameters);
                using var scope = torch.NewDisposeScope();
                var honest = other.Select(t => t.detach().clone()).ToList();
                var flipped = other.Select(t => t.detach().neg()).ToList();
                // the step mixing one neighbour takes on a ring (degree 2): a third of the way
                double own = screen.OwnLoss, lh = screen.LossWith(g, honest, 1.0 / 3), lf = screen.LossWith(g, flipped, 1.0 / 3);
                Assert.Equal(before, Flat(g.Parameters));
                Assert.Equal(own, screen.OwnLoss);
                Assert.NotEqual(before, Flat(honest));
                Assert.True(screen.Keeps(lh), $"agent {agent.Id} {g.Key}: honest neighbour's loss {lh:F4} vs own {own:F4} (threshold {screen.Threshold:F4})");
                Assert.False(screen.Keeps(lf), $"agent {agent.Id} {g.Key}: sign-flipped loss {lf:F4} vs own {own:F4}");
                checkedGroups++;
            }
        }
        Assert.True(checkedGroups >= 4 * 3, $"checked {checkedGroups} groups");
    }

    /// <summary>
    /// A screen that keeps everything (an enormous tolerance) changes nothing: the run is bit-identical to one without
    /// screening, so measuring neighbours' losses restores every value and touches no random stream or optimizer state.
    /// </summary>
    [Fact]
    public void Screening_that_keeps_everything_leaves_the_run_bit_identical()
    {
        string[] sets = ["topology.kind=erdos-renyi", "topology.p=0.6", "sim.parallelism=2"];
        SimulationResult Run(params string[] more)
        {
            using var sim = new Simulator(TestConfigs.Load([.. sets, .. more]), ".");
            return sim.Run();
        }
        var off = Run();
        var keepAll = Run("mixing.screen=loss", "mixing.screen_tolerance=1e9");
        Assert.Null(off.Screening);
        Assert.NotNull(keepAll.Screening);
        Assert.True(keepAll.Screening!.Checked > 0);
        Assert.Equal(0, keepAll.Screening.Dropped);
        Assert.Equal(off.Metrics.Select(m => (m.Agent, m.Round, m.Accuracy, m.TestLoss, m.TrainLoss)),
            keepAll.Metrics.Select(m => (m.Agent, m.Round, m.Accuracy, m.TestLoss, m.TrainLoss)));
    }

    /// <summary>
    /// Sign-flipping attackers on a ring, from round 5: the screen drops most attacker contributions and few honest ones, counts them (summary and rejections), and the honest multimodal agents do better than without it.
    /// </summary>
    [Fact]
    public void Screening_drops_sign_flip_attackers_and_keeps_most_honest_neighbours()
    {
        SimulationResult Run(params string[] more)
        {
            // the attack starts once the agents have learned something: an untrained model's loss hardly depends on its values
            var cfg = TestConfigs.Load([.. more, "rounds=12", "train.local_steps=6", "train.lr=0.01", "data.samples_per_agent=96",
                "attack.kind=sign-flip", "attack.fraction=0.25", "attack.scale=4", "attack.start_round=5"]);
            using var sim = new Simulator(cfg, ".");
            return sim.Run();
        }
        var plain = Run();
        var screened = Run("mixing.screen=loss", "mixing.screen_tolerance=0.05");
        var s = screened.Screening!;
        long honestChecked = s.Checked - s.CheckedFromAttackers, honestDropped = s.Dropped - s.DroppedFromAttackers;
        string counts = $"dropped {s.DroppedFromAttackers} of {s.CheckedFromAttackers} attacker and {honestDropped} of {honestChecked} honest contributions";
        // most attacker contributions go (the first rounds of the attack, while a model is barely trained, can pass)
        Assert.True(s.CheckedFromAttackers > 0 && s.DroppedFromAttackers >= 0.5 * s.CheckedFromAttackers, counts);
        Assert.True(honestDropped <= 0.25 * honestChecked, counts);
        Assert.Equal(s.Dropped, screened.Rejected["Screened"]);
        Assert.True(screened.AccuracyByType["a+b"] > plain.AccuracyByType["a+b"] + 0.1,
            $"a+b: screened {screened.AccuracyByType["a+b"]:F3} vs plain {plain.AccuracyByType["a+b"]:F3}");
    }

    /// <summary>The screen runs inside each agent's preparation, in parallel: batched mixing equals agent-by-agent mixing with it on.</summary>
    [Fact]
    public void Screening_with_batched_mixing_equals_agent_by_agent_mixing()
    {
        string[] sets = ["mixing.screen=loss", "mixing.rule=clipped-gossip", "mixing.radius=own-history", "mixing.outliers=drop",
            "topology.kind=erdos-renyi", "topology.p=0.6", "attack.kind=alie", "attack.fraction=0.2", "sim.parallelism=2", "rounds=4"];
        SimulationResult Run(bool batched)
        {
            using var sim = new Simulator(TestConfigs.Load(sets), ".") { BatchedMixing = batched };
            Assert.NotEmpty(sim.Batches);
            return sim.Run();
        }
        var a = Run(true);
        var b = Run(false);
        Assert.Equal(b.Screening, a.Screening with { Seconds = b.Screening!.Seconds });
        Assert.Equal(b.Metrics.Select(m => (m.Agent, m.Round, m.Accuracy, m.TestLoss, m.TrainLoss)), a.Metrics.Select(m => (m.Agent, m.Round, m.Accuracy, m.TestLoss, m.TrainLoss)));
    }

    [Theory]
    [InlineData("mixing.screen=zeno", "mixing.screen")]
    [InlineData("mixing.screen_batch=0", "mixing.screen_batch")]
    [InlineData("mixing.screen_tolerance=-0.1", "mixing.screen_tolerance")]
    [InlineData("mixing.screen_batch=-5", "mixing.screen_batch")]
    public void Bad_screen_options_name_the_field(string set, string field)
    {
        var e = Assert.Throws<ConfigException>(() => TestConfigs.Load(set));
        Assert.Contains(field, e.Message);
    }

    [Fact]
    public void Screening_with_choco_is_refused()
    {
        var e = Assert.Throws<ConfigException>(() => TestConfigs.Load("mixing.screen=loss", "mixing.rule=choco", "payload.processors=[choco]"));
        Assert.Contains("mixing.screen", e.Message);
    }
}
