using Parse.Config;
using Parse.Federation.Mixing;
using Parse.Model;
using Parse.Simulation;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Parse.Tests;

/// <summary>
/// <c>mixing.fallback</c>: a rule that needs a minimum number of candidates (trimmed mean, Krum) mixes too small
/// neighbourhoods by the fallback rule, exactly as that rule would, and everything else exactly as itself.
/// </summary>
public class FallbackMixingTests
{
    private static List<Parameter> Own(params float[] v) => [new Parameter(torch.tensor(v), requires_grad: false)];

    private static Contribution From(int sender, int degree, params float[] v) => new(sender, degree, [torch.tensor(v)], 0);

    private static float[] Values(IReadOnlyList<Parameter> p) => p[0].data<float>().ToArray();

    private static FallbackMixer TrimmedMeanWithOwnHistory() =>
        new(new TrimmedMeanMixer(1), 3, new ClippedGossipMixer(null, ClipRadius.OwnHistory, 2.0, drop: true));

    /// <summary>Neighbour values around <paramref name="x"/>: a few honest ones and, every third round, one far away.</summary>
    private static List<Contribution> Neighbours(float[] x, int count, int round, Random rng) =>
        Enumerable.Range(0, count).Select(k => From(k + 1, count, x.Select((v, i) =>
            v + (k == 0 && round % 3 == 2 ? 1000f : (float)(rng.NextDouble() - 0.5) * 0.4f)).ToArray())).ToList();

    /// <summary>
    /// An agent with one neighbour (2 candidates, the trimmed mean with trim 1 needs 3) is mixed by the fallback, round
    /// after round, exactly as clipped gossip with the own-history radius mixes it (memory included).
    /// </summary>
    [Fact]
    public void An_agent_with_one_neighbour_is_mixed_exactly_as_the_fallback_would()
    {
        var mixer = TrimmedMeanWithOwnHistory();
        var reference = new ClippedGossipMixer(null, ClipRadius.OwnHistory, 2.0, drop: true);
        var own = Own(0, 0, 0);
        var alone = Own(0, 0, 0);
        var rng = new Random(5);
        for (int round = 0; round < 8; round++)
        {
            var step = torch.tensor(Enumerable.Range(0, 3).Select(_ => (float)(rng.NextDouble() - 0.5) * 0.2f).ToArray());
            own[0].detach().add_(step);
            alone[0].detach().add_(step);
            var received = Neighbours(Values(own), 1, round, rng);
            var before = Values(own);
            using (torch.no_grad())
            {
                mixer.Mix(own, 1, received);
                reference.Mix(alone, 1, received);
            }
            Assert.Equal(Values(alone), Values(own));
            if (round == 2) Assert.Equal(before, Values(own));   // the far neighbour is dropped
        }
        Assert.NotEqual(new float[3], Values(own));
    }

    /// <summary>An agent with four neighbours (5 candidates) is mixed exactly as the trimmed mean mixes it, round after round.</summary>
    [Fact]
    public void An_agent_with_four_neighbours_is_mixed_exactly_as_the_trimmed_mean()
    {
        var mixer = TrimmedMeanWithOwnHistory();
        var reference = new TrimmedMeanMixer(1);
        var own = Own(1, 2, 3);
        var alone = Own(1, 2, 3);
        var rng = new Random(9);
        for (int round = 0; round < 6; round++)
        {
            var received = Neighbours(Values(own), 4, round, rng);
            using (torch.no_grad())
            {
                mixer.Mix(own, 4, received);
                reference.Mix(alone, 4, received);
            }
            Assert.Equal(Values(alone), Values(own));
        }
        // a neighbour missing at the deadline (3 candidates) still leaves enough for trim 1; two missing: the fallback
        var x = Values(own);
        var two = Neighbours(x, 2, 0, rng);
        using (torch.no_grad()) mixer.Mix(own, 4, two);
        using (torch.no_grad()) reference.Mix(alone, 4, two);
        Assert.Equal(Values(alone), Values(own));
        var one = Neighbours(Values(own), 1, 2, rng);   // the far one
        var y = Values(own);
        using (torch.no_grad()) mixer.Mix(own, 4, one);
        Assert.Equal(y, Values(own));                    // dropped by the own-history radius, where the trimmed mean of 2 would move
    }

