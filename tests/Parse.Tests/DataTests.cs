using Parse.Config;
using Parse.Data;
using TorchSharp;

namespace Parse.Tests;

public class DataTests
{
    [Fact]
    public void Synthetic_pid_ceilings_follow_the_closed_form()
    {
        var gen = new SyntheticPid(new DataConfig { Noise = 1.0, DimsPerFactor = 4 });
        Assert.Equal(16, gen.NumClasses);
        double p1 = Util.NormalDistribution.Cdf(2.0), p2 = Util.NormalDistribution.Cdf(Math.Sqrt(8));
        Assert.Equal(p1 * p1 * 0.25, gen.Ceiling(["a"]), 9);  // redundant p1, unique p1, other unique 0.5, xor 0.5
        double xor = (1 + Math.Pow(2 * p1 - 1, 2)) / 2;
        Assert.Equal(p2 * p1 * p1 * xor, gen.Ceiling(["a", "b"]), 9);
        Assert.Equal(1.0, new SyntheticPid(new DataConfig { Noise = 0 }).Ceiling(["a", "b"]), 12);
        Assert.Equal(0.98, Util.NormalDistribution.Cdf(2.0537), 3);
    }

    [Fact]
    public void Synthetic_pid_bits_are_where_the_design_says_without_noise()
    {
        // noise 0, no rotation: features are exact +-1 codes; check every sample against its label bits
        var cfg = new DataConfig { Noise = 0, Rotate = false, NuisanceDims = 0, DimsPerFactor = 1, TestSamples = 64 };
        var gen = new SyntheticPid(cfg);
        using var bundle = gen.Generate(200, seed: 1);
        var a = bundle.Train.Views["a"].data<float>().ToArray();
        var b = bundle.Train.Views["b"].data<float>().ToArray();
        for (int i = 0; i < 200; i++)
        {
            int y = bundle.Train.Labels[i];
            int Bit(int k) => (y >> k) & 1;
            int Sign(float v) => v > 0 ? 1 : 0;
            Assert.Equal(Bit(0), Sign(a[i * 3 + 0]));   // redundant in a
            Assert.Equal(Bit(0), Sign(b[i * 3 + 0]));   // redundant in b
            Assert.Equal(Bit(1), Sign(a[i * 3 + 1]));   // unique a
            Assert.Equal(Bit(2), Sign(b[i * 3 + 1]));   // unique b
            Assert.Equal(Bit(3), Sign(a[i * 3 + 2]) ^ Sign(b[i * 3 + 2]));   // synergy = xor of hidden bits
        }
        // the hidden bit alone carries no information on the synergy bit
        double agree = Enumerable.Range(0, 200).Average(i => (a[i * 3 + 2] > 0 ? 1 : 0) == ((bundle.Train.Labels[i] >> 3) & 1) ? 1.0 : 0.0);
        Assert.InRange(agree, 0.35, 0.65);
        // test set is class balanced
        Assert.All(bundle.Test.Labels.GroupBy(l => l), g => Assert.Equal(4, g.Count()));
    }

    [Fact]
    public void Partitioners_cover_the_pool_exactly_once_and_dirichlet_skews_labels()
    {
        var rng = new Random(1);
        int[] labels = Enumerable.Range(0, 2000).Select(_ => rng.Next(10)).ToArray();
        foreach (var kind in new[] { "iid", "dirichlet" })
        {
            var parts = Partitioner.Split(labels, 10, 20, new PartitionConfig { Kind = kind, Alpha = 0.1 }, 3);
            Assert.Equal(Enumerable.Range(0, 2000), parts.SelectMany(p => p).Order());
        }
        double MaxShare(string kind, double alpha) => Partitioner.Split(labels, 10, 20, new PartitionConfig { Kind = kind, Alpha = alpha }, 3)
            .Average(p => p.GroupBy(i => labels[i]).Max(g => g.Count()) / (double)p.Length);
        Assert.True(MaxShare("dirichlet", 0.1) > MaxShare("iid", 0) + 0.3, "alpha=0.1 should concentrate each agent on few labels");
    }

    [Fact]
    public void Agent_mix_is_apportioned_and_placed()
    {
        var counts = AgentPopulation.Counts(new AgentsConfig { Count = 30, Mix = "20:5:5" }, 3);
        Assert.Equal(new[] { 20, 5, 5 }, counts);
        Assert.Equal(new[] { 4, 3, 3 }, AgentPopulation.Counts(new AgentsConfig { Count = 10, Mix = "1:1:1" }, 3));
        Assert.Equal(new[] { 2, 0, 7 }, AgentPopulation.Counts(new AgentsConfig { Count = null, Mix = "2:0:7" }, 3));
        var agents = AgentPopulation.Build(new AgentsConfig { Count = 6, Mix = "1:1:1" }, ["a", "b"], 1);
        Assert.Equal(new[] { "a", "b", "a+b", "a", "b", "a+b" }, agents.Select(AgentTypes.Name));
        var three = AgentPopulation.Build(new AgentsConfig { Count = 8, Mix = "1:1:1:1", Types = ["a", "b", "c", "a+b+c"] }, ["a", "b", "c"], 1);
        Assert.Equal(2, three.Count(t => t.Count == 3));
    }

    [Fact]
    public void Nan_in_data_is_reported_with_the_modality()
    {
        using var data = new MultimodalData(new Dictionary<string, torch.Tensor> { ["img"] = torch.tensor(new float[] { 1, float.NaN }, [2, 1]) }, [0, 1], 2);
        var e = Assert.Throws<ConfigException>(() => data.EnsureFinite("my.csv"));
        Assert.Contains("my.csv", e.Message);
        Assert.Contains("'img'", e.Message);
    }
}
