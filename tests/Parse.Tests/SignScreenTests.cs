using Parse.Config;
using Parse.Federation.Mixing;
using Parse.Model;
using Parse.Node;
using Parse.Simulation;
using TorchSharp;
using static TorchSharp.torch;

namespace Parse.Tests;

/// <summary>Sign-statistics screening of neighbours' values (<c>mixing.screen: sign</c>), before any mixing rule.</summary>
public class SignScreenTests
{
    private static ParameterGroup Group(params Tensor[] values) => new("g", GroupRole.Trunk, null, values);

    private static Contribution From(params Tensor[] values) => new(1, 2, values, 0);

    /// <summary>
    /// An ALIE-like neighbour (below the agent's values in every coordinate, by less than honest noise) is dropped; an
    /// honest neighbour (a symmetric random difference of the same size) is kept; the agent's values are untouched.
    /// </summary>
    [Fact]
    public void A_neighbour_below_in_every_coordinate_is_dropped_and_an_honest_one_kept()
    {
        using var scope = torch.NewDisposeScope();
        var gen = new torch.Generator(7);
        var own = new[] { torch.randn([16, 64], generator: gen), torch.randn([64], generator: gen) };
        var group = Group(own);
        var before = own.Select(t => t.clone()).ToArray();
        var noise = own.Select(t => torch.randn(t.shape, generator: gen).mul(torch.tensor(0.01f))).ToArray();
        var honest = own.Select((t, k) => t.add(noise[k])).ToArray();
        var alie = own.Select((t, k) => t.sub(noise[k].abs()).sub(torch.tensor(1e-4f))).ToArray();
        var screen = new SignScreen(0.25);

        Assert.True(screen.Keeps(group, 2, From(honest), out string whyHonest), whyHonest);
        Assert.InRange(SignScreen.PositiveFraction(own, honest), 0.4, 0.6);
        Assert.False(screen.Keeps(group, 2, From(alie), out string whyAlie));
        Assert.Equal(0.0, SignScreen.PositiveFraction(own, alie));
        Assert.Contains("positive fraction 0.000", whyAlie);
        Assert.Contains("0.25", whyAlie);
        // the mirror image (above everywhere) is just as one-sided
        var above = own.Select((t, k) => t.add(noise[k].abs()).add(torch.tensor(1e-4f))).ToArray();
        Assert.False(screen.Keeps(group, 2, From(above), out _));
        for (int k = 0; k < own.Length; k++) Assert.True(before[k].allclose(own[k], 0, 0));
    }

    /// <summary>Coordinates where the neighbour equals the agent do not count; a neighbour equal everywhere is kept.</summary>
    [Fact]
    public void Equal_coordinates_are_ignored()
    {
        using var scope = torch.NewDisposeScope();
        var own = torch.zeros(100);
        // 3 above, 1 below, 96 equal: 3 of 4 non-zero differences are positive
        var values = torch.zeros(100);
        values[0] = torch.tensor(1f); values[1] = torch.tensor(2f); values[2] = torch.tensor(0.5f); values[3] = torch.tensor(-1f);
        Assert.Equal(0.75, SignScreen.PositiveFraction([own], [values]));
        Assert.True(double.IsNaN(SignScreen.PositiveFraction([own], [own.clone()])));
        Assert.True(new SignScreen(0).Keeps(Group(own), 2, From(own.clone()), out _));
        // over several tensors of a group, counted together
        Assert.Equal(0.5, SignScreen.PositiveFraction([own, torch.zeros(4)], [values, torch.tensor(new float[] { -1, -1, 0, 0 })]));
    }

    /// <summary>The tolerance is inclusive: |s - 1/2| equal to it is kept, beyond it dropped; 0.5 keeps everything.</summary>
    [Theory]
    [InlineData(0.25, 0.75, true)]
    [InlineData(0.25, 0.25, true)]
    [InlineData(0.25, 0.2, false)]
    [InlineData(0.25, 0.8, false)]
    [InlineData(0.0, 0.5, true)]
    [InlineData(0.0, 0.51, false)]
    [InlineData(0.5, 0.0, true)]
    [InlineData(0.5, 1.0, true)]
    public void The_tolerance_bounds_the_distance_from_one_half(double tolerance, double s, bool kept) =>
        Assert.Equal(kept, new SignScreen(tolerance).Keeps(s));

