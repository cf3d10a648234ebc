using Parse.Simulation;

namespace Parse.Tests;

/// <summary>Each strategy shares exactly the groups its definition says, checked on what crosses the wire.</summary>
public class StrategyWireTests
{
    private static (HashSet<string> Sent, HashSet<string> All) Wire(params string[] sets)
    {
        var cfg = TestConfigs.Load(sets.Append("rounds=1").Append("eval.every=1").ToArray());
        using var sim = new Simulator(cfg, ".");
        var sent = new HashSet<string>();
        sim.OnDelivered = (_, _, p) => sent.Add(p.Key.Split('|')[0]);
        sim.Run();
        var all = sim.Agents.SelectMany(a => a.Model.Groups).Select(g => g.Name).ToHashSet();
        return (sent, all);
    }

    [Fact]
    public void Parse_sends_every_group_and_local_sends_none()
    {
        var (sent, all) = Wire("strategy=parse");
        Assert.Equal(all.Order(), sent.Order());
        Assert.Contains(sent, n => n.StartsWith("head/synergy/", StringComparison.Ordinal));
        Assert.Empty(Wire("strategy=local").Sent);
    }

    [Fact]
    public void Dsgd_baselines_on_the_monolithic_model_share_task_head_encoders_or_both()
    {
        var (task, all) = Wire("strategy=dsgd-task", "model.fission=false");
        Assert.Equal(["head/task"], task);
        Assert.DoesNotContain(all, n => n.Contains("proj-s", StringComparison.Ordinal) || n.StartsWith("head/synergy", StringComparison.Ordinal));
        var (modality, _) = Wire("strategy=dsgd-modality", "model.fission=false");
        Assert.Equal(all.Where(n => n.StartsWith("enc/", StringComparison.Ordinal)).Order(), modality.Order());
        Assert.Contains(modality, n => n.EndsWith("/proj", StringComparison.Ordinal));
        var (hybrid, _) = Wire("strategy=dsgd-hybrid", "model.fission=false");
        Assert.Equal(all.Order(), hybrid.Order());
    }

    [Fact]
    public void Dsgd_baselines_on_the_three_slice_model_split_heads_and_encoders()
    {
        var (task, all) = Wire("strategy=dsgd-task", "model.fission=true");
        Assert.Equal(all.Where(n => !n.StartsWith("enc/", StringComparison.Ordinal)).Order(), task.Order());
        var (modality, _) = Wire("strategy=dsgd-modality", "model.fission=true");
        Assert.Equal(all.Where(n => n.StartsWith("enc/", StringComparison.Ordinal)).Order(), modality.Order());
        Assert.Empty(task.Intersect(modality));
    }
}
