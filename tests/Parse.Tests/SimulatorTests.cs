using Parse.Federation.Payload;
using Parse.Model;
using Parse.Reporting;
using Parse.Simulation;

namespace Parse.Tests;

public class SimulatorTests
{
    [Fact]
    public void Unimodal_agents_never_send_receive_or_hold_synergy_groups()
    {
        var cfg = TestConfigs.Load("rounds=2");
        using var sim = new Simulator(cfg, ".");
        var unimodal = sim.Agents.Where(a => a.Modalities.Count == 1).Select(a => a.Id).ToHashSet();
        var synergyKeys = sim.Agents.SelectMany(a => a.Model.Groups).Where(g => g.Role == GroupRole.Synergy).Select(g => g.Key).ToHashSet();
        Assert.NotEmpty(synergyKeys);
        int delivered = 0, synergyDelivered = 0;
        var keysByAgent = sim.Agents.ToDictionary(a => a.Id, a => a.Model.Groups.Select(g => g.Key).ToHashSet());
        sim.OnDelivered = (from, to, p) =>
        {
            delivered++;
            // never mix across keys: both ends hold the key that crosses the link
            Assert.Contains(p.Key, keysByAgent[from]);
            Assert.Contains(p.Key, keysByAgent[to]);
            if (!synergyKeys.Contains(p.Key)) return;
            synergyDelivered++;
            Assert.DoesNotContain(from, unimodal);
            Assert.DoesNotContain(to, unimodal);
        };
        sim.Run();
        Assert.True(delivered > 0);
        Assert.True(synergyDelivered > 0);
        foreach (int id in unimodal) Assert.DoesNotContain(sim.Agents[id].Model.Groups, g => g.Role == GroupRole.Synergy);
    }

    [Fact]
    public void Local_strategy_sends_nothing_and_parse_mixes_shared_groups_towards_consensus()
    {
        using (var local = new Simulator(TestConfigs.Load("strategy=local", "rounds=1"), "."))
        {
            int n = 0;
            local.OnDelivered = (_, _, _) => n++;
            var r = local.Run();
            Assert.Equal(0, n);
            Assert.Equal(0, r.BytesSentTotal);
        }
        // with a fully connected graph of equal-degree holders, MH weights are uniform: one exchange = exact average
        var cfg = TestConfigs.Load("topology.kind=fully-connected", "rounds=1", "agents.mix=0:0:4", "agents.count=4");
        using var sim = new Simulator(cfg, ".");
        var key = sim.Agents[0].Model.Groups.First(g => g.Name == "head/redundant").Key;
        var before = new List<float[]>();
        sim.OnDelivered = (from, to, p) => { if (p.Key == key && to == 0) before.Add(p.Values[0].data<float>().ToArray()); };
        sim.Run();
        var after = sim.Agents.Select(a => a.Model.Groups.First(g => g.Key == key).Parameters[0].data<float>().ToArray()).ToList();
        for (int a = 1; a < 4; a++)
            for (int k = 0; k < after[0].Length; k++) Assert.True(Math.Abs(after[0][k] - after[a][k]) < 1e-5, $"agents 0 and {a} differ at {k}");   // consensus (up to float rounding)
        Assert.Equal(3, before.Count);
    }

    [Fact]
    public void Every_worker_that_runs_agents_has_its_intra_op_thread_count_set()
    {
        // pool threads that had not set libtorch's per-thread counts made the same seed give different results under load
        var cfg = TestConfigs.Load("rounds=2");
        using var sim = new Simulator(cfg with { Sim = cfg.Sim with { Parallelism = 2 } }, ".");
        var unpinned = new System.Collections.Concurrent.ConcurrentBag<int>();
        int seen = 0;
        sim.OnDelivered = (from, to, _) =>
        {
            Interlocked.Increment(ref seen);
            if (!Parse.Util.IntraOpThreads.IsPinned) unpinned.Add(to);
        };
        sim.Run();
        Assert.True(seen > 10, $"only {seen} deliveries observed");
        Assert.Empty(unpinned);
    }

    [Fact]
    public void Same_seed_gives_identical_results_whatever_the_parallelism()
    {
        var cfg = TestConfigs.Load("rounds=3");
        SimulationResult Run(int par)
        {
            using var sim = new Simulator(cfg with { Sim = cfg.Sim with { Parallelism = par } }, ".");
            return sim.Run();
        }
        var a = Run(1);
        var b = Run(1);
        var c = Run(2);
        Assert.Equal(a.FinalAccuracy, b.FinalAccuracy);
        Assert.Equal(a.FinalAccuracy, c.FinalAccuracy);
        Assert.Equal(a.BytesSentTotal, c.BytesSentTotal);
        Assert.Equal(a.Metrics.Select(m => m.TrainLoss), c.Metrics.Select(m => m.TrainLoss));
        string Stable(SimulationResult r)
        {
            var s = RunWriter.Summary(cfg, r);
            s.Remove("wall_seconds"); s.Remove("throughput"); s.Remove("peak_working_set_mb");
            return s.ToJsonString();
        }
        Assert.Equal(Stable(a), Stable(b));
        var other = new Simulator(cfg with { Seed = 4 }, ".");
        using (other) Assert.NotEqual(a.FinalAccuracy, other.Run().FinalAccuracy);
    }

