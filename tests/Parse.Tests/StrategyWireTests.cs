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
    public void Dsgd_baselines_default_to_their_own_monolithic_model_and_say_so()
    {
        var cfg = TestConfigs.Load("strategy=dsgd-hybrid");
        Assert.False(cfg.Model.Fission);
        Assert.Contains(cfg.Notices, n => n.Contains("monolithic") && n.Contains("model.fission=true"));
        var explicitThreeSlice = TestConfigs.Load("strategy=dsgd-hybrid", "model.fission=true");
        Assert.True(explicitThreeSlice.Model.Fission);
        Assert.Empty(explicitThreeSlice.Notices);
        Assert.True(TestConfigs.Load("strategy=parse").Model.Fission);
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

public class HarmonyAndCentralizedTests
{
    [Fact]
    public void Harmony_shares_modality_encoders_first_and_adds_fusion_learning_in_stage_two()
    {
        var cfg = TestConfigs.Load("strategy=harmony", "rounds=4", "harmony.stage1_fraction=0.5");
        using var sim = new Simulator(cfg, ".");
        var byRound = new Dictionary<int, HashSet<string>>();
        sim.OnDelivered = (_, _, p) =>
        {
            if (!byRound.TryGetValue(p.Round, out var set)) byRound[p.Round] = set = new HashSet<string>();
            set.Add(p.Key.Split('|')[0]);
        };
        sim.Run();
        // payloads carry the 1-based round they were sent in (the same on both runtimes)
        Assert.Equal(new[] { 1, 2, 3, 4 }, byRound.Keys.Order());
        foreach (int r in new[] { 1, 2 })
        {
            Assert.DoesNotContain(byRound[r], n => n.Contains("proj-s") || n.StartsWith("head/synergy") || n.StartsWith("fusion/"));
            Assert.Contains(byRound[r], n => n.EndsWith("/trunk"));
            Assert.Contains(byRound[r], n => n.StartsWith("head/unique/"));
        }
        foreach (int r in new[] { 3, 4 })
        {
            // stage 2: only the fusion part (frozen encoders are no longer exchanged)
            Assert.Contains(byRound[r], n => n.StartsWith("head/synergy/"));
            Assert.Contains(byRound[r], n => n.Contains("/proj-s/"));
            Assert.DoesNotContain(byRound[r], n => n.EndsWith("/trunk") || n.StartsWith("head/unique/") || n.EndsWith("/proj-r"));
        }
        Assert.DoesNotContain(byRound.Values.SelectMany(v => v), n => n == "head/redundant");
    }

    [Fact]
    public void Centralized_trains_one_pooled_model_per_type_and_reports_every_agent()
    {
        var cfg = TestConfigs.Load("strategy=centralized", "rounds=2");
        using var sim = new Simulator(cfg, ".");
        Assert.Equal(3, sim.Agents.Count);
        Assert.All(sim.Agents, a => Assert.Equal(12 * 24, a.Train.Count));
        Assert.All(sim.Agents, a => Assert.Equal(4 * 2, a.StepsPerRound));   // 4 agents per type x 2 local steps
        int sent = 0;
        sim.OnDelivered = (_, _, _) => sent++;
        var r = sim.Run();
        Assert.Equal(0, sent);
        Assert.Equal(12, r.FinalAccuracy.Count);
        Assert.Equal(12, r.AgentTypes.Count);
        Assert.Equal(new[] { "a", "a+b", "b" }, r.AccuracyByType.Keys);
        Assert.All(r.AgentTypes.Select((t, i) => (t, i)).GroupBy(x => x.t), g => Assert.Single(g.Select(x => r.FinalAccuracy[x.i]).Distinct()));
    }
}
