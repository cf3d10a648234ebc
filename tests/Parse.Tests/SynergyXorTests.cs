using Parse.Simulation;

namespace Parse.Tests;

/// <summary>DESIGN.md: the synergy path must represent cross-modal interactions such as XOR.</summary>
public class SynergyXorTests
{
    private static double XorAccuracy(string fusion, string head)
    {
        var cfg = TestConfigs.Load(
            "strategy=local", "rounds=60", "eval.every=60", "seed=11",
            "data.redundant_bits=0", "data.unique_bits=0", "data.synergy_bits=1", "data.noise=0.1", "data.rotate=false",
            "data.samples_per_agent=512", "data.test_samples=512",
            "agents.count=1", "agents.mix=0:0:1", "model.heads=[synergy]",
            $"model.fusion={fusion}", $"model.synergy_head={head}",
            "train.lr=0.01", "train.batch_size=64", "train.local_steps=10");
        using var sim = new Simulator(cfg, ".");
        return sim.Run().FinalAccuracy.Single();
    }

    [Fact]
    public void Concat_fusion_with_mlp_head_learns_xor_while_linear_head_on_mean_cannot()
    {
        double nonlinear = XorAccuracy("concat", "mlp");
        double linear = XorAccuracy("mean", "linear");
        Assert.True(nonlinear > 0.9, $"concat + MLP synergy head reached only {nonlinear:F3} on XOR");
        Assert.True(linear < 0.65, $"linear head on mean-fused slices reached {linear:F3} on XOR; it should be near chance");
    }
}
