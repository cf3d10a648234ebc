using Parse.Config;
using Parse.Federation.Attacks;
using Parse.Federation.Mixing;
using Parse.Simulation;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Parse.Tests;

/// <summary>Robust mixing rules on crafted neighbour values, and attacks end to end in the simulator.</summary>
public class RobustMixingTests
{
    private static List<Parameter> Own(params float[] v) => [new Parameter(torch.tensor(v), requires_grad: false)];

    private static Contribution From(int sender, params float[] v) => new(sender, 2, [torch.tensor(v)], 0);

    private static float[] Values(IReadOnlyList<Parameter> p) => p[0].data<float>().ToArray();

    [Fact]
    public void Median_takes_the_coordinate_wise_median_and_ignores_an_outlier()
    {
        var own = Own(1, 10, 0);
        using (torch.no_grad()) new MedianMixer().Mix(own, 4, [From(1, 2, 11, 0), From(2, 3, 12, 0), From(3, 1000, -1000, 0), From(4, 4, 13, 5)]);
        Assert.Equal([3f, 11f, 0f], Values(own));
    }

    /// <summary>
    /// The median and trimmed mean sort candidates by a network of element-wise min/max (fast for a few candidates) and
    /// fall back to torch.sort above 12: both must equal a reference computed with torch.sort, for every candidate count
    /// (odd and even), with ties, on groups of two tensors.
    /// </summary>
    [Fact]
    public void Median_and_trimmed_mean_equal_a_sort_reference_for_every_candidate_count()
    {
        var rng = new Random(3);
        for (int n = 1; n <= 15; n++)
        {
            // values on a coarse grid so that ties occur
            float[] Draw(int len) => Enumerable.Range(0, len).Select(_ => (float)rng.Next(-4, 5)).ToArray();
            var rows = Enumerable.Range(0, n).Select(_ => (W: Draw(6), B: Draw(3))).ToList();
            var flat = torch.tensor(rows.SelectMany(r => r.W.Concat(r.B)).ToArray()).reshape(n, 9);
            var sorted = flat.sort(0).Values;
            var median = sorted[(n - 1) / 2].data<float>().ToArray();
            int t = Math.Min(1, (n - 1) / 2);
            var trimmed = sorted.narrow(0, t, n - 2 * t).mean([0]).data<float>().ToArray();
            foreach (var (mixer, expected) in new (IMixer, float[])[] { (new MedianMixer(), median), (new TrimmedMeanMixer(1), trimmed) })
            {
                var own = new List<Parameter> { new(torch.tensor(rows[0].W).reshape(2, 3), requires_grad: false), new(torch.tensor(rows[0].B), requires_grad: false) };
                var received = rows.Skip(1).Select((r, k) => new Contribution(k + 1, 2, [torch.tensor(r.W).reshape(2, 3), torch.tensor(r.B)], 0)).ToList();
                if (received.Count == 0) continue;   // nothing to mix with
                using (torch.no_grad()) mixer.Mix(own, n - 1, received);
                var got = own[0].data<float>().ToArray().Concat(own[1].data<float>().ToArray()).ToArray();
                for (int i = 0; i < 9; i++) Assert.True(Math.Abs(expected[i] - got[i]) < 1e-5, $"{mixer.Name}, n = {n}, coordinate {i}: {got[i]} vs {expected[i]}");
            }
        }
    }

    [Fact]
    public void Trimmed_mean_drops_the_extremes_of_each_coordinate()
    {
        var own = Own(1, 5);
        using (torch.no_grad()) new TrimmedMeanMixer(1).Mix(own, 3, [From(1, 2, 6), From(2, 3, 7), From(3, 1e6f, -1e6f)]);
        // coordinate 0: {1,2,3,1e6} -> mean of {2,3}; coordinate 1: {5,6,7,-1e6} -> mean of {5,6}
        Assert.Equal([2.5f, 5.5f], Values(own));
    }

