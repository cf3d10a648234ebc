using Parse.Simulation;
using TorchSharp;

namespace Parse.Tests;

/// <summary>
/// One model code path for one agent and for many: agents of one type trained as one stacked model (<c>sim.batch_agents</c>)
/// end where the same agents trained one by one (A = 1 each) end, for every model kind.
/// </summary>
public class AgentBatchTests
{
    /// <summary>Largest absolute difference between the two simulators' parameters, over all agents.</summary>
    private static double MaxParameterDifference(Simulator x, Simulator y)
    {
        double worst = 0;
        for (int i = 0; i < x.Agents.Count; i++)
        {
            var px = x.Agents[i].Model.parameters().ToList();
            var py = y.Agents[i].Model.parameters().ToList();
            Assert.Equal(px.Count, py.Count);
            for (int k = 0; k < px.Count; k++)
            {
                Assert.Equal(px[k].shape, py[k].shape);
                worst = Math.Max(worst, (px[k] - py[k]).abs().max().item<float>());
            }
        }
        return worst;
    }

    private static void Compare(string[] common, int groups = 3)
    {
        using var plain = new Simulator(TestConfigs.Load([.. common, "sim.batch_agents=false"]), ".");
        using var batched = new Simulator(TestConfigs.Load([.. common, "sim.batch_agents=true"]), ".");
        Assert.Empty(plain.Batches);
        Assert.All(plain.Learners, l => Assert.Single(l.Agents));
        Assert.Equal(groups, batched.Batches.Count);                      // a, b, a+b
        Assert.Equal(12, batched.Learners.Sum(b => b.Agents.Count));
        Assert.True(MaxParameterDifference(plain, batched) == 0, "same initial parameters");
        // the same keys, shapes and views on both sides
        for (int i = 0; i < plain.Agents.Count; i++)
            Assert.Equal(plain.Agents[i].Model.Groups.Select(g => g.Key), batched.Agents[i].Model.Groups.Select(g => g.Key));

        var rp = plain.Run();
        var rb = batched.Run();
        // the same algorithm: after 3 rounds x 2 steps with mixing, parameters agree up to float rounding
        double diff = MaxParameterDifference(plain, batched);
        Assert.True(diff < 1e-4, $"parameters differ by {diff}");
        for (int i = 0; i < rp.FinalAccuracy.Count; i++) Assert.Equal(rp.FinalAccuracy[i], rb.FinalAccuracy[i], 0.02);
        Assert.Equal(rp.Metrics.Count, rb.Metrics.Count);
    }

    [Theory]
    [InlineData("product", "mean", "unique,redundant,synergy")]
    [InlineData("concat", "each", "unique,redundant,synergy")]
    [InlineData("gated", "mean", "redundant,synergy")]
    [InlineData("attention", "mean", "unique,synergy")]
    [InlineData("mean", "mean", "unique,redundant,synergy")]
    [InlineData("sum", "mean", "unique,redundant,synergy")]
    public void Batched_training_matches_training_agent_by_agent(string fusion, string redundantInput, string heads) =>
        Compare(["rounds=3", $"model.fusion={fusion}", $"model.redundant_input={redundantInput}", $"model.heads=[{heads}]",
                 "loss.separation=0.1", "train.weight_decay=0.0001"]);

    [Theory]
    [InlineData("cnn1d")]
    [InlineData("cnn2d")]
    public void Batched_training_matches_for_convolutional_trunks(string kind) =>
        Compare(["rounds=3", $"model.encoders.default.kind={kind}", "model.encoders.default.channels=4", "model.encoders.default.layers=2",
                 "loss.separation=0.1"]);

    [Fact]
    public void Batched_training_matches_for_the_monolithic_model() =>
        Compare(["rounds=3", "model.fission=false", "strategy=dsgd-hybrid"]);

    [Fact]
    public void Batched_training_matches_for_the_stacked_ensemble_and_other_optimizers()
    {
        // the hold-out split leaves agents with different numbers of samples: fits and probes run per hold-out size
        Compare(["rounds=3", "model.ensemble=stacked", "model.ensemble_holdout=0.25", "eval.every=1"]);
        Compare(["rounds=3", "train.optimizer=sgd", "train.momentum=0.9"]);
        Compare(["rounds=3", "train.optimizer=adam-torch", "model.ensemble=prob-mean"]);
    }

    [Fact]
    public void Every_configuration_batches_and_batching_is_the_default()
    {
        Assert.True(TestConfigs.Load().Sim.BatchAgents, "batching is the default");
        using var sim = new Simulator(TestConfigs.Load("rounds=1", "model.fission=false", "strategy=dsgd-hybrid"), ".");
        Assert.Equal(3, sim.Batches.Count);
        Assert.All(sim.Run().FinalAccuracy, a => Assert.InRange(a, 0, 1));
        // without lockstep timing, agents train alone
        using var async = new Simulator(TestConfigs.Load("rounds=1", "timing.compute_ms=10", "timing.straggler_fraction=0.25",
            "timing.straggler_slowdown=3", "timing.deadline_ms=1000"), ".");
        Assert.Empty(async.Batches);
    }

    [Fact]
    public void Parameter_groups_are_views_of_the_stacked_store()
    {
        using var sim = new Simulator(TestConfigs.Load("rounds=1"), ".");
        var agent = sim.Agents.First(a => a.Modalities.Count > 1);
        var group = agent.Model.Groups.First(g => g.Name == "head/redundant");
        Assert.True(agent.Group.Agents.Count > 1);
        Assert.Equal(agent.Index, group.Agent);
        Assert.Equal(group.Stacked[0].shape[1..], group.Parameters[0].shape);
        using (torch.no_grad()) group.Parameters[0].fill_(0.5f);
        Assert.Equal(0.5f, group.Stacked[0][agent.Index].mean().item<float>(), 6);
        Assert.NotEqual(0.5f, group.Stacked[0][(agent.Index + 1) % agent.Group.Agents.Count].mean().item<float>());
    }
}
