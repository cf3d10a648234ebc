using Parse.Cluster.Launch;
using Parse.Config;

namespace Parse.Cluster.Tests;

/// <summary>How a chaos campaign chooses its faults and moments (no processes are started).</summary>
public sealed class ChaosPlanTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("parse-chaos-plan").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void Repeated_and_comma_separated_fault_options_give_the_same_pool_and_every_chosen_fault_is_drawn()
    {
        var repeated = ChaosCampaign.ParseFaults(["kill", "pause"]);
        var comma = ChaosCampaign.ParseFaults(["kill,pause"]);
        Assert.Equal([ChaosFault.Kill, ChaosFault.Pause], repeated);
        Assert.Equal(repeated, comma);
        Assert.Equal([ChaosFault.Kill, ChaosFault.Pause, ChaosFault.GarbageBytes], ChaosCampaign.ParseFaults(["kill", "pause, garbage-bytes", "kill"]));
        var e = Assert.Throws<ConfigException>(() => ChaosCampaign.ParseFaults(["kill", "bogus"]));
        Assert.Contains("'bogus'", e.Message);
        // 20 trials from two faults draw both, for any seed
        for (int seed = 1; seed <= 20; seed++)
        {
            var draws = ChaosCampaign.Draw(seed, ChaosCampaign.Pool(repeated), 20, 3);
            Assert.Contains(draws, d => d.Fault == ChaosFault.Kill);
            Assert.Contains(draws, d => d.Fault == ChaosFault.Pause);
            Assert.All(draws, d => Assert.InRange(d.Target, 0, 2));
        }
        Assert.Equal(Enum.GetValues<ChaosFault>(), ChaosCampaign.Pool(null));
    }

    [Fact]
    public void Kill_mid_checkpoint_strikes_a_random_checkpoint_write_not_always_the_first()
    {
        var cfg = ConfigLoader.FromText(ClusterConfigs.Small, ["rounds=10", "cluster.checkpoint_every=2"], "test");
        var rng = new Random(7);
        var rounds = Enumerable.Range(0, 200).Select(_ => ChaosCampaign.CheckpointRound(cfg, rng)).ToList();
        // every choice is a checkpoint round in the first two thirds of the run, and each of them is chosen
        Assert.All(rounds, r => Assert.Contains(r, new[] { 2, 4, 6 }));
        Assert.Equal([2, 4, 6], rounds.Distinct().Order());
        // a run too short for a choice still has its one checkpoint
        var tiny = ConfigLoader.FromText(ClusterConfigs.Small, ["rounds=1", "cluster.checkpoint_every=5"], "test");
        Assert.Equal(1, ChaosCampaign.CheckpointRound(tiny, rng));
    }

    [Fact]
    public void A_temporary_checkpoint_file_is_recognised_by_agent_and_round()
    {
        File.WriteAllText(Path.Combine(_dir, "agent-1-r000002.ckpt.tmp-99"), "");
        File.WriteAllText(Path.Combine(_dir, "agent-12-r000006.ckpt.tmp-99"), "");
        File.WriteAllText(Path.Combine(_dir, "agent-3-r000008.ckpt"), "");
        Assert.Equal(-1, ChaosCampaign.TemporaryCheckpointRound(_dir, [1], from: 4));
        Assert.Equal(2, ChaosCampaign.TemporaryCheckpointRound(_dir, [1], from: 2));
        Assert.Equal(6, ChaosCampaign.TemporaryCheckpointRound(_dir, [0, 12], from: 4));
        Assert.Equal(-1, ChaosCampaign.TemporaryCheckpointRound(_dir, [3], from: 0));
    }
}