    [Fact]
    public void Krum_chooses_an_honest_candidate_and_multi_krum_averages_the_honest_ones()
    {
        var honest = new[] { From(1, 1.1f, 0.9f), From(2, 0.9f, 1.1f), From(3, 1.0f, 1.2f) };
        var bad = new[] { From(4, 50, -50), From(5, -40, 60) };
        var own = Own(1, 1);
        using (torch.no_grad()) new KrumMixer(2, multi: false).Mix(own, 5, [.. honest, .. bad]);
        Assert.All(Values(own), v => Assert.InRange(v, 0.8f, 1.3f));
        var own2 = Own(1, 1);
        using (torch.no_grad()) new KrumMixer(2, multi: true).Mix(own2, 5, [.. honest, .. bad]);
        // n - f = 4 candidates averaged: own and the three honest ones
        Assert.Equal(1.0f, Values(own2)[0], 3);
        Assert.Equal(1.05f, Values(own2)[1], 3);
    }

    /// <summary>
    /// Krum's distances come from a Gram-matrix product: on random neighbourhoods (some candidates far out) the chosen
    /// values equal a reference that scores candidates by directly computed squared distances.
    /// </summary>
    [Fact]
    public void Krum_from_the_gram_matrix_equals_a_direct_distance_reference()
    {
        var rng = new Random(5);
        for (int trial = 0; trial < 40; trial++)
        {
            int n = rng.Next(4, 9), f = rng.Next(0, (n - 3) / 2 + 1);
            bool multi = trial % 2 == 1;
            var rows = Enumerable.Range(0, n).Select(_ =>
            {
                double spread = rng.NextDouble() < 0.25 ? 50 : 1;
                return Enumerable.Range(0, 7).Select(_ => (float)((rng.NextDouble() - 0.5) * spread + 3)).ToArray();
            }).ToList();
            var dist = new double[n * n];
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                    dist[i * n + j] = rows[i].Zip(rows[j], (p, q) => ((double)p - q) * ((double)p - q)).Sum();
            var scores = KrumMixer.Scores(dist, n, f);
            var best = Enumerable.Range(0, n).OrderBy(i => scores[i]).ThenBy(i => i).Take(multi ? n - f : 1).ToList();
            var expected = Enumerable.Range(0, 7).Select(k => best.Average(i => (double)rows[i][k])).ToArray();
            var own = Own(rows[0]);
            using (torch.no_grad())
                new KrumMixer(f, multi).Mix(own, n - 1, rows.Skip(1).Select((r, k) => new Contribution(k + 1, 2, [torch.tensor(r)], 0)).ToList());
            var got = Values(own);
            for (int k = 0; k < 7; k++) Assert.True(Math.Abs(got[k] - expected[k]) < 1e-4, $"trial {trial} (n {n}, f {f}, multi {multi}), value {k}: {got[k]} vs {expected[k]}");
        }
    }

    [Fact]
    public void Clipped_gossip_bounds_how_far_one_neighbour_can_move_the_agent()
    {
        var own = Own(0, 0);
        using (torch.no_grad()) new ClippedGossipMixer(1.0).Mix(own, 2, [From(1, 1000, 0), From(2, 0, 0)]);
        var v = Values(own);
        // w = 1/3 per neighbour, the far one clipped to norm 1: the agent moves by 1/3 at most
        Assert.Equal(1.0f / 3, v[0], 4);
        Assert.Equal(0f, v[1]);
    }

    /// <summary>
    /// An agent whose only neighbour is an attacker: the round's median radius is the attacker's own distance, so it is
    /// never clipped; the own-history radius holds every round's move to about factor x the agent's own step.
    /// </summary>
    [Fact]
    public void Own_history_radius_clips_a_single_attacker_neighbour_that_the_median_radius_lets_through()
    {
        double Largest(ClippedGossipMixer mixer)
        {
            var own = Own(0, 0);
            double largest = 0;
            for (int round = 0; round < 8; round++)
            {
                own[0].detach().add_(torch.tensor(new[] { 0.1f, 0f }));   // local training: a step of norm 0.1
                var before = Values(own);
                // the attacker (degree 1) sends values 1000 away
                using (torch.no_grad()) mixer.Mix(own, 1, [new Contribution(1, 1, [torch.tensor(new[] { before[0] - 1000f, 1000f })], 0)]);
                var after = Values(own);
                largest = Math.Max(largest, Math.Sqrt(Math.Pow(after[0] - before[0], 2) + Math.Pow(after[1] - before[1], 2)));
            }
            return largest;
        }
        // w = 1/2; median radius: half the way to the attacker, every round
        Assert.True(Largest(new ClippedGossipMixer(null)) > 500);
        // own-history: at most w x factor x the largest own step = 1/2 x 2 x 0.1 (first round: not at all)
        Assert.InRange(Largest(new ClippedGossipMixer(null, ClipRadius.OwnHistory, 2.0)), 0, 0.1 + 1e-5);
    }

