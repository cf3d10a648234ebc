using Parse.Config;
using Parse.Model;
using Parse.Simulation;

namespace Parse.Tests;

/// <summary>
/// Heterogeneous encoders: agent types choose their own encoder per modality (<c>agents.types[i].encoders</c>).
/// Trunks are shared only between equal architectures (the signature is in the key), while slices' heads and the
/// fusion still align across different trunks; different encoders never share a stacked learner, and batched and
/// per-agent training agree.
/// </summary>
public class HeterogeneousEncoderTests
{
    /// <summary>a (default mlp), a-wide (mlp with widths [24, 12]), b, a+b with a 1-D CNN on a.</summary>
    private static readonly string[] Types =
    [
        "agents.types=[a, {modalities: a, name: a-wide, encoders: {a: {kind: mlp, widths: [24, 12], hidden: 16}}}, b, " +
        "{modalities: a+b, encoders: {a: {kind: cnn1d, channels: 4, hidden: 32, layers: 1}}}]",
        "agents.mix=3:3:3:3",
    ];

    [Fact]
    public void Types_choose_their_encoders_and_only_matching_trunks_share_a_key()
    {
        var cfg = TestConfigs.Load([.. Types, "rounds=2"]);
        Assert.Equal("a-wide", cfg.Agents.Types![1].Name);
        using var sim = new Simulator(cfg, Directory.GetCurrentDirectory());
        var byType = sim.Agents.GroupBy(a => a.TypeName).ToDictionary(g => g.Key, g => g.First());
        Assert.Equal(["a", "a+b", "a-wide", "b"], byType.Keys.Order(StringComparer.Ordinal));

        IEnumerable<string> Keys(string type, GroupRole role) => byType[type].Model.Groups.Where(g => g.Role == role).Select(g => g.Key);
        string TrunkA(string type) => Keys(type, GroupRole.Trunk).Single(k => k.StartsWith("enc/a/", StringComparison.Ordinal));
        // three different architectures of modality a: three trunk keys, each naming its architecture
        Assert.StartsWith("enc/a/mlp-16-h32-l1/trunk|", TrunkA("a"));
        Assert.StartsWith("enc/a/mlp-16-w24x12-h16/trunk|", TrunkA("a-wide"));
        Assert.StartsWith("enc/a/cnn1d-16-c4-h32-l1/trunk|", TrunkA("a+b"));
        // the heads on the slices align across trunks: every holder of a has the same unique head, everyone the redundant head
        foreach (var t in new[] { "a", "a-wide", "a+b" })
        {
            Assert.Contains(byType["a"].Model.Groups.Single(g => g.Name == "head/unique/a").Key, Keys(t, GroupRole.Unique));
            Assert.Contains(byType["b"].Model.Groups.Single(g => g.Name == "head/redundant").Key, Keys(t, GroupRole.Redundant));
        }
        // the b trunk of a+b is the same architecture as b's: it is shared
        Assert.Contains(Keys("b", GroupRole.Trunk).Single(), Keys("a+b", GroupRole.Trunk));

        // one stacked learner per type, never two encoders in one stack
        Assert.Equal(4, sim.Learners.Count);
        Assert.All(sim.Learners, l => Assert.Single(l.Agents.Select(a => a.TypeName).Distinct()));
        var r = sim.Run();
        Assert.Equal(["a", "a+b", "a-wide", "b"], r.AccuracyByType.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Batched_and_per_agent_training_give_the_same_accuracy_with_heterogeneous_encoders()
    {
        var batched = TestConfigs.Load([.. Types, "rounds=3", "eval.every=3"]);
        var alone = TestConfigs.Load([.. Types, "rounds=3", "eval.every=3", "sim.batch_agents=false"]);
        using var s1 = new Simulator(batched, Directory.GetCurrentDirectory());
        using var s2 = new Simulator(alone, Directory.GetCurrentDirectory());
        Assert.Equal(4, s1.Learners.Count);
        Assert.Equal(12, s2.Learners.Count);
        var r1 = s1.Run();
        var r2 = s2.Run();
        for (int i = 0; i < r1.FinalAccuracy.Count; i++)
            Assert.True(Math.Abs(r1.FinalAccuracy[i] - r2.FinalAccuracy[i]) < 0.02,
                $"agent {i}: batched {r1.FinalAccuracy[i]:F4} vs alone {r2.FinalAccuracy[i]:F4}");
    }

    [Fact]
    public void Bad_type_tables_name_the_field()
    {
        var dup = Assert.Throws<ConfigException>(() => TestConfigs.Load("agents.types=[a, a, a+b]"));
        Assert.Contains("agents.types[1]: type name 'a' is also agents.types[0]", dup.Message);
        var foreign = Assert.Throws<ConfigException>(() => TestConfigs.Load("agents.types=[a, {modalities: b, encoders: {a: {kind: mlp}}}, a+b]"));
        Assert.Contains("agents.types[1].encoders.a: type 'b' does not hold modality 'a'", foreign.Message);
        var kind = Assert.Throws<ConfigException>(() => TestConfigs.Load("agents.types=[a, {modalities: b, encoders: {b: {kind: rnn}}}, a+b]"));
        Assert.Contains("agents.types[1].encoders.b.kind: unknown value 'rnn'", kind.Message);
        var heads = Assert.Throws<ConfigException>(() => TestConfigs.Load("agents.types=[a, {modalities: b, encoders: {b: {kind: transformer, hidden: 10, heads: 4}}}, a+b]"));
        Assert.Contains("agents.types[1].encoders.b.heads: hidden (10) must be a multiple of heads (4)", heads.Message);
        var unknown = Assert.Throws<ConfigException>(() => TestConfigs.Load("agents.types=[a, {modalities: b, encoder: {}}, a+b]"));
        Assert.Contains("agents.types: unknown key 'encoder'", unknown.Message);
    }

    [Fact]
    public void A_type_table_reads_back_from_the_resolved_config()
    {
        var cfg = TestConfigs.Load(Types);
        var again = ConfigLoader.FromText(ConfigLoader.ToJson(cfg));
        Assert.Equal(4, again.Agents.Types!.Count);
        Assert.True(again.Agents.Types[0].IsPlain);
        Assert.Equal("a", again.Agents.Types[0].Modalities);
        Assert.Equal([24, 12], again.Agents.Types[1].Encoders!["a"].Widths);
        Assert.Equal("cnn1d", again.Agents.Types[3].Encoders!["a"].Kind);
    }
}
