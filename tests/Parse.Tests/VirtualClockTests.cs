using Parse.Config;
using Parse.Simulation;
using TorchSharp;

namespace Parse.Tests;

/// <summary>
/// The simulator's virtual clock drives the agent core's deadline and staleness policy: stragglers, latency and traces
/// change what is mixed exactly as slow peers do on the cluster, and a deadline long enough to wait for everyone gives
/// the synchronous result.
/// </summary>
public sealed class VirtualClockTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("parse-clock").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private static (SimulationResult Result, float[][] Params) Run(ExperimentConfig cfg, string dir)
    {
        using var sim = new Simulator(cfg, dir);
        var r = sim.Run();
        var ps = sim.Agents.Select(a => a.Model.parameters().SelectMany(p => p.data<float>().ToArray()).ToArray()).ToArray();
        return (r, ps);
    }

    [Fact]
    public void Stragglers_within_the_deadline_only_stretch_virtual_time_and_give_the_synchronous_result()
    {
        var sync = Run(TestConfigs.Load("sim.batch_agents=false"), _dir);
        var slow = Run(TestConfigs.Load("sim.batch_agents=false", "timing.straggler_fraction=0.25", "timing.straggler_slowdown=10",
            "timing.compute_ms=100", "timing.latency_ms=20", "timing.deadline_ms=5000"), _dir);
        Assert.Equal(0, slow.Result.Timing!.DeadlineRounds);
        Assert.Equal(0, slow.Result.Timing.MissingPayloads);
        Assert.Equal(0, slow.Result.Timing.MaxStaleness);
        // rounds take longer in virtual time: the slowest agent paces everyone
        Assert.True(slow.Result.Timing.MeanRoundSeconds > 5 * sync.Result.Timing!.MeanRoundSeconds,
            $"{slow.Result.Timing.MeanRoundSeconds} vs {sync.Result.Timing.MeanRoundSeconds}");
        for (int i = 0; i < sync.Params.Length; i++) Assert.Equal(sync.Params[i], slow.Params[i]);
        Assert.Equal(sync.Result.FinalAccuracy, slow.Result.FinalAccuracy);
    }

    [Fact]
    public void A_short_deadline_leaves_stragglers_behind_and_their_late_payloads_are_mixed_stale()
    {
        var cfg = TestConfigs.Load("rounds=8", "timing.straggler_fraction=0.25", "timing.straggler_slowdown=4",
            "timing.compute_ms=100", "timing.deadline_ms=50", "timing.max_staleness=3");
        var (r, _) = Run(cfg, _dir);
        var t = r.Timing!;
        Assert.True(t.DeadlineRounds > 0, "no round closed at the deadline");
        Assert.True(t.MissingPayloads > 0, "no payload was missing at a deadline");
        Assert.True(t.MaxStaleness >= 1, "no stale payload was mixed");
        Assert.True(t.MaxStaleness <= 3);
        Assert.All(r.FinalAccuracy, a => Assert.InRange(a, 0.0, 1.0));
        Assert.Equal(8, r.Metrics.Max(m => m.Round));
        Assert.Equal(12, r.Metrics.Where(m => m.Round == 8).Select(m => m.Agent).Distinct().Count());   // every agent finished every round
    }

    [Fact]
    public void Staleness_bound_zero_refuses_late_payloads()
    {
        var cfg = TestConfigs.Load("rounds=8", "timing.straggler_fraction=0.25", "timing.straggler_slowdown=4",
            "timing.compute_ms=100", "timing.deadline_ms=50", "timing.max_staleness=0");
        var (r, _) = Run(cfg, _dir);
        Assert.Equal(0, r.Timing!.MaxStaleness);
        Assert.True(r.Rejected.GetValueOrDefault("Stale") > 0, "late payloads were not refused as stale");
    }

    [Fact]
    public void Asynchronous_runs_are_deterministic_and_independent_of_parallelism()
    {
        string[] async = ["timing.straggler_fraction=0.25", "timing.straggler_slowdown=3", "timing.compute_jitter=0.5",
            "timing.latency_ms=10", "timing.latency_jitter_ms=40", "timing.deadline_ms=120"];
        var a = Run(TestConfigs.Load([.. async, "sim.parallelism=1"]), _dir);
        var b = Run(TestConfigs.Load([.. async, "sim.parallelism=2"]), _dir);
        Assert.True(a.Result.Timing!.DeadlineRounds > 0);
        Assert.Equal(a.Result.FinalAccuracy, b.Result.FinalAccuracy);
        Assert.Equal(a.Result.BytesSentTotal, b.Result.BytesSentTotal);
        for (int i = 0; i < a.Params.Length; i++) Assert.Equal(a.Params[i], b.Params[i]);
    }

    [Fact]
    public void A_trace_file_sets_compute_times_and_bad_lines_are_named()
    {
        string trace = Path.Combine(_dir, "trace.csv");
        // agent 0 is very slow in rounds 2 and 3: its neighbours close those rounds at the deadline
        File.WriteAllText(trace, "agent,round,compute_ms\n0,2,10000\n0,3,10000\n");
        var (r, _) = Run(TestConfigs.Load("rounds=4", $"timing.trace={trace}", "timing.deadline_ms=500"), _dir);
        Assert.True(r.Timing!.DeadlineRounds >= 2);

        File.WriteAllText(trace, "agent,round,compute_ms\n0,2,fast\n");
        var e = Assert.Throws<ConfigException>(() => new Simulator(TestConfigs.Load($"timing.trace={trace}"), _dir));
        Assert.Contains("timing.trace", e.Message);
        Assert.Contains("line 2", e.Message);
        File.WriteAllText(trace, "99,1,5\n");
        e = Assert.Throws<ConfigException>(() => new Simulator(TestConfigs.Load($"timing.trace={trace}"), _dir));
        Assert.Contains("agent 99", e.Message);
    }

    [Theory]
    [InlineData("timing.compute_ms=0", "timing.compute_ms")]
    [InlineData("timing.straggler_fraction=1.5", "timing.straggler_fraction")]
    [InlineData("timing.deadline_ms=0", "timing.deadline_ms")]
    [InlineData("timing.max_staleness=-1", "timing.max_staleness")]
    [InlineData("timing.trace=missing.csv", "timing.trace")]
    [InlineData("mixing.rule=average", "mixing.rule")]
    public void Bad_timing_and_mixing_values_name_the_field(string set, string field)
    {
        var e = Assert.Throws<ConfigException>(() => ConfigValidator.Validate(TestConfigs.Load(set), _dir));
        Assert.Contains(field, e.Message);
    }
}
