using Parse.Config;
using Parse.Data;
using Parse.Model;
using Parse.Node;
using Parse.Simulation;
using TorchSharp;

namespace Parse.Tests;

/// <summary>Modality dynamics and churn (docs/dynamics.md): the schedule, the masks, warm starts and clean leaves.</summary>
public class DynamicsTests
{
    // TestConfigs.Small: 12 agents, 4:4:4 interleaved, so ids 0, 3, 6, 9 are a; 1, 4, 7, 10 b; 2, 5, 8, 11 a+b

    [Fact]
    public void Sensor_failure_chain_is_down_at_its_stationary_rate_and_is_deterministic()
    {
        var cfg = TestConfigs.Load("rounds=3000", "dynamics.failure={b: {p_fail: 0.1, p_recover: 0.3}}");
        var schedule = DynamicsSchedule.Of(cfg)!;
        var again = DynamicsSchedule.Of(cfg)!;
        var holders = Enumerable.Range(0, 12).Where(i => i % 3 != 0).ToList();
        int down = 0, total = 0, transitions = 0;
        foreach (int agent in holders)
        {
            bool previous = true;
            for (int r = 1; r <= cfg.Rounds; r++)
            {
                bool up = schedule.Available(agent, "b", r);
                Assert.Equal(up, again.Available(agent, "b", r));
                Assert.True(schedule.Available(agent, "a", r) || AgentTypes.Name(LearnerPlan.Of(cfg).Population[agent]) == "b");
                if (!up) down++;
                if (up != previous) transitions++;
                previous = up;
                total++;
            }
        }
        // stationary down rate p_fail / (p_fail + p_recover) = 0.25; 24,000 correlated draws: a generous margin
        double rate = (double)down / total;
        Assert.InRange(rate, 0.22, 0.28);
        Assert.True(transitions > 1000, $"the chains should switch often, got {transitions} transitions");
        // every sensor starts up
        foreach (int agent in holders) Assert.True(schedule.Available(agent, "b", 1));
        // another seed draws other chains
        var other = DynamicsSchedule.Of(cfg with { Seed = cfg.Seed + 1 })!;
        Assert.Contains(Enumerable.Range(1, 200), r => other.Available(1, "b", r) != schedule.Available(1, "b", r));
    }

    [Fact]
    public void Churn_schedule_is_absent_outside_join_and_leave_and_leaves_at_its_rate()
    {
        var cfg = TestConfigs.Load("rounds=20", "churn.join=[{type: a+b, count: 2, round: 5}]", "churn.leave=[{agents: [0], round: 7}]");
        var s = DynamicsSchedule.Of(cfg)!;
        // the two highest a+b ids join at 5; agent 0 leaves at 7
        Assert.Equal([(8, 5), (11, 5)], s.Newcomers);
        foreach (int a in new[] { 8, 11 })
            for (int r = 1; r <= 20; r++) Assert.Equal(r >= 5, s.Present(a, r));
        for (int r = 1; r <= 20; r++) Assert.Equal(r < 7, s.Present(0, r));
        Assert.True(s.Churns(0) && s.Churns(8) && !s.Churns(2));
        Assert.Equal(s.Unavailable(8, 3), new HashSet<string> { "a", "b" });
        // a newcomer's groups rejoin with a warm start in its first round only
        Assert.True(s.Joining(8, "head/redundant|16x8;16", 5));
        Assert.False(s.Joining(8, "head/redundant|16x8;16", 6));
        // leave_rate: present after round r with probability (1 - p)^(r - 1); 12 agents x 40 seeds
        int left = 0, n = 0;
        for (int seed = 1; seed <= 40; seed++)
        {
            var rated = DynamicsSchedule.Of(TestConfigs.Load("rounds=10", "churn.leave_rate=0.1", $"seed={seed}"))!;
            for (int a = 0; a < 12; a++, n++) if (!rated.Present(a, 10)) left++;
        }
        Assert.InRange((double)left / n, 1 - Math.Pow(0.9, 9) - 0.08, 1 - Math.Pow(0.9, 9) + 0.08);
    }