    /// <summary>
    /// Two neighbours, one honest (0.15 away, along coordinate 0) and one attacker (far, along coordinate 1), and a
    /// single honest neighbour: with the own-history radius the honest ones move the agent exactly as Metropolis-Hastings
    /// would (unclipped) every round, the attacker by at most w x the radius.
    /// </summary>
    [Fact]
    public void Own_history_radius_leaves_honest_neighbours_untouched()
    {
        var mixer = new ClippedGossipMixer(null, ClipRadius.OwnHistory, 2.0);
        var own = Own(0, 0);
        var alone = Own(0, 0);
        for (int round = 0; round < 8; round++)
        {
            own[0].detach().add_(torch.tensor(new[] { 0f, 0.1f }));
            alone[0].detach().add_(torch.tensor(new[] { 0f, 0.1f }));
            var x = Values(own);
            using (torch.no_grad())
                mixer.Mix(own, 2, [From(1, x[0] + 0.15f, x[1]), From(2, x[0], x[1] + 1000f)]);
            var y = Values(own);
            // (even in the first round: the pool {own copy 0, 0.15, 1000} gives the radius 0.3)
            Assert.Equal(x[0] + 0.05f, y[0], 5);             // w = 1/3 of the honest difference, unclipped
            Assert.InRange(y[1] - x[1], 0f, 2f * 0.15f / 3 + 1e-5f);   // the attacker: at most w x 2 x 0.15

            var z = Values(alone);
            using (torch.no_grad()) mixer.Mix(alone, 1, [From(1, z[0] + 0.15f, z[1])]);
            // one honest neighbour (w = 1/3, its degree 2): untouched once the agent has an own step (first round: radius 0)
            Assert.Equal(round == 0 ? z[0] : z[0] + 0.05f, Values(alone)[0], 5);
        }
    }

    /// <summary>With <c>mixing.outliers: drop</c> the far attacker does not move the agent at all; the honest neighbour still does.</summary>
    [Fact]
    public void Own_history_radius_with_drop_leaves_the_attacker_out_and_keeps_the_honest_neighbour()
    {
        var mixer = new ClippedGossipMixer(null, ClipRadius.OwnHistory, 2.0, drop: true);
        var own = Own(0, 0);
        for (int round = 0; round < 6; round++)
        {
            own[0].detach().add_(torch.tensor(new[] { 0f, 0.1f }));
            var x = Values(own);
            using (torch.no_grad()) mixer.Mix(own, 2, [From(1, x[0] + 0.15f, x[1]), From(2, x[0], x[1] - 1000f)]);
            var y = Values(own);
            Assert.Equal(x[0] + 0.05f, y[0], 5);
            Assert.Equal(x[1], y[1], 5);
        }
    }

