using Parse.Config;
using Parse.Federation.Payload;
using Parse.Model;
using Parse.Node;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Parse.Tests;

public class CompressionTests
{
    private static float[] Data(Tensor t) => t.data<float>().ToArray();

    private static (ParameterGroup Group, Parameter P) Group(float[] init, string name = "head/redundant")
    {
        var p = new Parameter(torch.tensor(init), requires_grad: false);
        return (new ParameterGroup(name, GroupRole.Redundant, null, [p]), p);
    }

    private static ExperimentConfig Cfg(params string[] overrides) => TestConfigs.Load(overrides);

    [Fact]
    public void Top_k_keeps_exactly_the_k_largest_magnitudes()
    {
        using var scope = torch.NewDisposeScope();
        var rng = new Random(2);
        var v = Enumerable.Range(0, 95).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
        var p = new GroupPayload("k", 0, 1, 1, [torch.tensor(v)]) { Kind = PayloadKind.Delta };
        var q = Data(new TopKCompressor().Outgoing(p).Values[0]);   // default fraction 0.1: ceil(9.5) = 10
        var largest = Enumerable.Range(0, v.Length).OrderByDescending(i => Math.Abs(v[i])).Take(10).ToHashSet();
        for (int i = 0; i < v.Length; i++) Assert.Equal(largest.Contains(i) ? v[i] : 0f, q[i]);
        // full payloads (the values themselves) are never sparsified
        Assert.Same(p.Values[0], new TopKCompressor().Outgoing(p with { Kind = PayloadKind.Full }).Values[0]);
    }

