using Parse.Simulation;
using TorchSharp;

namespace Parse.Tests;

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
                worst = Math.Max(worst, (px[k] - py[k]).abs().max().item<float>());
        }
        return worst;
    }

    [Theory]
    [InlineData("product", "mean", "unique,redundant,synergy")]
    [InlineData("concat", "each", "unique,redundant,synergy")]
    [InlineData("gated", "mean", "redundant,synergy")]
    [InlineData("attention", "mean", "unique,synergy")]
    public void Batched_training_matches_training_agent_by_agent(string fusion, string redundantInput, string heads)
    {
        string[] common = ["rounds=3", $"model.fusion={fusion}", $"model.redundant_input={redundantInput}", $"model.heads=[{heads}]",
                           "loss.separation=0.1", "train.weight_decay=0.0001"];
        using var plain = new Simulator(TestConfigs.Load([.. common, "sim.batch_agents=false"]), ".");
        using var batched = new Simulator(TestConfigs.Load([.. common, "sim.batch_agents=true"]), ".");
        Assert.Empty(plain.Batches);
        Assert.Equal(3, batched.Batches.Count);                    // a, b, a+b
        Assert.Equal(12, batched.Batches.Sum(b => b.Agents.Count));
        Assert.True(MaxParameterDifference(plain, batched) == 0, "same initial parameters");

        var rp = plain.Run();
        var rb = batched.Run();
        // the same algorithm: after 3 rounds x 2 steps with mixing, parameters agree up to float rounding
        double diff = MaxParameterDifference(plain, batched);
        Assert.True(diff < 1e-4, $"parameters differ by {diff}");
        for (int i = 0; i < rp.FinalAccuracy.Count; i++) Assert.Equal(rp.FinalAccuracy[i], rb.FinalAccuracy[i], 0.02);
    }

    [Fact]
    public void Unsupported_configurations_train_agent_by_agent()
    {
        Assert.Null(AgentBatch.Unsupported(TestConfigs.Load()));
        Assert.True(TestConfigs.Load().Sim.BatchAgents, "batching is the default");
        Assert.Contains("fission", AgentBatch.Unsupported(TestConfigs.Load("model.fission=false"))!);
        Assert.Contains("stacked", AgentBatch.Unsupported(TestConfigs.Load("model.ensemble=stacked"))!);
        Assert.Contains("sgd", AgentBatch.Unsupported(TestConfigs.Load("train.optimizer=sgd"))!);
        using var sim = new Simulator(TestConfigs.Load("rounds=1", "sim.batch_agents=true", "model.fission=false", "strategy=dsgd-hybrid"), ".");
        Assert.Empty(sim.Batches);
        Assert.All(sim.Run().FinalAccuracy, a => Assert.InRange(a, 0, 1));
    }
}