    /// <summary>
    /// The own-history radius remembers each agent's last values and distances: saved and restored into a new mixer
    /// (what a checkpoint does), the agent goes on mixing exactly as without the interruption; a new mixer without the
    /// memory mixes differently (its first round clips the lone neighbour to nothing).
    /// </summary>
    [Fact]
    public void Own_history_memory_saved_and_restored_continues_exactly()
    {
        static Parse.Model.ParameterGroup Group(List<Parameter> p) => new("head/redundant", Parse.Model.GroupRole.Redundant, null, [p[0].detach()]);
        var straight = new ClippedGossipMixer(null, ClipRadius.OwnHistory, 2.0, drop: true);
        var own = Own(0, 0, 0);
        var g = Group(own);
        var rng = new Random(3);
        float[] Step() => Enumerable.Range(0, 3).Select(_ => (float)(rng.NextDouble() - 0.5) * 0.2f).ToArray();
        // an honest neighbour and an attacker before the interruption, the honest one alone after it
        void Round(ClippedGossipMixer m, Parse.Model.ParameterGroup group, float[] step, bool attacker)
        {
            group.Parameters[0].add_(torch.tensor(step));
            var x = group.Parameters[0].data<float>().ToArray();
            Contribution honest = From(1, x[0] + 0.1f, x[1] - 0.05f, x[2]);
            using (torch.no_grad()) m.Mix(group.Parameters, attacker ? 2 : 1, attacker ? [honest, From(2, x[0], x[1] + 50f, x[2])] : [honest]);
        }
        for (int r = 0; r < 4; r++) Round(straight, g, Step(), attacker: true);
        Assert.Null(new ClippedGossipMixer(null).SaveMemory([g]));   // the median radius remembers nothing
        var memory = straight.SaveMemory([g]);
        Assert.NotNull(memory);

        var resumedOwn = Own(Values(own));
        var resumedGroup = Group(resumedOwn);
        var resumed = new ClippedGossipMixer(null, ClipRadius.OwnHistory, 2.0, drop: true);
        resumed.RestoreMemory(memory!, [resumedGroup]);
        Assert.Equal(memory, resumed.SaveMemory([resumedGroup]));
        var freshOwn = Own(Values(own));
        var freshGroup = Group(freshOwn);
        var fresh = new ClippedGossipMixer(null, ClipRadius.OwnHistory, 2.0, drop: true);
        for (int r = 0; r < 3; r++)
        {
            var step = Step();
            Round(straight, g, step, attacker: false);
            Round(resumed, resumedGroup, step, attacker: false);
            Round(fresh, freshGroup, step, attacker: false);
            Assert.Equal(Values(own), Values(resumedOwn));
        }
        Assert.NotEqual(Values(own), Values(freshOwn));
        // a memory of another model does not fit
        var other = Group(Own(0, 0));
        Assert.Throws<InvalidDataException>(() => new ClippedGossipMixer(null, ClipRadius.OwnHistory).RestoreMemory(memory!, [other]));
    }

    [Fact]
    public void Metropolis_matches_the_weighted_average()
    {
        var own = Own(3);
        using (torch.no_grad()) new MetropolisMixer().Mix(own, 2, [From(1, 0), From(2, 6)]);
        Assert.Equal(3f, Values(own)[0], 5);   // 1/3 * 3 + 1/3 * 0 + 1/3 * 6
    }

    private static SimulationResult Run(params string[] sets)
    {
        var cfg = TestConfigs.Load([.. sets, "rounds=10", "topology.kind=fully-connected", "data.samples_per_agent=48"]);
        using var sim = new Simulator(cfg, ".");
        return sim.Run();
    }

    [Fact]
    public void A_sign_flip_attack_breaks_metropolis_and_the_median_withstands_it()
    {
        var clean = Run();
        var attacked = Run("attack.kind=sign-flip", "attack.fraction=0.25", "attack.scale=4");
        var defended = Run("attack.kind=sign-flip", "attack.fraction=0.25", "attack.scale=4", "mixing.rule=median");
        Assert.Equal(3, attacked.Attackers.Count);
        foreach (var type in clean.AccuracyByType.Keys)
        {
            Assert.True(attacked.AccuracyByType[type] < clean.AccuracyByType[type] - 0.1,
                $"{type}: attacked {attacked.AccuracyByType[type]:F3} vs clean {clean.AccuracyByType[type]:F3}");
            Assert.True(defended.AccuracyByType[type] > attacked.AccuracyByType[type] + 0.1,
                $"{type}: defended {defended.AccuracyByType[type]:F3} vs attacked {attacked.AccuracyByType[type]:F3}");
        }
    }

    /// <summary>
    /// Silent attackers (the baseline of the attacks): every payload they send is left out of mixing, every other
    /// payload is mixed, and no round waits for them.
    /// </summary>
    [Fact]
    public void Silent_attackers_payloads_are_left_out_of_every_mix_and_no_round_waits()
    {
        var cfg = TestConfigs.Load("attack.kind=silent", "attack.fraction=0.25", "rounds=3", "topology.kind=fully-connected", "data.samples_per_agent=48");
        using var sim = new Simulator(cfg, ".");
        var delivered = new int[sim.Cores.Count];
        var fromAttackers = new int[sim.Cores.Count];
        var plan = AttackPlan.Of(cfg, sim.Cores.Count);
        sim.OnDelivered = (from, to, _) =>
        {
            delivered[to]++;
            if (plan.IsAttacker(from)) fromAttackers[to]++;
        };
        var result = sim.Run();
        Assert.Equal(3, result.Attackers.Count);
        foreach (var core in sim.Cores)
        {
            Assert.True(fromAttackers[core.Id] > 0, $"agent {core.Id} has attacker neighbours on the fully connected graph");
            Assert.Equal(delivered[core.Id] - fromAttackers[core.Id], core.Tally.Mixed);
            Assert.Equal(0, core.Tally.DeadlineRounds);
        }
    }

