using Parse.Config;
using Parse.Data;

namespace Parse.Tests;

public class PairingAndNaturalTests
{
    [Fact]
    public void Av_mnist_pairing_is_deterministic_label_consistent_and_without_reuse()
    {
        var rng = new Random(5);
        var digits = Enumerable.Range(0, 300).Select(_ => rng.Next(10)).ToList();
        var imageLabels = Enumerable.Range(0, 2000).Select(_ => rng.Next(10)).ToList();
        var a = AvMnist.Pair(digits, imageLabels, seed: 1, "train");
        Assert.Equal(a, AvMnist.Pair(digits, imageLabels, seed: 1, "train"));
        for (int i = 0; i < digits.Count; i++) Assert.Equal(digits[i], imageLabels[a[i]]);
        Assert.Equal(a.Length, a.Distinct().Count());   // each image used at most once (enough images per digit)
        var b = AvMnist.Pair(digits, imageLabels, seed: 2, "train");
        Assert.True(a.Zip(b).Count(t => t.First != t.Second) > 250, "another seed should pick other images");
        Assert.NotEqual(a, AvMnist.Pair(digits, imageLabels, seed: 1, "test"));
        var e = Assert.Throws<ConfigException>(() => AvMnist.Pair([3], [1, 2], 1, "test"));
        Assert.Contains("class 3", e.Message);
    }

    [Fact]
    public void Natural_partition_splits_few_groups_across_agents_and_keeps_many_groups_whole()
    {
        string[] speakers = ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"];
        var groups = Enumerable.Range(0, 600).Select(i => speakers[i % 6]).ToArray();
        var labels = new int[600];
        var cfg = new PartitionConfig { Kind = "natural" };
        var parts = Partitioner.Split(labels, 10, 30, cfg, 1, groups);
        Assert.Equal(Enumerable.Range(0, 600), parts.SelectMany(p => p).Order());
        Assert.All(parts, p => Assert.Single(p.Select(i => groups[i]).Distinct()));   // one speaker per agent
        Assert.All(parts, p => Assert.InRange(p.Length, 19, 21));
        var agentsPerSpeaker = speakers.Select(s => parts.Count(p => groups[p[0]] == s)).ToArray();
        Assert.All(agentsPerSpeaker, c => Assert.Equal(5, c));
        Assert.Equal(parts, Partitioner.Split(labels, 10, 30, cfg, 1, groups));

        var few = Partitioner.Split(labels, 10, 4, cfg, 1, groups);
        Assert.Equal(Enumerable.Range(0, 600), few.SelectMany(p => p).Order());
        foreach (var s in speakers) Assert.Single(few, p => p.Any(i => groups[i] == s));   // no speaker is split
        var e = Assert.Throws<ConfigException>(() => Partitioner.Split(labels, 10, 4, cfg, 1, null));
        Assert.Contains("natural", e.Message);
    }

    [Fact]
    public void Config_rejects_modalities_the_dataset_does_not_provide_and_natural_without_groups()
    {
        var e = Assert.Throws<ConfigException>(() => TestConfigs.Load("data.name=av-mnist"));
        Assert.Contains("data.modalities", e.Message);
        Assert.Contains("image, audio", e.Message);
        e = Assert.Throws<ConfigException>(() => TestConfigs.Load("data.partition.kind=natural"));
        Assert.Contains("data.partition.kind", e.Message);
        e = Assert.Throws<ConfigException>(() => TestConfigs.Load("data.name=av-mnist", "data.modalities=[image, audio]", "agents.types=[image, audio, audio+image]",
            "data.n_mels=0", "data.image_source=cifar"));
        Assert.Contains("data.n_mels", e.Message);
        Assert.Contains("data.image_source", e.Message);
        var ok = TestConfigs.Load("data.name=av-mnist", "data.modalities=[image, audio]", "agents.types=[image, audio, audio+image]");
        Assert.Equal("av-mnist", ok.Data.Name);
    }
}
