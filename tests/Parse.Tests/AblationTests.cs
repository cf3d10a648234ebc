using Parse.Config;
using Parse.Model;
using Parse.Simulation;

namespace Parse.Tests;

public class AblationTests
{
    private static Dictionary<string, HashSet<string>> SentKeys(params string[] overrides)
    {
        var cfg = TestConfigs.Load(overrides);
        using var sim = new Simulator(cfg, ".");
        var byRound = new Dictionary<string, HashSet<string>>();
        sim.OnDelivered = (_, _, p) =>
        {
            string k = p.Round.ToString();
            if (!byRound.TryGetValue(k, out var set)) byRound[k] = set = [];
            set.Add(p.Key.Split('|')[0]);
        };
        sim.Run();
        return byRound;
    }

    [Fact]
    public void No_shared_redundant_head_keeps_the_redundant_head_local_and_shares_the_rest()
    {
        var parse = SentKeys("rounds=1").Values.SelectMany(v => v).ToHashSet();
        var ablated = SentKeys("rounds=1", "ablate=[no-shared-redundant-head]").Values.SelectMany(v => v).ToHashSet();
        Assert.Contains("head/redundant", parse);
        Assert.DoesNotContain("head/redundant", ablated);
        Assert.Equal(parse.Where(k => k != "head/redundant").Order(), ablated.Order());
    }

    [Fact]
    public void No_slice_scopes_keys_the_synergistic_projection_by_its_modality_only()
    {
        var keys = SentKeys("rounds=1", "ablate=[no-slice-scopes]").Values.SelectMany(v => v).ToList();
        Assert.Contains(keys, k => k.EndsWith("/proj-s"));
        Assert.DoesNotContain(keys, k => k.Contains("/proj-s/"));
    }

    [Fact]
    public void No_infonce_turns_the_alignment_term_off_and_bad_names_are_refused()
    {
        var cfg = TestConfigs.Load("ablate=[no-infonce]", "loss.beta=0.3");
        Assert.Equal(0, cfg.EffectiveLoss().Beta);
        Assert.Equal(0.3, TestConfigs.Load("loss.beta=0.3").EffectiveLoss().Beta);
        var e = Assert.Throws<ConfigException>(() => TestConfigs.Load("ablate=[no-magic]"));
        Assert.Contains("ablate", e.Message);
        Assert.Throws<ConfigException>(() => TestConfigs.Load("ablate=[no-infonce]", "strategy=local"));
    }

    [Fact]
    public void Harmony_stage_two_trains_fusion_on_frozen_encoders_and_unimodal_agents_keep_their_stage_one_model()
    {
        // the first two rounds of a 4-round run (stage 2 from round 3) equal a 2-round run that is all stage 1
        var full = TestConfigs.Load("strategy=harmony", "rounds=4", "harmony.stage1_fraction=0.5");
        var half = TestConfigs.Load("strategy=harmony", "rounds=2", "harmony.stage1_fraction=1");
        using var a = new Simulator(full, ".");
        using var b = new Simulator(half, ".");
        a.Run();
        b.Run();
        int frozenChecked = 0, moved = 0;
        for (int i = 0; i < a.Agents.Count; i++)
        {
            var after = a.Agents[i].Model.Groups;
            var stage1 = b.Agents[i].Model.Groups.ToDictionary(g => g.Key);
            bool multi = a.Agents[i].Modalities.Count >= 2;
            foreach (var g in after)
            {
                bool same = g.Parameters.Zip(stage1[g.Key].Parameters).All(x => x.First.equal(x.Second).all().item<bool>());
                bool encoder = g.Part == GroupPart.Encoder && g.Role is GroupRole.Trunk or GroupRole.Unique or GroupRole.Redundant;
                if (!multi || encoder) { Assert.True(same, $"agent {i} group {g.Name} changed in stage 2"); frozenChecked++; }
                else if (!same) moved++;
            }
        }
        Assert.True(frozenChecked > 0);
        Assert.True(moved > 0, "multimodal agents' fusion and heads must still train in stage 2");
    }
}
