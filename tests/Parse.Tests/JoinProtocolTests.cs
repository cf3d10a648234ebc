using Parse.Node;
using Parse.Simulation;
using TorchSharp;

namespace Parse.Tests;

/// <summary>
/// The join protocol of churn in the agent core (what the cluster runs for a newcomer process started mid-run):
/// neighbours answer once they have reached the newcomer's first round, the newcomer starts every group from the average
/// of the answers and continues at the earliest round its neighbours exchange from.
/// </summary>
public class JoinProtocolTests
{
    private static float[] Values(TorchSharp.torch.Tensor t) => t.to_type(torch.ScalarType.Float32).data<float>().ToArray();

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_newcomer_starts_from_the_average_of_its_neighbours_answers_and_continues_at_their_round(bool warm)
    {
        // agent 2 (a+b) joins at round 3 of 8; its neighbours are already further on
        var cfg = TestConfigs.Load(["churn.join=[{agents: [2], round: 3}]", "rounds=8", $"churn.warm_start={warm.ToString().ToLowerInvariant()}"]);
        using var sim = new Simulator(cfg, ".");
        var newcomer = sim.Cores[2];
        newcomer.ResumeAt(2, new AgentTally());
        Assert.True(newcomer.JoinsNext);
        Assert.Equal(warm ? 4 : 3, newcomer.JoinFirstRound);
        var targets = newcomer.JoinTargets();
        Assert.True(targets.Count >= 2, "the newcomer asks at least its two ring neighbours");
        Assert.DoesNotContain(2, targets.Keys);

        // a neighbour still before the newcomer's first round defers its answer; the others answer from where they are
        int[] at = [1, 5, 6];
        var answers = new List<JoinAnswer>();
        foreach (var ((j, keys), i) in targets.Select((t, i) => (t, i)))
        {
            sim.Cores[j].ResumeAt(at[Math.Min(i, at.Length - 1)], new AgentTally());
            var a = sim.Cores[j].AnswerJoin(2, newcomer.JoinFirstRound, keys);
            if (i == 0) { Assert.Null(a); continue; }
            Assert.NotNull(a);
            Assert.Equal(sim.Cores[j].Round + 1, a!.Next);
            Assert.Equal(keys.Length, a.Groups.Count);
            answers.Add(a);
        }
        // expected parameters: the plain average of the answers (warm), else the newcomer's own
        var expected = newcomer.Learner.Model.Groups.Where(g => answers.Any(a => a.Groups.Any(p => p.Key == g.Key))).ToDictionary(g => g.Key, g =>
            g.Parameters.Select((p, i) =>
            {
                var own = Values(p);
                if (!warm) return own;
                var from = answers.SelectMany(a => a.Groups.Where(x => x.Key == g.Key)).Select(x => Values(x.Values[i])).ToList();
                return own.Select((_, k) => from.Average(f => f[k])).ToArray();
            }).ToList());
        Assert.NotEmpty(expected);

        newcomer.Join(answers, targets.Count, 0, timedOut: true);

        // it continues at the earliest round its neighbours exchange from (6 = after the neighbour at round 5)
        Assert.Equal(5, newcomer.Round);
        Assert.Equal(warm ? expected.Count : 0, newcomer.Tally.WarmStarts);
        Assert.Contains(newcomer.Tally.Events, e => e.Contains($"{answers.Count} of {targets.Count} neighbour(s) answered", StringComparison.Ordinal));
        foreach (var g in newcomer.Learner.Model.Groups.Where(g => expected.ContainsKey(g.Key)))
            for (int i = 0; i < g.Parameters.Count; i++)
            {
                var mine = Values(g.Parameters[i]);
                for (int k = 0; k < mine.Length; k++) Assert.Equal(expected[g.Key][i][k], mine[k], 5);
            }
    }

    [Fact]
    public void Without_answers_a_newcomer_starts_cold_and_says_so()
    {
        var cfg = TestConfigs.Load(["churn.join=[{agents: [2], round: 3}]", "rounds=8"]);
        using var sim = new Simulator(cfg, ".");
        var newcomer = sim.Cores[2];
        newcomer.ResumeAt(2, new AgentTally());
        newcomer.Join([], 2, 0, timedOut: true);
        Assert.Equal(3, newcomer.Round);
        Assert.Equal(0, newcomer.Tally.WarmStarts);
        Assert.Contains(newcomer.Tally.Events, e => e.Contains("cold start: none of 2 neighbour(s) answered the join request in time", StringComparison.Ordinal));
    }
}