    [Fact]
    public void Training_masks_drop_each_modality_at_its_missing_rate_and_down_sensors_always()
    {
        var cfg = TestConfigs.Load("dynamics.train_missing={a: 0.3}", "sim.batch_agents=true");
        using var sim = new Simulator(cfg, ".");
        var learner = sim.Learners.First(l => l.TypeName == "a+b" && l.Agents.Count > 1);
        learner.Agents[1].Unavailable = new HashSet<string> { "b" };
        double a = 0, n = 0;
        for (int i = 0; i < 200; i++)
        {
            var present = learner.TrainPresence(16)!;
            using var pa = present["a"];
            using var pb = present["b"];
            a += pa.sum().item<float>();
            n += pa.numel();
            // b: missing only (and always) for the agent whose sensor is down
            Assert.Equal(0f, pb[1].sum().item<float>());
            Assert.Equal(16f * (learner.Agents.Count - 1), pb.sum().item<float>());
        }
        Assert.InRange(a / n, 0.66, 0.74);
    }

    [Fact]
    public void A_missing_modality_zeroes_its_input_and_masks_the_heads_that_need_it()
    {
        var cfg = TestConfigs.Load();
        var specs = new[] { new ModalitySpec("a", [6]), new ModalitySpec("b", [6]) };
        using var model = new AgentModel(["a", "b"], specs, 4, cfg.Model, 1, agents: 1);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var inputs = new Dictionary<string, torch.Tensor> { ["a"] = torch.randn(1, 5, 6), ["b"] = torch.randn(1, 5, 6) };
        var present = new Dictionary<string, torch.Tensor>
        {
            ["a"] = torch.ones(1, 5),
            ["b"] = torch.tensor(new float[] { 1, 0, 1, 0, 1 }, [1, 5]),
        };
        var o = model.Forward(inputs, present: present);
        var zeroB = new Dictionary<string, torch.Tensor> { ["a"] = inputs["a"], ["b"] = inputs["b"].mul(present["b"].unsqueeze(-1)) };
        var full = model.Forward(zeroB);
        foreach (int i in new[] { 1, 3 })
        {
            // the heads that need b predict nothing (zero logits) where b is missing; unique/a is untouched
            Assert.Equal(0f, o.HeadLogits["unique/b"][0, i].abs().sum().item<float>());
            Assert.Equal(0f, o.HeadLogits["synergy"][0, i].abs().sum().item<float>());
            Assert.True(torch.allclose(o.HeadLogits["unique/a"][0, i], full.HeadLogits["unique/a"][0, i], 1e-5, 1e-6));
            // the redundant head reads a's redundant slice alone
            Assert.False(torch.allclose(o.HeadLogits["redundant"][0, i], full.HeadLogits["redundant"][0, i], 1e-5, 1e-6));
        }
        foreach (int i in new[] { 0, 2, 4 })
            foreach (var h in o.HeadLogits.Keys)
                Assert.True(torch.allclose(o.HeadLogits[h][0, i], full.HeadLogits[h][0, i], 1e-5, 1e-6), h);
    }

