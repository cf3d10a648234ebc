using Parse.Config;
using Parse.Data;
using Parse.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Parse.Tests;

public class ModelTests
{
    private static readonly ModalitySpec[] Specs = [new("a", [10]), new("b", [12]), new("c", [1, 8, 8])];

    private static ModelConfig Cfg(int[] split, string fusion = "concat") => new()
    {
        LatentDim = split.Sum(),
        Split = split.ToList(),
        Fusion = fusion,
        Encoders = new() { ["default"] = new EncoderConfig { Hidden = 20 }, ["c"] = new EncoderConfig { Kind = "cnn2d", Hidden = 20, Channels = 4 } },
    };

    [Theory]
    [InlineData(new[] { 16, 16, 16 })]
    [InlineData(new[] { 8, 32, 8 })]
    [InlineData(new[] { 1, 1, 30 })]
    public void Fission_produces_slices_of_the_configured_sizes(int[] split)
    {
        using var scope = torch.NewDisposeScope();
        using var model = new AgentModel(["a", "b"], Specs, 5, Cfg(split), seed: 1);
        // batched-first: [A, N, ...] with A = 1 agent
        var inputs = new Dictionary<string, Tensor> { ["a"] = torch.randn(1, 7, 10), ["b"] = torch.randn(1, 7, 12) };
        var out_ = model.Forward(inputs);
        foreach (var m in new[] { "a", "b" })
        {
            Assert.Equal(new long[] { 1, 7, split[0] }, out_.Slices[m].Unique.shape);
            Assert.Equal(new long[] { 1, 7, split[1] }, out_.Slices[m].Redundant.shape);
            Assert.Equal(new long[] { 1, 7, split[2] }, out_.Slices[m].Synergy!.shape);
        }
        Assert.Equal(new[] { "redundant", "synergy", "unique/a", "unique/b" }, out_.HeadLogits.Keys.Order());
        Assert.Equal(new long[] { 1, 7, 5 }, out_.EnsembleLogProb.shape);
        // ensemble rows are log-probabilities of a distribution... of the mean of log-probs: exp sums to <= 1
        var total = out_.EnsembleLogProb.exp().sum([2]);
        Assert.True(total.le(1.0001).all().item<bool>());
    }

    [Fact]
    public void Unimodal_agent_has_no_synergy_parameters_and_every_parameter_is_in_one_group()
    {
        using var uni = new AgentModel(["a"], Specs, 4, Cfg([8, 8, 8]), 1);
        Assert.DoesNotContain(uni.GroupsOf(0), g => g.Role == GroupRole.Synergy);
        Assert.DoesNotContain(uni.HeadNames, h => h == "synergy");
        Assert.Equal(uni.parameters().Count(), uni.GroupsOf(0).Sum(g => g.Parameters.Count));
        using var multi = new AgentModel(["a", "b", "c"], Specs, 4, Cfg([8, 8, 8]), 1);
        Assert.Contains(multi.GroupsOf(0), g => g.Name == "head/synergy/a+b+c");
        Assert.Contains(multi.GroupsOf(0), g => g.Name.StartsWith("enc/c/cnn2d-", StringComparison.Ordinal));
        Assert.Equal(multi.parameters().Count(), multi.GroupsOf(0).Sum(g => g.Parameters.Count));
        Assert.Equal(multi.GroupsOf(0).Count, multi.GroupsOf(0).Select(g => g.Key).Distinct().Count());
    }

    [Fact]
    public void Same_key_means_same_initial_values_on_different_agent_types()
    {
        using var uni = new AgentModel(["a"], Specs, 4, Cfg([8, 8, 8]), 7);
        using var multi = new AgentModel(["a", "b"], Specs, 4, Cfg([8, 8, 8]), 7);
        var shared = uni.GroupsOf(0).Select(g => g.Key).Intersect(multi.GroupsOf(0).Select(g => g.Key)).ToList();
        Assert.Contains(shared, k => k.StartsWith("enc/a/", StringComparison.Ordinal) && k.Contains("/trunk"));
        Assert.Contains(shared, k => k.StartsWith("head/redundant", StringComparison.Ordinal));
        foreach (var key in shared)
        {
            var pu = uni.GroupsOf(0).Single(g => g.Key == key).Parameters;
            var pm = multi.GroupsOf(0).Single(g => g.Key == key).Parameters;
            for (int i = 0; i < pu.Count; i++) Assert.True(pu[i].allclose(pm[i], 0, 0), $"{key} differs at init");
        }
        // different architecture => different key, never mixed
        var other = Cfg([8, 8, 8]) with { Encoders = new() { ["default"] = new EncoderConfig { Hidden = 24 } } };
        using var wide = new AgentModel(["a"], Specs, 4, other, 7);
        Assert.Empty(wide.GroupsOf(0).Where(g => g.Name.StartsWith("enc/", StringComparison.Ordinal)).Select(g => g.Key)
            .Intersect(uni.GroupsOf(0).Select(g => g.Key)));
    }