    /// <summary>
    /// In the rounds the main rule mixes a group, the fallback's memory still takes the round: it remembers the values
    /// the agent holds after the main rule's mix (so its next own update is its local training alone) and one more round
    /// of distances. Read from the checkpoint blob.
    /// </summary>
    [Fact]
    public void The_fallback_memory_follows_the_rounds_the_main_rule_mixed()
    {
        var mixer = TrimmedMeanWithOwnHistory();
        var own = Own(0, 0, 0);
        var group = new ParameterGroup("head/redundant", GroupRole.Redundant, null, [own[0].detach()]);
        var rng = new Random(2);
        int[] counts = [1, 4, 4, 1, 4];   // fallback, main, main, fallback, main
        for (int round = 0; round < counts.Length; round++)
        {
            group.Parameters[0].add_(torch.tensor(new[] { 0.1f, 0f, 0f }));
            using (torch.no_grad()) mixer.Mix(group.Parameters, counts[round], Neighbours(group.Parameters[0].data<float>().ToArray(), counts[round], round, rng));
            var (last, rounds) = ReadMemory(mixer.SaveMemory([group])!);
            Assert.Equal(group.Parameters[0].data<float>().ToArray(), last);
            Assert.Equal(Math.Min(round + 1, RadiusHistory.Window), rounds.Count);
            // a main round remembers the own step (from the second round on) and every neighbour's distance
            Assert.Equal((round == 0 ? 0 : 1) + counts[round], rounds[^1].Length);
        }
    }

    /// <summary>The blob of <see cref="ClippedGossipMixer.SaveMemory"/> for one group: its last values and remembered rounds.</summary>
    private static (float[] Last, List<double[]> Rounds) ReadMemory(byte[] blob)
    {
        using var r = new BinaryReader(new MemoryStream(blob));
        Assert.Equal(1, r.ReadInt32());
        r.ReadString();
        Assert.True(r.ReadBoolean());
        var last = new float[r.ReadInt32()];
        for (int k = 0; k < last.Length; k++) last[k] = r.ReadSingle();
        var rounds = new List<double[]>();
        int n = r.ReadInt32();
        for (int q = 0; q < n; q++)
        {
            var d = new double[r.ReadInt32()];
            for (int k = 0; k < d.Length; k++) d[k] = r.ReadDouble();
            rounds.Add(d);
        }
        return (last, rounds);
    }

    /// <summary>
    /// The fallback's memory saved from a checkpoint and restored into a new mixer: the agent goes on exactly as without
    /// the interruption, through main and fallback rounds; a mixer without the memory mixes differently.
    /// </summary>
    [Fact]
    public void Fallback_memory_saved_and_restored_continues_exactly()
    {
        static ParameterGroup Group(List<Parameter> p) => new("head/redundant", GroupRole.Redundant, null, [p[0].detach()]);
        var straight = TrimmedMeanWithOwnHistory();
        var own = Own(0, 0, 0);
        var g = Group(own);
        var rng = new Random(4);
        int[] counts = [1, 4, 1, 1, 4, 1, 1, 2, 1];
        void Round(FallbackMixer m, ParameterGroup group, int round, List<Contribution> received)
        {
            group.Parameters[0].add_(torch.tensor(new[] { 0.05f, -0.02f, 0.01f }));
            using (torch.no_grad()) m.Mix(group.Parameters, received.Count, received);
        }
        for (int r = 0; r < 4; r++) Round(straight, g, r, Neighbours(Values(own), counts[r], r, rng));
        var memory = straight.SaveMemory([g]);
        Assert.NotNull(memory);
        var resumedOwn = Own(Values(own));
        var resumedGroup = Group(resumedOwn);
        var resumed = TrimmedMeanWithOwnHistory();
        resumed.RestoreMemory(memory!, [resumedGroup]);
        var freshOwn = Own(Values(own));
        var freshGroup = Group(freshOwn);
        var fresh = TrimmedMeanWithOwnHistory();
        for (int r = 4; r < counts.Length; r++)
        {
            // neighbours placed around the uninterrupted agent's values after its local step
            var received = Neighbours(Values(own).Select(v => v + 0.05f).ToArray(), counts[r], r, rng);
            Round(straight, g, r, received);
            Round(resumed, resumedGroup, r, received);
            Round(fresh, freshGroup, r, received);
            Assert.Equal(Values(own), Values(resumedOwn));
        }
        Assert.NotEqual(Values(own), Values(freshOwn));
        // a fallback without memory refuses a memory blob
        Assert.Null(new FallbackMixer(new KrumMixer(1, false), 5, new MedianMixer()).SaveMemory([g]));
        Assert.Throws<InvalidDataException>(() => new FallbackMixer(new KrumMixer(1, false), 5, new MedianMixer()).RestoreMemory(memory!, [g]));
    }