    /// <summary>
    /// ALIE attackers on a ring: with the default tolerance the screen drops most attacker contributions and almost no
    /// honest ones, counts them (summary, rejections, events naming agent, group and fraction), and the honest
    /// multimodal agents do better than without it. A screen that keeps everything (tolerance 0.5) leaves the run
    /// bit-identical to no screen.
    /// </summary>
    [Fact]
    public void Screening_drops_alie_attackers_and_keeps_honest_neighbours()
    {
        var events = new List<string>();
        SimulationResult Run(params string[] more)
        {
            var cfg = TestConfigs.Load([.. more, "rounds=12", "train.local_steps=6", "train.lr=0.01", "data.samples_per_agent=96",
                "attack.kind=alie", "attack.fraction=0.25", "mixing.rule=clipped-gossip", "mixing.radius=own-history", "mixing.outliers=drop"]);
            using var sim = new Simulator(cfg, ".");
            var result = sim.Run();
            events = sim.Cores.SelectMany(c => c.Tally.Events).ToList();
            return result;
        }
        var plain = Run();
        var keepAll = Run("mixing.screen=sign", "mixing.screen_sign_tolerance=0.5");
        var screened = Run("mixing.screen=sign");
        Assert.Equal(0, keepAll.Screening!.Dropped);
        Assert.Equal(plain.Metrics.Select(m => (m.Agent, m.Round, m.Accuracy, m.TestLoss, m.TrainLoss)),
            keepAll.Metrics.Select(m => (m.Agent, m.Round, m.Accuracy, m.TestLoss, m.TrainLoss)));

        var s = screened.Screening!;
        long honestChecked = s.Checked - s.CheckedFromAttackers, honestDropped = s.Dropped - s.DroppedFromAttackers;
        string counts = $"dropped {s.DroppedFromAttackers} of {s.CheckedFromAttackers} attacker and {honestDropped} of {honestChecked} honest contributions";
        Assert.True(s.CheckedFromAttackers > 0 && s.DroppedFromAttackers >= 0.7 * s.CheckedFromAttackers, counts);
        Assert.True(honestDropped <= 0.05 * honestChecked, counts);
        Assert.Equal(s.Dropped, screened.Rejected["Screened"]);
        Assert.Contains(events, e => e.Contains("screened out agent") && e.Contains("positive fraction"));
        Assert.True(screened.AccuracyByType["a+b"] >= plain.AccuracyByType["a+b"] - 0.02,
            $"a+b: screened {screened.AccuracyByType["a+b"]:F3} vs plain {plain.AccuracyByType["a+b"]:F3}; {counts}");
    }

    /// <summary>The screen runs inside each agent's preparation, in parallel: batched mixing equals agent-by-agent mixing with it on.</summary>
    [Fact]
    public void Screening_with_batched_mixing_equals_agent_by_agent_mixing()
    {
        string[] sets = ["mixing.screen=sign", "mixing.screen_sign_tolerance=0.15", "mixing.rule=clipped-gossip", "mixing.radius=own-history", "mixing.outliers=drop",
            "topology.kind=erdos-renyi", "topology.p=0.6", "attack.kind=alie", "attack.fraction=0.2", "sim.parallelism=2", "rounds=4"];
        SimulationResult Run(bool batched)
        {
            using var sim = new Simulator(TestConfigs.Load(sets), ".") { BatchedMixing = batched };
            Assert.NotEmpty(sim.Batches);
            return sim.Run();
        }
        var a = Run(true);
        var b = Run(false);
        Assert.True(b.Screening!.Dropped > 0);
        Assert.Equal(b.Screening, a.Screening! with { Seconds = b.Screening.Seconds });
        Assert.Equal(b.Metrics.Select(m => (m.Agent, m.Round, m.Accuracy, m.TestLoss, m.TrainLoss)), a.Metrics.Select(m => (m.Agent, m.Round, m.Accuracy, m.TestLoss, m.TrainLoss)));
    }

    [Theory]
    [InlineData("mixing.screen_sign_tolerance=-0.1")]
    [InlineData("mixing.screen_sign_tolerance=0.6")]
    [InlineData("mixing.screen_sign_tolerance=.nan")]
    public void A_bad_tolerance_names_the_field(string set)
    {
        var e = Assert.Throws<ConfigException>(() => TestConfigs.Load("mixing.screen=sign", set));
        Assert.Contains("mixing.screen_sign_tolerance", e.Message);
    }

    [Fact]
    public void A_bad_tolerance_exits_with_code_2()
    {
        string dir = Directory.CreateTempSubdirectory("parse-sign").FullName;
        try
        {
            string cfg = Path.Combine(dir, "exp.yaml");
            File.WriteAllText(cfg, TestConfigs.Small);
            Assert.Equal(2, Parse.Cli.Program.Main(["run", cfg, "--out", Path.Combine(dir, "out"), "--quiet", "--set", "mixing.screen=sign", "--set", "mixing.screen_sign_tolerance=0.7"]));
            Assert.False(Directory.Exists(Path.Combine(dir, "out")));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Sign_screening_with_choco_is_refused()
    {
        var e = Assert.Throws<ConfigException>(() => TestConfigs.Load("mixing.screen=sign", "mixing.rule=choco", "payload.processors=[choco]"));
        Assert.Contains("mixing.screen: sign", e.Message);
    }
}