    [Theory]
    [InlineData("concat", "mlp", true)]
    [InlineData("attention", "cnn1d", true)]
    [InlineData("gated", "cnn2d", true)]
    [InlineData("concat", "mlp", false)]
    public void Every_agent_of_a_stacked_model_starts_as_a_single_agent_model_and_computes_alone(string fusion, string kind, bool fission)
    {
        using var scope = torch.NewDisposeScope();
        var cfg = Cfg([6, 6, 6], fusion) with
        {
            Fission = fission,
            Encoders = new() { ["default"] = new EncoderConfig { Kind = kind, Hidden = 12, Channels = 3, Layers = 1 } },
        };
        ModalitySpec[] specs = [new("a", [16]), new("b", [2, 8])];
        using var one = new AgentModel(["a", "b"], specs, 4, cfg, seed: 5);
        using var three = new AgentModel(["a", "b"], specs, 4, cfg, seed: 5, agents: 3);
        Assert.Equal(one.GroupsOf(0).Select(g => g.Key), three.GroupsOf(2).Select(g => g.Key));
        for (int k = 0; k < 3; k++)
            foreach (var (g1, g3) in one.GroupsOf(0).Zip(three.GroupsOf(k)))
                for (int i = 0; i < g1.Parameters.Count; i++)
                    Assert.True(g1.Parameters[i].allclose(g3.Parameters[i], 0, 0), $"agent {k}: {g1.Key} differs at init");

        // agent 1 alone (selection) = agent 1 in the stack = a one-agent model holding agent 1's values
        using (torch.no_grad())
            foreach (var p in three.parameters()) p.add_(torch.randn_like(p).mul_(0.1f));
        using (torch.no_grad())
            foreach (var (g1, g3) in one.GroupsOf(0).Zip(three.GroupsOf(1)))
                for (int i = 0; i < g1.Parameters.Count; i++) g1.Parameters[i].copy_(g3.Parameters[i]);
        var x = new Dictionary<string, Tensor> { ["a"] = torch.randn(3, 5, 16), ["b"] = torch.randn(3, 5, 2, 8) };
        var all = three.Forward(x).EnsembleLogProb;
        var alone = three.Agent(1).Forward(x.ToDictionary(kv => kv.Key, kv => kv.Value[1])).EnsembleLogProb;
        var single = one.Forward(x.ToDictionary(kv => kv.Key, kv => kv.Value[1].unsqueeze(0))).EnsembleLogProb[0];
        Assert.True(all[1].allclose(alone, rtol: 1e-4, atol: 1e-5));
        Assert.True(alone.allclose(single, rtol: 1e-4, atol: 1e-5));
        Assert.False(all[0].allclose(all[1], rtol: 1e-3, atol: 1e-4), "agents hold different values now");
    }

    [Theory]
    [InlineData("mean")]
    [InlineData("sum")]
    [InlineData("concat")]
    [InlineData("gated")]
    [InlineData("product")]
    [InlineData("attention")]
    [InlineData("bilinear")]
    public void Every_fusion_operator_runs_with_three_modalities_and_backpropagates(string fusion)
    {
        using var scope = torch.NewDisposeScope();
        using var model = new AgentModel(["a", "b", "c"], Specs, 3, Cfg([6, 6, 6], fusion), 2);
        var inputs = new Dictionary<string, Tensor> { ["a"] = torch.randn(1, 5, 10), ["b"] = torch.randn(1, 5, 12), ["c"] = torch.randn(1, 5, 64) };
        var output = model.Forward(inputs);
        var loss = Losses.Total(output, torch.tensor(new long[] { 0, 1, 2, 0, 1 }).unsqueeze(0), new LossConfig { Separation = 0.1 });
        Assert.Equal(new long[] { 1 }, loss.shape);
        Assert.True(double.IsFinite(loss.item<float>()));
        loss.sum().backward();
        var synergyHead = model.GroupsOf(0).Single(g => g.Name == "head/synergy/a+b+c");
        Assert.True(synergyHead.Stacked[0].grad is { } grad && grad.abs().sum().item<float>() > 0);
    }