    [Fact]
    public void Evaluation_reports_accuracy_with_the_failed_modality_missing_and_with_every_sensor()
    {
        // agents 2 (a+b) and 1 (b) lose b at round 3: they are evaluated without b, and with every sensor too
        var cfg = TestConfigs.Load("rounds=4", "dynamics.changes=[{kind: lose, modality: b, agents: [1, 2], round: 3}]");
        using var sim = new Simulator(cfg, ".");
        var r = sim.Run();
        var last = r.Metrics.Where(m => m.Round == 4).ToDictionary(m => m.Agent);
        Assert.Equal("b", last[2].Unavailable);
        Assert.Equal("", last[0].Unavailable);
        Assert.NotNull(last[2].AllSensorsAccuracy);
        // a b-only agent without its sensor has every head masked (uniform): it predicts the first class for every sample
        double firstClass = sim.Data.Test.Labels.Count(y => y == 0) / (double)sim.Data.Test.Count;
        Assert.Equal(firstClass, last[1].Accuracy, 6);
        Assert.NotEqual(firstClass, last[1].AllSensorsAccuracy!.Value, 6);
        // an agent with every sensor up gets the same number both ways
        Assert.Equal(last[0].Accuracy, last[0].AllSensorsAccuracy!.Value, 9);
        // a lost sensor's groups left their overlays: agent 2 shared no b group after round 1 (its neighbours did not wait)
        Assert.Equal(0, sim.Cores.Sum(c => c.Tally.DeadlineRounds));
    }

    public static TheoryData<string, string[]> Rejoins => new()
    {
        // agent 2 (a+b) gains b at round 3: its b groups join their overlays then
        { "gain", ["dynamics.changes=[{kind: gain, modality: b, agents: [2], round: 3}]"] },
        // agent 2 joins the run at round 3: every group joins
        { "join", ["churn.join=[{agents: [2], round: 3}]"] },
    };

    [Theory]
    [MemberData(nameof(Rejoins))]
    public void A_group_that_joins_its_overlay_starts_from_its_neighbours_average(string name, string[] sets)
    {
        var cfg = TestConfigs.Load([.. sets, "rounds=3"]);
        using var sim = new Simulator(cfg, ".");
        var joiner = sim.Cores[2];
        var bKeys = joiner.SharedKeys.Where(k => joiner.Schedule!.Joining(2, k, 3)).ToHashSet();
        // gain: the b groups and the synergy groups (they need both modalities); join: every group
        Assert.Contains(bKeys, k => k.StartsWith("head/unique/b", StringComparison.Ordinal));
        Assert.Contains(bKeys, k => k.StartsWith("head/synergy/", StringComparison.Ordinal));
        Assert.Equal(name == "join", bKeys.Any(k => k.StartsWith("head/unique/a", StringComparison.Ordinal)));
        var received = new Dictionary<string, List<float[][]>>();
        var sentByJoiner = new List<(int Round, string Key)>();
        sim.OnDelivered = (from, to, p) =>
        {
            if (from == 2 && bKeys.Contains(p.Key)) sentByJoiner.Add((p.Round, p.Key));
            if (to != 2 || p.Round != 3 || !bKeys.Contains(p.Key)) return;
            if (!received.TryGetValue(p.Key, out var list)) received[p.Key] = list = new();
            list.Add(p.Values.Select(v => v.to_type(torch.ScalarType.Float32).data<float>().ToArray()).ToArray());
        };
        sim.Run();
        // before round 3 the joiner had no such groups in any overlay, and in round 3 it only listened
        Assert.Empty(sentByJoiner);
        Assert.NotEmpty(received);
        Assert.Equal(received.Count, joiner.Tally.WarmStarts);
        foreach (var g in joiner.Learner.Model.Groups.Where(g => received.ContainsKey(g.Key)))
        {
            var payloads = received[g.Key];
            for (int i = 0; i < g.Parameters.Count; i++)
            {
                var mine = g.Parameters[i].to_type(torch.ScalarType.Float32).data<float>().ToArray();
                for (int j = 0; j < mine.Length; j++)
                    Assert.Equal(payloads.Average(p => p[i][j]), mine[j], 4);
            }
        }
        // nobody waited for the listener
        Assert.Equal(0, sim.Cores.Sum(c => c.Tally.DeadlineRounds));
        if (name == "join")
        {
            Assert.DoesNotContain(sim.Cores[2].Tally.Metrics, m => m.Round < 3);
            Assert.Equal(0, sim.Cores[2].Tally.AgentSteps - 1 * sim.Cores[2].Learner.StepsPerRound);
        }
    }

