using Parse.Cluster.Launch;

namespace Parse.Tests;

public class ClusterNoticesTests
{
    [Fact]
    public void Simulator_only_diagnostics_are_named_before_a_cluster_run_and_nothing_else_is()
    {
        Assert.Empty(ClusterNotices.Of(TestConfigs.Load()));
        var notes = ClusterNotices.Of(TestConfigs.Load("eval.probes=true", "eval.cka=true"));
        Assert.Equal(2, notes.Count);
        Assert.Contains(notes, n => n.StartsWith("eval.probes") && n.Contains("probes.csv"));
        Assert.Contains(notes, n => n.StartsWith("eval.cka") && n.Contains("cka.csv"));
    }
}