    [Fact]
    public void Bilinear_fusion_holds_every_cross_product_of_two_slices()
    {
        using var scope = torch.NewDisposeScope();
        var fusion = Fusion.Create("bilinear", 3, 2);
        Assert.Equal(3 * 4, fusion.OutDim);
        var a = torch.tensor(new float[] { 1, 2 }, [1, 1, 2]);
        var b = torch.tensor(new float[] { 3, 5 }, [1, 1, 2]);
        var c = torch.tensor(new float[] { -1, 7 }, [1, 1, 2]);
        var fused = fusion.Fuse([a, b, c]);
        Assert.Equal(new long[] { 1, 1, 12 }, fused.shape);
        // pairs (a,b), (a,c), (b,c), each row-major: x_i * y_j
        float[] expected = [3, 5, 6, 10, -1, 7, -2, 14, -3, 21, -5, 35];
        Assert.Equal(expected, fused.reshape(-1).data<float>().ToArray());
        // an XOR of one sign in each slice, in any coordinates, is one fused feature: sign(a_0) * sign(b_1)
        var x = torch.tensor(new float[] { 1, 0, -1, 0, 1, 0, -1, 0 }, [1, 4, 2]);
        var y = torch.tensor(new float[] { 0, 1, 0, 1, 0, -1, 0, -1 }, [1, 4, 2]);
        var xor = Fusion.Create("bilinear", 2, 2).Fuse([x, y]).select(-1, 1).reshape(-1).data<float>().ToArray();
        Assert.Equal(new float[] { 1, -1, -1, 1 }, xor);
    }

    [Fact]
    public void InfoNce_matches_a_hand_computed_value()
    {
        // z1 = z2 = [[1,0],[0,1]], tau = 0.5: logits = [[2,0],[0,2]]; CE per row = -log(e^2/(e^2+1)) = log(1+e^-2)
        using var scope = torch.NewDisposeScope();
        var z = torch.tensor(new float[] { 1, 0, 0, 1 }, [2, 2]);
        double expected = Math.Log(1 + Math.Exp(-2));
        Assert.Equal(expected, Losses.InfoNce(z, z, 0.5).item<float>(), 5);
        // orthogonal-but-swapped pairs: positives have similarity 0, negatives 1: CE = -log(e^0/(e^0+e^2)) = log(1+e^2)
        var swapped = torch.tensor(new float[] { 0, 1, 1, 0 }, [2, 2]);
        Assert.Equal(Math.Log(1 + Math.Exp(2)), Losses.InfoNce(z, swapped, 0.5).item<float>(), 5);
        // scale invariance (rows are normalized)
        Assert.Equal(expected, Losses.InfoNce(z * 3, z * 0.1, 0.5).item<float>(), 5);
    }
}

public class PcaTests
{
    [Fact]
    public void Pca_finds_the_direction_of_largest_variance()
    {
        using var scope = torch.NewDisposeScope();
        var t = torch.linspace(-3, 3, 50);
        var dir = torch.tensor(new float[] { 1, 2, 2 }) / 3;
        var noise = torch.tensor(Enumerable.Range(0, 150).Select(i => (float)(0.01 * Math.Sin(i * 1.7))).ToArray(), [50, 3]);
        var z = t.unsqueeze(1) * dir.unsqueeze(0) + noise;
        var (x, y) = Parse.Reporting.SliceEmbeddings.Pca2(z);
        var tv = t.data<float>().ToArray();
        double corr = Correlation(x, tv.Select(v => (double)v).ToArray());
        Assert.True(Math.Abs(corr) > 0.999, $"first component correlates {corr:F4} with the generating direction");
        Assert.True(y.Max(Math.Abs) < 0.1, "second component should only hold the small noise");
    }

    private static double Correlation(double[] a, double[] b)
    {
        double ma = a.Average(), mb = b.Average();
        double cov = a.Zip(b).Sum(p => (p.First - ma) * (p.Second - mb));
        return cov / Math.Sqrt(a.Sum(v => (v - ma) * (v - ma)) * b.Sum(v => (v - mb) * (v - mb)));
    }
}
