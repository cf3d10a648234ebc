using Parse.Config;

namespace Parse.Tests;

public class ConfigTests
{
    private static string ErrorOf(params string[] overrides) =>
        Assert.Throws<ConfigException>(() => TestConfigs.Load(overrides)).Message;

    [Theory]
    [InlineData("strategy=fedmagic", "strategy", "fedmagic")]
    [InlineData("topology.kind=hypercube", "topology.kind", "hypercube")]
    [InlineData("model.fusion=trilinear", "model.fusion", "trilinear")]
    [InlineData("model.split=[8,8,9]", "model.split", "latent_dim")]
    [InlineData("model.split=[8,16]", "model.split", "three sizes")]
    [InlineData("agents.types=[a, \"\", a+b]", "agents.types[1]", "at least one modality")]
    [InlineData("agents.types=[a, d, a+b]", "agents.types[1]", "unknown modality 'd'")]
    [InlineData("agents.mix=1:2", "agents.mix", "3 agent types")]
    [InlineData("train.optimizer=lbfgs", "train.optimizer", "lbfgs")]
    [InlineData("data.name=imagenet", "data.name", "imagenet")]
    [InlineData("model.encoders.default.kind=wavenet", "model.encoders.default.kind", "wavenet")]
    [InlineData("loss.tau=0", "loss.tau", "> 0")]
    public void Bad_values_name_the_field(string setting, string field, string detail)
    {
        string msg = ErrorOf(setting);
        Assert.Contains(field, msg);
        Assert.Contains(detail, msg);
    }

    [Fact]
    public void Unknown_keys_are_rejected_by_their_dotted_path()
    {
        Assert.Contains("unknown config key 'topology.kindd'", ErrorOf("topology.kindd=ring"));
        Assert.Contains("unknown config key 'roundz'", ErrorOf("roundz=3"));
        Assert.Contains("unknown config key 'model.encoders.default.depth'", ErrorOf("model.encoders.default.depth=3"));
    }

    [Fact]
    public void Wrong_types_name_the_field()
    {
        Assert.Contains("'rounds'", ErrorOf("rounds=many"));
    }

    [Fact]
    public void Overrides_reach_any_field_and_keep_stable_keys()
    {
        var c = TestConfigs.Load("rounds=7", "topology.kind=random-gossip", "agents.mix=1:2:3", "agents.count=null",
            "data.name=synthetic-pid", "model.split=[4,12,8]", "strategy=local", "seed=9");
        Assert.Equal(7, c.Rounds);
        Assert.Equal("random-gossip", c.Topology.Kind);
        Assert.Equal("1:2:3", c.Agents.Mix);
        Assert.Null(c.Agents.Count);
        Assert.Equal(new[] { 4, 12, 8 }, c.Model.Split);
        Assert.Equal("local", c.Strategy);
        Assert.Equal(9, c.Seed);
        // the resolved config round-trips
        var again = ConfigLoader.FromText(ConfigLoader.ToJson(c));
        Assert.Equal(ConfigLoader.ToJson(c), ConfigLoader.ToJson(again));
    }

    [Fact]
    public void Missing_config_file_is_named()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load("/nonexistent/exp.yaml"));
        Assert.Contains("/nonexistent/exp.yaml", e.Message);
    }

    [Fact]
    public void Topology_file_with_unknown_agent_names_the_file_and_line()
    {
        string dir = Directory.CreateTempSubdirectory("parse-topo").FullName;
        try
        {
            string file = Path.Combine(dir, "edges.txt");
            File.WriteAllText(file, "# ring fragment\n0 1\n1 2\n2 99\n");
            var cfg = TestConfigs.Load("topology.kind=file", $"topology.file={file}");
            var e = Assert.Throws<ConfigException>(() => new Simulation.Simulator(cfg, dir));
            Assert.Contains("edges.txt:4", e.Message);
            Assert.Contains("unknown agent", e.Message);
            Assert.Contains("topology.file", ErrorOf("topology.kind=file", "topology.file=missing-edges.txt"));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Empty_partition_is_reported_with_a_remedy()
    {
        var cfg = TestConfigs.Load("data.samples_per_agent=1", "data.partition.kind=dirichlet", "data.partition.alpha=0.01");
        var e = Assert.Throws<ConfigException>(() => new Simulation.Simulator(cfg, "."));
        // redrawn up to data.partition.max_resamples times, then stopped with keys valid for synthetic-pid
        Assert.Contains("no Dirichlet draw", e.Message);
        Assert.Contains("data.partition.max_resamples", e.Message);
        Assert.Contains("raise data.samples_per_agent", e.Message);
    }
}

public class HostileConfigTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("parse-hostile").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void A_yaml_alias_bomb_is_refused_quickly_with_a_message()
    {
        var yaml = new System.Text.StringBuilder("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for (int i = 1; i < 9; i++)
            yaml.Append($"a{i}: &a{i} [{string.Join(", ", Enumerable.Repeat($"*a{i - 1}", 10))}]\n");
        string path = Path.Combine(_dir, "bomb.yaml");
        File.WriteAllText(path, yaml.ToString());
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var e = Assert.Throws<Parse.Config.ConfigException>(() => Parse.Config.ConfigLoader.Load(path));
        Assert.Contains("aliases", e.Message);
        Assert.True(sw.Elapsed.TotalSeconds < 10);
    }

    [Fact]
    public void An_empty_config_file_is_an_error_not_a_silent_default_run()
    {
        string path = Path.Combine(_dir, "empty.yaml");
        File.WriteAllText(path, "# nothing here\n\n");
        var e = Assert.Throws<Parse.Config.ConfigException>(() => Parse.Config.ConfigLoader.Load(path));
        Assert.Contains("empty", e.Message);
        Assert.Contains("empty.yaml", e.Message);
    }
}