    [Fact]
    public void Payload_validation_rejects_non_finite_and_misshapen_values()
    {
        using var scope = TorchSharp.torch.NewDisposeScope();
        var pipeline = PayloadPipeline.Create([]);
        long[][] shapes = [[2, 3]];
        var good = new GroupPayload("k", 1, 0, 2, [TorchSharp.torch.ones(2, 3)]);
        Assert.NotNull(pipeline.Incoming(good, shapes, "k", out _));
        var nan = good with { Values = [TorchSharp.torch.full(2, 3, float.NaN)] };
        Assert.Null(pipeline.Incoming(nan, shapes, "k", out var r1));
        Assert.Equal(RejectReason.NonFinite, r1);
        // one infinity (or an inf - inf pair) among several finite tensors is found too
        var inf = good with { Values = [TorchSharp.torch.ones(2, 3), TorchSharp.torch.tensor(new[] { 1f, float.PositiveInfinity, 1f, 1f, 1f, 1f }).reshape(2, 3)] };
        Assert.Null(pipeline.Incoming(inf, [[2, 3], [2, 3]], "k", out _));
        var cancel = good with { Values = [TorchSharp.torch.tensor(new[] { float.PositiveInfinity, float.NegativeInfinity, 0f, 0f, 0f, 0f }).reshape(2, 3)] };
        Assert.Null(pipeline.Incoming(cancel, shapes, "k", out _));
        var huge = good with { Values = [TorchSharp.torch.full(2, 3, float.MaxValue)] };
        Assert.NotNull(pipeline.Incoming(huge, shapes, "k", out _));   // finite, even if its float32 sum would overflow
        var wrong = good with { Values = [TorchSharp.torch.ones(3, 2)] };
        Assert.Null(pipeline.Incoming(wrong, shapes, "k", out var r2));
        Assert.Equal(RejectReason.WrongShape, r2);
        Assert.Null(pipeline.Incoming(good, shapes, "other", out var r3));
        Assert.Equal(RejectReason.UnknownKey, r3);
        var half = PayloadPipeline.Create(["float16"]).Outgoing(good);
        Assert.Equal(2, half.BytesPerElement);
        Assert.True(half.WireBytes < good.WireBytes);
    }
}

public class GradientConflictTests
{
    [Fact]
    public void Conflict_is_measured_only_on_keys_both_populations_hold()
    {
        var cfg = TestConfigs.Load("rounds=2");
        using var sim = new Simulator(cfg, ".");
        var r = sim.Run();
        Assert.Single(r.Conflict);   // eval.every=2, rounds=2
        var (round, mean, byKey) = r.Conflict[0];
        Assert.Equal(2, round);
        Assert.InRange(mean, -1, 1);
        Assert.NotEmpty(byKey);
        Assert.DoesNotContain(byKey.Keys, k => k.Contains("proj-s") || k.StartsWith("head/synergy") || k.StartsWith("fusion/"));
        Assert.Contains(byKey.Keys, k => k.StartsWith("head/redundant"));
        Assert.All(byKey.Values, v => Assert.InRange(v, -1.0000001, 1.0000001));
        // probing gradients leaves the training trajectory untouched
        var again = new Simulator(cfg with { Eval = cfg.Eval with { GradientConflict = false } }, ".");
        using (again) Assert.Equal(r.FinalAccuracy, again.Run().FinalAccuracy);
    }

    [Fact]
    public void Cosine_of_opposite_vectors_is_minus_one()
    {
        Assert.Equal(-1, GradientConflict.Cosine([1, 2, 3], [-2, -4, -6]), 12);
        Assert.True(double.IsNaN(GradientConflict.Cosine([0, 0], [1, 1])));
    }
}

public class SliceDropTests
{
    [Fact]
    public void Slice_drop_evaluates_each_head_kind_only_where_it_exists()
    {
        using var sim = new Simulator(TestConfigs.Load("rounds=2"), ".");
        var r = sim.Run();
        Assert.Equal(new[] { "redundant", "synergy", "unique" }, r.AccuracyWithoutHead.Keys);
        Assert.Equal(new[] { "a+b" }, r.AccuracyWithoutHead["synergy"].Keys);
        Assert.Equal(new[] { "a", "a+b", "b" }, r.AccuracyWithoutHead["unique"].Keys.Order(StringComparer.Ordinal));
        Assert.All(r.AccuracyWithoutHead.Values.SelectMany(v => v.Values), v => Assert.InRange(v, 0, 1));
        var s = Parse.Reporting.RunWriter.Summary(TestConfigs.Load("rounds=2"), r);
        Assert.NotNull(s["accuracy_without_head"]!["synergy"]!["a+b"]);
    }
}