    [Fact]
    public void Random_k_keeps_k_values_unchanged_at_varying_indices()
    {
        using var scope = torch.NewDisposeScope();
        var v = Enumerable.Range(1, 200).Select(i => (float)i).ToArray();
        var c = new RandomKCompressor();
        c.Bind(new PayloadContext(4, Cfg("payload.randomk_fraction=0.05"), []));
        var seen = new HashSet<int>();
        for (int r = 0; r < 5; r++)
        {
            var q = Data(c.Outgoing(new GroupPayload("k", 0, r, 1, [torch.tensor(v)]) { Kind = PayloadKind.Delta }).Values[0]);
            var kept = Enumerable.Range(0, v.Length).Where(i => q[i] != 0).ToList();
            Assert.Equal(10, kept.Count);
            Assert.All(kept, i => Assert.Equal(v[i], q[i]));
            seen.UnionWith(kept);
        }
        Assert.True(seen.Count > 30);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(5)]
    public void Stochastic_quantization_is_unbiased_and_uses_at_most_2_to_the_bits_levels(int bits)
    {
        using var scope = torch.NewDisposeScope();
        var rng = new Random(bits);
        var v = Enumerable.Range(0, 40).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        float scale = v.Max(Math.Abs);
        var q = new StochasticQuantizer(bits, seed: 7);
        var mean = new double[v.Length];
        var levels = new HashSet<float>();
        const int draws = 3000;
        using var input = torch.tensor(v);
        for (int d = 0; d < draws; d++)
        {
            var (t, s) = q.Quantize(input);
            Assert.Equal(scale, s);
            var x = Data(t);
            t.Dispose();
            for (int i = 0; i < v.Length; i++) { mean[i] += x[i] / draws; levels.Add(x[i]); }
        }
        Assert.True(levels.Count <= 1 << bits, $"{levels.Count} distinct values with {bits} bits");
        var grid = Enumerable.Range(0, 1 << bits).Select(l => TensorCoding.Dequantize(l, bits, scale)).ToHashSet();
        Assert.Subset(grid, levels);
        // spacing 2s/(2^b - 1): per-value std at most half of it; the mean of 3000 draws is within 6 standard errors
        double tol = 6 * (scale / ((1 << bits) - 1)) / Math.Sqrt(draws);
        for (int i = 0; i < v.Length; i++) Assert.True(Math.Abs(mean[i] - v[i]) < tol, $"value {i}: mean {mean[i]} vs {v[i]} (tol {tol})");
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Zero_level_quantization_is_unbiased_on_an_odd_grid_with_an_exact_zero(int bits)
    {
        using var scope = torch.NewDisposeScope();
        var rng = new Random(bits);
        var v = Enumerable.Range(0, 40).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        v[3] = 0;
        float scale = v.Max(Math.Abs);
        int m = (1 << (bits - 1)) - 1;
        var q = new StochasticQuantizer(bits, seed: 7, zeroLevel: true);
        var mean = new double[v.Length];
        var levels = new HashSet<float>();
        const int draws = 3000;
        using var input = torch.tensor(v);
        for (int d = 0; d < draws; d++)
        {
            var (t, s) = q.Quantize(input);
            Assert.Equal(scale, s);
            var x = Data(t);
            t.Dispose();
            for (int i = 0; i < v.Length; i++)
            {
                mean[i] += x[i] / draws;
                levels.Add(x[i]);
                // every value lands on one of its two neighbouring levels: error below one spacing s / m
                Assert.True(Math.Abs(x[i] - v[i]) <= scale / m * (1 + 1e-6), $"value {i}: {x[i]} vs {v[i]}");
            }
            Assert.Equal(0f, x[3]);   // an exact zero stays zero
        }
        var grid = Enumerable.Range(0, 2 * m + 1).Select(l => TensorCoding.DequantizeZero(l, bits, scale)).ToHashSet();
        Assert.Contains(0f, grid);
        Assert.Equal(2 * m + 1, grid.Count);   // 2^bits - 1 levels: an odd number, symmetric around 0
        Assert.Subset(grid, levels);
        double tol = 6 * (scale / m / 2) / Math.Sqrt(draws);
        for (int i = 0; i < v.Length; i++) Assert.True(Math.Abs(mean[i] - v[i]) < tol, $"value {i}: mean {mean[i]} vs {v[i]} (tol {tol})");
    }

    [Fact]
    public void Zero_level_grid_sends_small_differences_as_zeros_and_zstd_codes_them_in_fewer_bytes()
    {
        using var scope = torch.NewDisposeScope();
        // an error-feedback-like difference: one large value, the rest 1% of it
        var gen = new Random(3);
        var v = Enumerable.Range(0, 20_000).Select(_ => (float)(gen.NextDouble() * 0.02 - 0.01)).ToArray();
        v[17] = 1f;
        var delta = new GroupPayload("enc/a/mlp/trunk|20000", 1, 2, 2, [torch.tensor(v)]) { Kind = PayloadKind.Delta };
        var even = new StochasticQuantizer(4, seed: 2).Outgoing(delta);
        var zero = new StochasticQuantizer(4, seed: 2, zeroLevel: true).Outgoing(delta);
        // |v| <= 0.01 with spacing 1/7: a value becomes 0 unless a draw of probability |v| * 7 <= 7% says otherwise
        int zeros = Data(zero.Values[0]).Count(f => f == 0);
        Assert.InRange(zeros, 19_000, 20_000);
        Assert.Equal(0, Data(even.Values[0]).Count(f => f == 0));   // the even grid has no zero level
        long evenBytes = new ZstdCompressor().Outgoing(even).WireBytes, zeroBytes = new ZstdCompressor().Outgoing(zero).WireBytes;
        // the even grid needs about a bit per value (levels 7 and 8 at one half each), the zero-level grid about a third
        Assert.True(zeroBytes < evenBytes / 2, $"zero-level {zeroBytes} vs even {evenBytes}");
        var back = PayloadCodec.TryDecode(PayloadCodec.Encode(new ZstdCompressor().Outgoing(zero)), 1 << 20, PayloadKeys.Of(zero), out _, out string detail);
        Assert.True(back is not null, detail);
        Assert.Equal(Data(zero.Values[0]), Data(back!.Values[0]));
        Assert.Equal(TensorFormat.QuantizedZero, back.Codings![0].Format);
    }

    [Fact]
    public void Error_feedback_conserves_the_residual_and_receivers_track_the_sender()
    {
        using var scope = torch.NewDisposeScope();
        var rng = new Random(3);
        var x0 = Enumerable.Range(0, 50).Select(_ => (float)rng.NextDouble()).ToArray();
        var cfg = Cfg("payload.topk_fraction=0.2");
        var (ga, pa) = Group(x0);
        var (gb, _) = Group(x0);
        var sender = PayloadPipeline.Create(["top-k", "error-feedback"], cfg.Payload, cfg.Privacy);
        var receiver = PayloadPipeline.Create(["top-k", "error-feedback"], cfg.Payload, cfg.Privacy);
        sender.Bind(new PayloadContext(0, cfg, [ga]));
        receiver.Bind(new PayloadContext(1, cfg, [gb]));
        var prev = x0;
        for (int r = 1; r <= 6; r++)
        {
            var x = prev.Select(f => f + (float)(rng.NextDouble() - 0.5)).ToArray();
            var oldResidual = Data(sender.Residual(ga.Key)![0]);
            var sent = sender.Outgoing(new GroupPayload(ga.Key, 0, r, 1, [torch.tensor(x)]));
            Assert.Equal(PayloadKind.Delta, sent.Kind);
            Assert.Equal(r - 1, sent.BaseRound);
            var q = Data(sent.Values[0]);
            Assert.Equal(10, q.Count(f => f != 0));
            var newResidual = Data(sender.Residual(ga.Key)![0]);
            for (int i = 0; i < x.Length; i++)
                Assert.True(Math.Abs(q[i] + newResidual[i] - (x[i] - prev[i] + oldResidual[i])) < 1e-5, $"round {r}, value {i}: not conserved");
            // through the wire, the receiver's copy is the sender's public copy, bit for bit, = x - residual
            var wire = PayloadCodec.TryDecode(PayloadCodec.Encode(sent), 1 << 20, PayloadKeys.Of(sent), out _, out _)!;
            var got = receiver.Incoming(wire, ga.Shapes, ga.Key, out _);
            Assert.NotNull(got);
            Assert.Equal(PayloadKind.Full, got!.Kind);
            var copy = Data(got.Values[0]);
            Assert.Equal(Data(sender.PublicCopy(ga.Key)![0]), copy);
            for (int i = 0; i < x.Length; i++) Assert.True(Math.Abs(copy[i] - (x[i] - newResidual[i])) < 1e-5);
            prev = x;
        }
        // a difference that does not follow the last one applied is refused
        var skipped = sender.Outgoing(new GroupPayload(ga.Key, 0, 8, 1, [torch.tensor(prev)]));
        Assert.NotNull(receiver.Incoming(skipped with { BaseRound = 6 }, ga.Shapes, ga.Key, out _));
        Assert.Null(receiver.Incoming(skipped with { Round = 9, BaseRound = 3 }, ga.Shapes, ga.Key, out var reason));
        Assert.Equal(RejectReason.Malformed, reason);
        _ = pa;
    }

    [Fact]
    public void Choco_public_copies_converge_to_the_values_under_compression()
    {
        using var scope = torch.NewDisposeScope();
        var rng = new Random(9);
        var x0 = Enumerable.Range(0, 100).Select(_ => (float)rng.NextDouble()).ToArray();
        var cfg = Cfg("payload.processors=[top-k,choco]", "mixing.rule=choco", "payload.topk_fraction=0.1");
        var (ga, _) = Group(x0);
        var (gb, _) = Group(x0);
        var a = PayloadPipeline.Create(cfg);
        var b = PayloadPipeline.Create(cfg);
        a.Bind(new PayloadContext(0, cfg, [ga]));
        b.Bind(new PayloadContext(1, cfg, [gb]));
        var x = x0.Select(f => f + (float)(rng.NextDouble() * 2 - 1)).ToArray();
        double first = 0, last = 0;
        for (int r = 1; r <= 12; r++)
        {
            var got = b.Incoming(a.Outgoing(new GroupPayload(ga.Key, 0, r, 1, [torch.tensor(x)])), ga.Shapes, ga.Key, out _)!;
            last = Data(got.Values[0]).Select((f, i) => Math.Abs(f - x[i])).Max();
            if (r == 1) first = last;
        }
        Assert.True(first > 0.1, $"first error {first}");
        Assert.True(last < 1e-5, $"copy still {last} away after 12 rounds of top-10%");
    }

    [Fact]
    public void Privacy_clips_the_update_to_the_bound_and_adds_noise_of_the_configured_scale()
    {
        using var scope = torch.NewDisposeScope();
        // (almost) no noise: a large update comes out with norm clip, a small one unchanged
        var quiet = new PrivacyStage(new PrivacyConfig { Clip = 2, NoiseMultiplier = 1e-9 });
        var big = Enumerable.Range(0, 30).Select(i => (float)(i - 15)).ToArray();
        var outBig = Data(quiet.Outgoing(new GroupPayload("k", 0, 1, 1, [torch.tensor(big[..20]), torch.tensor(big[20..])]) { Kind = PayloadKind.Delta }).Values[0]);
        double norm = Math.Sqrt(Data(quiet.Outgoing(new GroupPayload("k", 0, 1, 1, [torch.tensor(big)]) { Kind = PayloadKind.Delta }).Values[0]).Sum(f => (double)f * f));
        Assert.Equal(2, norm, 4);
        Assert.True(outBig.Sum(f => (double)f * f) < 4);   // clipped jointly over the group's tensors
        var small = new[] { 0.3f, -0.4f };
        Assert.Equal(small.Select(f => (double)f), Data(quiet.Outgoing(new GroupPayload("k", 0, 1, 1, [torch.tensor(small)]) { Kind = PayloadKind.Delta }).Values[0]).Select(f => (double)f), new ToleranceComparer(1e-6));

        // noise: N(0, (sigma * clip)^2) on every value
        var cfg = Cfg("privacy.clip=2", "privacy.noise_multiplier=0.5");
        var tally = new AgentTally();
        var (g, _) = Group(new float[20_000]);
        var noisy = new PrivacyStage(cfg.Privacy);
        noisy.Bind(new PayloadContext(0, cfg, [g], () => tally));
        var n = Data(noisy.Outgoing(new GroupPayload(g.Key, 0, 1, 1, [torch.zeros(20_000)]) { Kind = PayloadKind.Delta }).Values[0]);
        double mean = n.Average(f => (double)f), std = Math.Sqrt(n.Average(f => (f - mean) * (f - mean)));
        Assert.True(Math.Abs(std - 1.0) < 0.03, $"noise std {std}, expected 1");
        Assert.True(Math.Abs(mean) < 0.03);
        Assert.Equal(1, tally.PrivacyReleases);
        Assert.Equal(noisy.Accountant.Epsilon(1e-5), tally.PrivacyEpsilon);
        // groups that are not protected pass unchanged
        var (other, _) = Group(new float[3], "head/unique/a");
        var onlySynergy = new PrivacyStage(cfg.Privacy);
        onlySynergy.Bind(new PayloadContext(0, Cfg("privacy.clip=2", "privacy.roles=[synergy]"), [other]));
        var pass = new GroupPayload(other.Key, 0, 1, 1, [torch.ones(3)]) { Kind = PayloadKind.Delta };
        Assert.Same(pass, onlySynergy.Outgoing(pass));
    }

    private sealed class ToleranceComparer(double tol) : IEqualityComparer<double>
    {
        public bool Equals(double a, double b) => Math.Abs(a - b) <= tol;
        public int GetHashCode(double x) => 0;
    }

    [Theory]
    [InlineData(1.0, 10, 1e-5)]
    [InlineData(4.0, 100, 1e-5)]
    [InlineData(10.0, 1, 1e-6)]
    [InlineData(0.8, 1000, 1e-5)]
    [InlineData(2.0, 500, 1e-3)]
    public void Accountant_matches_the_closed_form_gaussian_bound(double sigma, int steps, double delta)
    {
        var acc = new RdpAccountant();
        for (int t = 0; t < steps; t++) acc.AddGaussian(sigma);
        for (int i = 0; i < RdpAccountant.Orders.Count; i++)
            Assert.Equal(steps * RdpAccountant.Orders[i] / (2 * sigma * sigma), acc.Rdp[i], 9);
        // min over alpha > 1 of T alpha / (2 sigma^2) + ln(1/delta) / (alpha - 1): at alpha* = 1 + sigma sqrt(2 ln(1/delta) / T),
        // epsilon* = T / (2 sigma^2) + sqrt(2 T ln(1/delta)) / sigma
        double l = Math.Log(1 / delta);
        double closed = steps / (2 * sigma * sigma) + Math.Sqrt(2 * steps * l) / sigma;
        double eps = acc.Epsilon(delta);
        Assert.True(eps >= closed - 1e-9, $"{eps} below the optimum {closed}");
        Assert.True(eps <= closed * 1.01, $"{eps} more than 1% above the optimum {closed}");
        Assert.Equal(steps, acc.Releases);
        Assert.Equal(0, new RdpAccountant().Epsilon(delta));
    }

    [Theory]
    [InlineData("payload.topk_fraction=0", "payload.topk_fraction: must be in (0,1] (got 0)")]
    [InlineData("payload.topk_fraction=1.5", "payload.topk_fraction: must be in (0,1]")]
    [InlineData("payload.randomk_fraction=-1", "payload.randomk_fraction: must be in (0,1]")]
    [InlineData("payload.bits=0", "payload.bits: must be in 1..16 (got 0)")]
    [InlineData("payload.bits=17", "payload.bits: must be in 1..16 (got 17)")]
    [InlineData("payload.choco_gamma=0", "payload.choco_gamma: must be in (0,1]")]
    [InlineData("payload.keyframe_every=-1", "payload.keyframe_every: must be >= 0")]
    [InlineData("mixing.rule=choco", "mixing.rule: choco needs the 'choco' payload processor")]
    [InlineData("payload.processors=[top-k,choco]", "payload.processors: 'choco' needs mixing.rule: choco")]
    [InlineData("payload.processors=[top-k,top-k]", "payload.processors: a processor is listed twice")]
    [InlineData("payload.processors=[qsgd,lz4,zstd]", "payload.processors: lz4 and zstd both compress the encoded values")]
    [InlineData("payload.processors=[brotli]", "payload.processors: unknown value 'brotli' (expected one of: float16, top-k, random-k, qsgd, qsgd-zero, error-feedback, choco, lz4")]
    [InlineData("payload.processors=[qsgd-zero]|payload.bits=1", "payload.bits: qsgd-zero needs at least 2 bits")]
    [InlineData("payload.processors=[qsgd,qsgd-zero]", "payload.processors: qsgd and qsgd-zero both quantize the differences")]
    [InlineData("privacy.clip=-1", "privacy.clip: must be a finite number >= 0")]
    [InlineData("privacy.clip=1|privacy.noise_multiplier=0", "privacy.noise_multiplier: must be a finite number > 0")]
    [InlineData("privacy.clip=1|privacy.delta=1", "privacy.delta: must be in (0,1)")]
    [InlineData("privacy.clip=1|privacy.roles=[heads]", "privacy.roles: unknown role 'heads'")]
    [InlineData("privacy.clip=1|payload.keyframe_every=5", "payload.keyframe_every: must be 0 with privacy")]
    [InlineData("payload.processors=[qsgd]|topology.kind=random-gossip", "payload.processors: 'qsgd' sends differences to each neighbour's copy of the sender, which needs a static topology")]
    [InlineData("eval.target_fraction=0", "eval.target_fraction: must be in (0,1] (got 0)")]
    public void Invalid_compression_and_privacy_settings_name_the_field(string overrides, string message)
    {
        var e = Assert.Throws<ConfigException>(() => TestConfigs.Load(overrides.Split('|')));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void A_stateful_pipeline_serves_one_agent_only()
    {
        var cfg = Cfg("payload.processors=[top-k]");
        var pipeline = PayloadPipeline.Create(cfg);
        pipeline.Bind(new PayloadContext(0, cfg, []));
        Assert.Throws<InvalidOperationException>(() => pipeline.Bind(new PayloadContext(1, cfg, [])));
        var shared = PayloadPipeline.Create(["float16"]);   // no state: may be shared
        shared.Bind(new PayloadContext(0, cfg, []));
        shared.Bind(new PayloadContext(1, cfg, []));
        // a pipeline that sends values refuses differences
        using var scope = torch.NewDisposeScope();
        Assert.Null(shared.Incoming(new GroupPayload("k", 1, 1, 1, [torch.ones(2)]) { Kind = PayloadKind.Delta }, [[2]], "k", out var reason));
        Assert.Equal(RejectReason.Malformed, reason);
    }
}