    [Fact]
    public void The_registry_wraps_only_rules_with_a_minimum_and_only_when_a_fallback_is_set()
    {
        var cfg = TestConfigs.Load("mixing.rule=krum", "mixing.f=1", "mixing.fallback=metropolis");
        var m = Assert.IsType<FallbackMixer>(MixerRegistry.Create(cfg));
        Assert.Equal(5, m.MinCandidates);
        Assert.IsType<MetropolisMixer>(m.Fallback);
        Assert.Equal("krum", m.Name);
        Assert.Equal(3, Assert.IsType<FallbackMixer>(MixerRegistry.Create(TestConfigs.Load("mixing.rule=trimmed-mean", "mixing.trim=1", "mixing.fallback=median"))).MinCandidates);
        Assert.IsType<KrumMixer>(MixerRegistry.Create(TestConfigs.Load("mixing.rule=krum")));
        Assert.IsType<MedianMixer>(MixerRegistry.Create(TestConfigs.Load("mixing.rule=median", "mixing.fallback=metropolis")));
        var own = Assert.IsType<ClippedGossipMixer>(Assert.IsType<FallbackMixer>(MixerRegistry.Create(TestConfigs.Load("mixing.rule=multi-krum",
            "mixing.fallback=clipped-gossip", "mixing.radius=own-history", "mixing.radius_factor=3", "mixing.outliers=drop"))).Fallback);
        Assert.Equal((ClipRadius.OwnHistory, 3.0, true), (own.Radius, own.Factor, own.Drop));
    }

    [Theory]
    [InlineData("mixing.fallback=trimmed-mean", "a minimum number of candidates")]
    [InlineData("mixing.fallback=krum", "a minimum number of candidates")]
    [InlineData("mixing.fallback=multi-krum", "a minimum number of candidates")]
    [InlineData("mixing.fallback=choco", "choco")]
    [InlineData("mixing.fallback=average", "unknown value 'average'")]
    public void A_bad_fallback_names_the_field(string set, string why)
    {
        var e = Assert.Throws<ConfigException>(() => TestConfigs.Load("mixing.rule=trimmed-mean", set));
        Assert.Contains("mixing.fallback", e.Message);
        Assert.Contains(why, e.Message);
    }

    /// <summary>
    /// On the test ring (agents with one or two neighbours per overlay) krum is refused before training, naming
    /// mixing.fallback; with a fallback the run trains, and krum with f = 1 (5 candidates, more than any ring agent has)
    /// is then exactly the fallback rule everywhere.
    /// </summary>
    [Fact]
    public void With_a_fallback_a_ring_trains_and_krum_beyond_every_degree_is_the_fallback()
    {
        var e = Assert.Throws<ConfigException>(() => new Simulator(TestConfigs.Load("mixing.rule=krum", "mixing.f=1"), "."));
        Assert.Contains("mixing.fallback", e.Message);
        string[] common = ["mixing.radius=own-history", "mixing.outliers=drop", "attack.kind=sign-flip", "attack.fraction=0.2", "rounds=3"];
        SimulationResult Run(params string[] sets)
        {
            using var sim = new Simulator(TestConfigs.Load([.. common, .. sets]), ".");
            return sim.Run();
        }
        var krum = Run("mixing.rule=krum", "mixing.f=1", "mixing.fallback=clipped-gossip");
        var clipped = Run("mixing.rule=clipped-gossip");
        Assert.Equal(clipped.Metrics.Select(m => (m.Agent, m.Round, m.Accuracy, m.TestLoss)), krum.Metrics.Select(m => (m.Agent, m.Round, m.Accuracy, m.TestLoss)));
        var trimmed = Run("mixing.rule=trimmed-mean", "mixing.trim=1", "mixing.fallback=clipped-gossip");
        Assert.NotEqual(clipped.Metrics.Select(m => m.TestLoss), trimmed.Metrics.Select(m => m.TestLoss));
    }
}