    [Fact]
    public void Attackers_are_chosen_from_the_seed_and_reported_apart()
    {
        var cfg = TestConfigs.Load("attack.kind=label-flip", "attack.fraction=0.25");
        var plan = AttackPlan.Of(cfg, 12);
        Assert.Equal(3, plan.Attackers.Count);
        Assert.Equal(plan.Attackers, AttackPlan.Of(cfg, 12).Attackers);
        var spread = AttackPlan.Of(TestConfigs.Load("attack.kind=scale", "attack.fraction=0.25", "attack.placement=spread"), 12);
        Assert.Equal([0, 4, 8], spread.Attackers);
        using var sim = new Simulator(cfg, ".");
        using var honest = new Simulator(TestConfigs.Load(), ".");
        // a label-flipping attacker trains on its own samples with labels C - 1 - y; honest agents are untouched
        int a = plan.Attackers[0], c = sim.Agents[a].Train.NumClasses;
        Assert.Equal(honest.Agents[a].Train.Labels.Select(y => c - 1 - y), sim.Agents[a].Train.Labels);
        int h = Enumerable.Range(0, 12).First(i => !plan.IsAttacker(i));
        Assert.Equal(honest.Agents[h].Train.Labels, sim.Agents[h].Train.Labels);
        var r = sim.Run();
        Assert.Equal(plan.Attackers, r.Attackers);
        Assert.NotEmpty(r.AttackerAccuracyByType);
    }

    [Theory]
    [InlineData("attack.fraction=0.6", "attack.fraction")]
    [InlineData("attack.kind=teleport", "attack.kind")]
    [InlineData("attack.roles=[brain]", "attack.roles")]
    [InlineData("mixing.trim=-1", "mixing.trim")]
    [InlineData("mixing.clip=0", "mixing.clip")]
    [InlineData("mixing.radius=mean", "mixing.radius")]
    [InlineData("mixing.outliers=ignore", "mixing.outliers")]
    [InlineData("mixing.radius_factor=0", "mixing.radius_factor")]
    public void Bad_attack_and_mixing_options_name_the_field(string set, string field)
    {
        var e = Assert.Throws<ConfigException>(() => TestConfigs.Load("attack.kind=sign-flip", set));
        Assert.Contains(field, e.Message);
    }

    [Fact]
    public void A_rule_that_cannot_work_on_the_overlay_degree_stops_before_training()
    {
        // ring: every agent has 2 neighbours on most overlays; krum with f = 1 needs degree + 1 > 4
        var e = Assert.Throws<ConfigException>(() => new Simulator(TestConfigs.Load("mixing.rule=krum", "mixing.f=1"), "."));
        Assert.Contains("mixing.f", e.Message);
        e = Assert.Throws<ConfigException>(() => new Simulator(TestConfigs.Load("mixing.rule=trimmed-mean", "mixing.trim=2"), "."));
        Assert.Contains("mixing.trim", e.Message);
    }
}

public class FreeRiderTests
{
    [Fact]
    public void A_free_rider_never_trains_batched_or_not_and_keeps_sending_its_initial_values()
    {
        foreach (var batch in new[] { "true", "false" })
        {
            var cfg = TestConfigs.Load("attack.kind=free-rider", "attack.fraction=0.25", $"sim.batch_agents={batch}", "rounds=2");
            using var sim = new Simulator(cfg, ".");
            var riders = Parse.Federation.Attacks.AttackPlan.Of(cfg, 12).Attackers;
            var r = sim.Run();
            foreach (int i in riders) Assert.Equal(0, sim.Cores[i].Tally.AgentSteps);
            Assert.All(Enumerable.Range(0, 12).Where(i => !riders.Contains(i)), i => Assert.True(sim.Cores[i].Tally.AgentSteps > 0));
            Assert.Equal(riders, r.Attackers);
        }
    }
}
