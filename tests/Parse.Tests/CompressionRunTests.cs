using Parse.Federation.Payload;
using Parse.Reporting;
using Parse.Simulation;

namespace Parse.Tests;

public class CompressionRunTests
{
    public static IEnumerable<object[]> Chains()
    {
        yield return [""];
        yield return ["payload.processors=[float16]"];
        yield return ["payload.processors=[lz4]"];
        yield return ["payload.processors=[top-k,error-feedback]"];
        yield return ["payload.processors=[random-k]"];
        yield return ["payload.processors=[qsgd,error-feedback]|payload.bits=3"];
        yield return ["payload.processors=[qsgd,error-feedback,zstd]|payload.bits=4"];
        yield return ["payload.processors=[qsgd-zero,error-feedback,zstd]|payload.bits=3"];
        yield return ["payload.processors=[top-k,choco,float16,lz4]|mixing.rule=choco"];
        yield return ["privacy.clip=0.5|privacy.roles=[synergy,redundant]|payload.processors=[top-k]"];
    }

    private static (SimulationResult Result, long EncodedSum) Run(params string[] overrides)
    {
        using var sim = new Simulator(TestConfigs.Load(overrides.Where(o => o.Length > 0).ToArray()), ".");
        long sum = 0;
        sim.OnDelivered = (_, _, p) => sum += PayloadCodec.Encode(p).Length;
        var r = sim.Run();
        return (r, sum);
    }

    [Theory]
    [MemberData(nameof(Chains))]
    public void Bytes_sent_are_the_exact_encoded_sizes_and_nothing_is_refused(string chain)
    {
        var (r, encoded) = Run(chain.Split('|'));
        Assert.True(r.BytesSentTotal > 0);
        Assert.Equal(encoded, r.BytesSentTotal);
        Assert.Empty(r.Rejected);
        Assert.All(r.FinalAccuracy, a => Assert.InRange(a, 0.0, 1.0));
    }

    [Fact]
    public void Top_k_sends_a_fraction_of_float32_and_summary_reports_bytes_to_target_and_privacy()
    {
        var (full, _) = Run("rounds=6");
        var (topk, _) = Run("rounds=6", "payload.processors=[top-k,error-feedback]", "payload.topk_fraction=0.02");
        Assert.True(topk.BytesSentTotal * 8 < full.BytesSentTotal, $"top-k {topk.BytesSentTotal} vs float32 {full.BytesSentTotal}");

        var cfg = TestConfigs.Load("rounds=6", "privacy.clip=1", "privacy.noise_multiplier=2", "privacy.roles=[synergy]", "eval.target_fraction=0.5");
        using var sim = new Simulator(cfg, ".");
        var r = sim.Run();
        var s = RunWriter.Summary(cfg, r);
        Assert.Equal(0.5, s["bytes_to_target"]!["fraction"]!.GetValue<double>());
        foreach (var t in new[] { "a", "b", "a+b" })
        {
            var entry = s["bytes_to_target"]!["by_agent_type"]![t]!;
            Assert.True(entry["round"]!.GetValue<int>() is >= 2 and <= 6);
            Assert.True(entry["bytes_per_agent_mean"]!.GetValue<double>() > 0);
        }
        // only a+b agents hold synergy groups: 6 rounds x their synergy groups, each a Gaussian release with sigma 2
        var eps = s["privacy"]!["epsilon"]!["by_agent_type"]!.AsObject();
        Assert.Equal(["a+b"], eps.Select(kv => kv.Key));
        int groups = sim.Agents.First(a => a.TypeName == "a+b").Model.Groups.Count(g => g.Role == Model.GroupRole.Synergy);
        var expected = new RdpAccountant();
        expected.AddGaussian(2, 6 * groups);
        Assert.Equal(Math.Round(expected.Epsilon(1e-5), 4), eps["a+b"]!["max"]!.GetValue<double>());
        Assert.Null(RunWriter.Summary(TestConfigs.Load(), r)["privacy"]);
    }

    [Fact]
    public void Choco_without_compression_and_gamma_1_is_metropolis_and_with_top_k_learns_as_well()
    {
        string[] four = ["agents.count=4", "agents.mix=1:1:2", "topology.kind=ring", "rounds=1"];
        using var metropolis = new Simulator(TestConfigs.Load(four), ".");
        using var exact = new Simulator(TestConfigs.Load([.. four, "payload.processors=[choco]", "mixing.rule=choco", "payload.choco_gamma=1"]), ".");
        metropolis.Run();
        exact.Run();
        for (int a = 0; a < 4; a++)
            foreach (var (g, h) in metropolis.Agents[a].Model.Groups.Zip(exact.Agents[a].Model.Groups))
                foreach (var (p, q) in g.Parameters.Zip(h.Parameters))
                    Assert.True(p.allclose(q, rtol: 0, atol: 1e-5), $"agent {a}, {g.Key}");

        string[] longer = ["agents.count=4", "agents.mix=1:1:2", "rounds=24", "eval.every=24", "data.samples_per_agent=64"];
        var (m, _) = Run(longer);
        var (c, _) = Run([.. longer, "payload.processors=[top-k,choco]", "mixing.rule=choco", "payload.topk_fraction=0.25"]);
        Assert.True(c.BytesSentTotal * 2 < m.BytesSentTotal);
        double accM = m.FinalAccuracy.Average(), accC = c.FinalAccuracy.Average();
        Assert.True(Math.Abs(accM - accC) < 0.08, $"metropolis {accM:F3} vs choco {accC:F3}");
    }
}