    [Fact]
    public void Leaving_agents_and_failing_sensors_do_not_stall_their_neighbours()
    {
        // with latency and a long deadline, waiting for an absent neighbour would end rounds at the deadline
        var cfg = TestConfigs.Load("rounds=6", "churn.leave=[{agents: [2, 4], round: 3}]", "dynamics.failure={b: {p_fail: 0.5, p_recover: 0.5}}",
            "timing.latency_ms=10", "timing.deadline_ms=60000");
        using var sim = new Simulator(cfg, ".");
        var r = sim.Run();
        Assert.Equal(0, sim.Cores.Sum(c => c.Tally.DeadlineRounds));
        Assert.Equal(0, sim.Cores.Sum(c => c.Tally.Missing));
        // the ones that left stop evaluating and sending
        foreach (int gone in new[] { 2, 4 })
        {
            Assert.DoesNotContain(r.Metrics, m => m.Agent == gone && m.Round > 2);
            var atLeave = r.Metrics.Single(m => m.Agent == gone && m.Round == 2);
            Assert.Equal(atLeave.BytesSent, sim.Cores[gone].Tally.BytesSent);
        }
        // a round takes compute + latency, never the deadline
        Assert.True(r.Timing!.MeanRoundSeconds < 1, $"mean round {r.Timing.MeanRoundSeconds} s");
        Assert.All(r.Metrics.Where(m => m.Round == 6), m => Assert.Equal(6, m.Round));
        Assert.Equal(10, r.Metrics.Count(m => m.Round == 6));
    }

    [Theory]
    [InlineData("dynamics.train_missing={a: 1.5}", "dynamics.train_missing.a")]
    [InlineData("dynamics.test_missing={a: -0.1}", "dynamics.test_missing.a")]
    [InlineData("dynamics.failure={b: {p_fail: 0.1, p_recover: 2}}", "dynamics.failure.b.p_recover")]
    [InlineData("dynamics.failure={c: {p_fail: 0.1}}", "dynamics.failure: unknown modality 'c'")]
    [InlineData("dynamics.changes=[{kind: gain, modality: z, agents: [2], round: 2}]", "dynamics.changes[0].modality: unknown modality 'z'")]
    [InlineData("dynamics.changes=[{kind: gain, modality: b, agents: [0], round: 2}]", "dynamics.changes[0].modality: agent 0 (type a) does not hold 'b'")]
    [InlineData("dynamics.changes=[{kind: swap, modality: b, agents: [2], round: 2}]", "dynamics.changes[0].kind")]
    [InlineData("churn.join=[{agents: [3], round: 9}]", "churn.join[0].round: round 9 is beyond the run's last round (rounds: 4)")]
    [InlineData("churn.leave=[{agents: [30], round: 2}]", "churn.leave[0].agents: agent 30 does not exist")]
    [InlineData("churn.join=[{type: c, round: 2}]", "churn.join[0].type: no agent has type 'c'")]
    [InlineData("churn.leave_rate=1.2", "churn.leave_rate")]
    public void Bad_dynamics_input_names_the_field(string set, string expected)
    {
        var e = Assert.Throws<ConfigException>(() => TestConfigs.Load(set));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Cli_exits_with_code_2_on_a_bad_rate()
    {
        string dir = Directory.CreateTempSubdirectory("parse-dyn").FullName;
        try
        {
            string cfg = Path.Combine(dir, "exp.yaml");
            File.WriteAllText(cfg, TestConfigs.Small);
            Assert.Equal(2, Parse.Cli.Program.Main(["run", cfg, "--out", Path.Combine(dir, "out"), "--quiet", "--set", "dynamics.failure={b: {p_fail: 7}}"]));
            Assert.False(Directory.Exists(Path.Combine(dir, "out")));
        }
        finally { Directory.Delete(dir, true); }
    }
}
