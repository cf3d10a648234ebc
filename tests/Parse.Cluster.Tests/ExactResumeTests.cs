using Parse.Cluster.Checkpoints;
using Parse.Config;
using Parse.Node;
using Parse.Cluster.Discovery;
using TorchSharp;

namespace Parse.Cluster.Tests;

/// <summary>
/// A checkpoint holds everything local training depends on (parameters, optimizer moments and step, batch sequence,
/// rounds, tally) and is tied to the config it was trained under.
/// </summary>
public sealed class ExactResumeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("parse-resume").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private static ExperimentConfig Config(params string[] sets) => ConfigLoader.FromText(ClusterConfigs.Small, sets);

    private static AgentCore Core(ExperimentSetup setup, int id) =>
        new(setup.CreateLearner(id), setup.Config, new DiscoveredOverlays(), setup.Data.Test, setup.Strategy);

    private static float[] Flat(AgentCore core) =>
        core.Learner.Model.State().OrderBy(kv => kv.Key, StringComparer.Ordinal).SelectMany(kv => kv.Value.detach().contiguous().data<float>().ToArray()).ToArray();

    [Theory]
    [InlineData("adam")]
    [InlineData("adam-torch")]
    [InlineData("sgd")]
    public void Training_resumed_from_a_checkpoint_continues_bit_for_bit_like_an_uninterrupted_agent(string optimizer)
    {
        // 64 samples, batch 16, 4 steps a round: the batch order is reshuffled every round, so the sampler matters
        var cfg = Config($"train.optimizer={optimizer}", "train.momentum=0.9");
        using var setup = ExperimentSetup.Build(cfg, ".");
        string fp = ConfigFingerprint.Of(cfg);
        var store = new CheckpointStore(_dir);
        using var straight = Core(setup, 2);
        for (int r = 0; r < 3; r++) straight.Learner.LocalTrain();
        AgentCheckpoint.Save(store, straight, fp);
        for (int r = 0; r < 3; r++) straight.Learner.LocalTrain();

        using var resumed = Core(setup, 2);
        AgentCheckpoint.Restore(store.TryLoadLatest(2)!, resumed, fp, _dir);
        for (int r = 0; r < 3; r++) resumed.Learner.LocalTrain();
        Assert.Equal(Flat(straight), Flat(resumed));

        // without the optimizer and sampler state (what version 1 checkpoints held), the runs part
        using var paramsOnly = Core(setup, 2);
        CheckpointStore.Restore(store.TryLoadLatest(2)!, paramsOnly.Learner.Model.State());
        for (int r = 0; r < 3; r++) paramsOnly.Learner.LocalTrain();
        Assert.NotEqual(Flat(straight), Flat(paramsOnly));
    }

    [Fact]
    public void A_resumed_agent_with_the_rotating_ensemble_fit_continues_bit_for_bit()
    {
        // the fold each round leaves out, and the fold the weights are fitted on, follow the round number
        var cfg = Config("model.ensemble=stacked", "model.ensemble_fit=rotating", "model.ensemble_holdout=0.25");
        using var setup = ExperimentSetup.Build(cfg, ".");
        string fp = ConfigFingerprint.Of(cfg);
        var store = new CheckpointStore(_dir);
        using var straight = Core(setup, 2);
        Assert.Equal(4, straight.Learner.EnsembleFolds);
        for (int r = 0; r < 3; r++) straight.Learner.Group.LocalTrain(r);
        AgentCheckpoint.Save(store, straight, fp);
        for (int r = 3; r < 6; r++) straight.Learner.Group.LocalTrain(r);

        using var resumed = Core(setup, 2);
        AgentCheckpoint.Restore(store.TryLoadLatest(2)!, resumed, fp, _dir);
        for (int r = 3; r < 6; r++) resumed.Learner.Group.LocalTrain(r);
        Assert.Equal(Flat(straight), Flat(resumed));
        Assert.Equal(straight.Learner.Model.EnsembleWeights, resumed.Learner.Model.EnsembleWeights);
    }

    /// <summary>
    /// The own-history radius remembers each group's last values and distances: the checkpoint carries that memory, and a
    /// resumed agent's mixer holds exactly what the saved one held.
    /// </summary>
    [Theory]
    [InlineData("mixing.rule=clipped-gossip")]
    // the trimmed mean with an own-history fallback: one neighbour (2 candidates) is mixed by the fallback, whose memory is saved
    [InlineData("mixing.rule=trimmed-mean", "mixing.trim=1", "mixing.fallback=clipped-gossip")]
    public void The_mixing_rules_memory_is_saved_in_the_checkpoint_and_restored(params string[] rule)
    {
        var cfg = Config([.. rule, "mixing.radius=own-history", "mixing.outliers=drop"]);
        using var setup = ExperimentSetup.Build(cfg, ".");
        string fp = ConfigFingerprint.Of(cfg);
        var store = new CheckpointStore(_dir);
        using var saved = Core(setup, 2);
        var groups = saved.Learner.Model.Groups;
        for (int r = 0; r < 3; r++)
        {
            saved.Learner.LocalTrain();
            foreach (var g in groups.Take(3))
            {
                using var scope = torch.NewDisposeScope();
                using var noGrad = torch.no_grad();
                var near = g.Parameters.Select(p => p.detach().clone().add_(torch.full_like(p, 0.01f))).ToList();
                saved.Mixer.Mix(g.Parameters, 1, [new Parse.Federation.Mixing.Contribution(1, 2, near, 0)]);
            }
        }
        var memory = ((Parse.Federation.Mixing.IMixerMemory)saved.Mixer).SaveMemory(groups);
        Assert.NotNull(memory);
        AgentCheckpoint.Save(store, saved, fp);
        Assert.Equal(memory, store.TryLoadLatest(2)!.Blobs[AgentCheckpoint.MixerBlob]);

        using var resumed = Core(setup, 2);
        AgentCheckpoint.Restore(store.TryLoadLatest(2)!, resumed, fp, _dir);
        Assert.Equal(memory, ((Parse.Federation.Mixing.IMixerMemory)resumed.Mixer).SaveMemory(resumed.Learner.Model.Groups));
        Assert.Equal(Flat(saved), Flat(resumed));
    }

    [Fact]
    public void A_checkpoint_of_a_different_config_with_the_same_shapes_is_refused_with_a_clear_message()
    {
        var cfg = Config();
        using var setup = ExperimentSetup.Build(cfg, ".");
        var store = new CheckpointStore(_dir);
        using var core = Core(setup, 1);
        AgentCheckpoint.Save(store, core, ConfigFingerprint.Of(cfg));

        var other = Config("train.lr=0.5");   // same shapes, different learning
        using var setup2 = ExperimentSetup.Build(other, ".");
        using var core2 = Core(setup2, 1);
        var e = Assert.Throws<ConfigException>(() => AgentCheckpoint.Restore(store.TryLoadLatest(1)!, core2, ConfigFingerprint.Of(other), _dir));
        Assert.Contains("different experiment config", e.Message);
        Assert.Contains("agent 1 after round 0", e.Message);

        // the cluster section may change between a crash and a restart
        Assert.Equal(ConfigFingerprint.Of(cfg), ConfigFingerprint.Of(Config("cluster.linger_ms=1", "cluster.checkpoint_every=1", "name=other")));
        Assert.NotEqual(ConfigFingerprint.Of(cfg), ConfigFingerprint.Of(other));
    }

    [Fact]
    public void A_checkpoint_whose_shapes_do_not_fit_is_a_config_error_not_a_dead_agent()
    {
        var cfg = Config();
        using var setup = ExperimentSetup.Build(cfg, ".");
        var store = new CheckpointStore(_dir);
        using var core = Core(setup, 0);
        AgentCheckpoint.Save(store, core, "x");
        var wider = Config("model.latent_dim=48", "model.split=[16,16,16]");
        using var setup2 = ExperimentSetup.Build(wider, ".");
        using var core2 = Core(setup2, 0);
        var e = Assert.Throws<ConfigException>(() => AgentCheckpoint.Restore(store.TryLoadLatest(0)!, core2, "x", _dir));
        Assert.Contains("does not fit", e.Message);
        Assert.Contains("shape", e.Message);
    }

    [Fact]
    public void Temporary_files_of_a_killed_writer_are_removed_and_other_agents_files_are_kept()
    {
        var store = new CheckpointStore(_dir);
        File.WriteAllBytes(Path.Combine(_dir, "agent-2-r000008.ckpt.tmp-999"), new byte[10]);
        File.WriteAllBytes(Path.Combine(_dir, "agent-3-r000008.ckpt.tmp-999"), new byte[10]);
        File.WriteAllBytes(Path.Combine(_dir, "agent-2-r000004.ckpt"), new byte[10]);
        Assert.Single(store.RemoveStaleTemporaries(2));
        Assert.False(File.Exists(Path.Combine(_dir, "agent-2-r000008.ckpt.tmp-999")));
        Assert.True(File.Exists(Path.Combine(_dir, "agent-3-r000008.ckpt.tmp-999")));
        Assert.True(File.Exists(Path.Combine(_dir, "agent-2-r000004.ckpt")));
    }
}
