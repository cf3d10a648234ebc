using Parse.Config;
using Parse.Data;

namespace Parse.Tests;

/// <summary>Dirichlet partitions with a minimum size (bounded resampling) and messages that name only keys of the data set in use.</summary>
public class DirichletPartitionTests
{
    private static int[] Labels(int n, int classes) => Enumerable.Range(0, n).Select(i => i % classes).ToArray();

    [Fact]
    public void Resampling_gives_every_agent_at_least_the_minimum()
    {
        var labels = Labels(2019, 2);
        var cfg = new PartitionConfig { Kind = "dirichlet", Alpha = 0.5, MinPartitionSize = 10 };
        var parts = Partitioner.Split(labels, 2, 30, cfg, seed: 1);
        Assert.All(parts, p => Assert.True(p.Length >= 10, $"partition of {p.Length}"));
        Assert.Equal(2019, parts.Sum(p => p.Length));
        Assert.Equal(2019, parts.SelectMany(p => p).Distinct().Count());
        Assert.Equal(parts, Partitioner.Split(labels, 2, 30, cfg, seed: 1));   // deterministic
    }

    [Fact]
    public void A_first_draw_that_meets_the_minimum_is_kept()
    {
        var labels = Labels(4000, 10);
        var one = Partitioner.Split(labels, 10, 8, new PartitionConfig { Kind = "dirichlet", Alpha = 5 }, 3);
        var again = Partitioner.Split(labels, 10, 8, new PartitionConfig { Kind = "dirichlet", Alpha = 5, MinPartitionSize = 2 }, 3);
        Assert.Equal(one, again);
    }

    [Fact]
    public void Impossible_minimums_stop_with_keys_of_the_data_set_in_use()
    {
        var labels = Labels(200, 2);
        var e = Assert.Throws<ConfigException>(() =>
            Partitioner.Split(labels, 2, 30, new PartitionConfig { Kind = "dirichlet", MinPartitionSize = 10 }, 1));
        Assert.Contains("data.partition.min_partition_size: 30 agents x 10 samples need 300 but the training pool has 200", e.Message);
        Assert.DoesNotContain("samples_per_agent", e.Message);

        e = Assert.Throws<ConfigException>(() =>
            Partitioner.Split(labels, 2, 30, new PartitionConfig { Kind = "dirichlet", Alpha = 0.01, MinPartitionSize = 6, MaxResamples = 3 }, 1));
        Assert.Contains("in 4 attempts (data.partition.max_resamples", e.Message);
        Assert.DoesNotContain("samples_per_agent", e.Message);

        e = Assert.Throws<ConfigException>(() =>
            Partitioner.Split(labels, 2, 30, new PartitionConfig { Kind = "dirichlet", Alpha = 0.01, MinPartitionSize = 6, MaxResamples = 3 }, 1,
                poolKey: "data.samples_per_agent"));
        Assert.Contains("raise data.samples_per_agent", e.Message);
    }

    [Fact]
    public void The_validator_checks_the_new_keys()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.FromText("""
            data: { partition: { kind: dirichlet, min_partition_size: 0, max_resamples: -1 } }
            """));
        Assert.Contains("data.partition.min_partition_size: must be >= 1", e.Message);
        Assert.Contains("data.partition.max_resamples: must be >= 0", e.Message);
    }
}
