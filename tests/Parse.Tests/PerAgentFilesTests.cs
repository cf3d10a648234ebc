using Parse.Config;
using Parse.Data;
using Parse.Node;

namespace Parse.Tests;

/// <summary>
/// Per-agent files (<c>{agent}</c> in the training file paths): each agent's rows are its own files, a process reads only
/// its agents' files, the shared test files define classes and standardization, and a missing file names the agent and
/// the path.
/// </summary>
public class PerAgentFilesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("parse-agentfiles").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private static string Inv(FormattableString s) => FormattableString.Invariant(s);

    /// <summary>Writes agents/A/a.csv (p, q, label) and agents/A/b.csv (r) for every agent (agent A has 10 + 3A rows),
    /// test-a.csv / test-b.csv, and the experiment; returns the config path.</summary>
    private string Setup(int agents = 3)
    {
        for (int a = 0; a < agents; a++)
        {
            var rng = new Random(10 + a);
            var rows = Enumerable.Range(0, 10 + 3 * a).Select(_ => (P: rng.NextDouble() * 2 - 1 + a, Q: rng.NextDouble(), R: rng.NextDouble() * 2 - 1)).ToList();
            string d = Path.Combine(_dir, "agents", a.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Directory.CreateDirectory(d);
            File.WriteAllText(Path.Combine(d, "a.csv"), "p,q,label\n" + string.Join("\n", rows.Select(x => Inv($"{x.P},{x.Q},{(x.P - a + x.R > 0 ? "up" : "down")}"))) + "\n");
            File.WriteAllText(Path.Combine(d, "b.csv"), "r\n" + string.Join("\n", rows.Select(x => Inv($"{x.R}"))) + "\n");
        }
        var t = new Random(99);
        var test = Enumerable.Range(0, 24).Select(_ => (P: t.NextDouble() * 2 - 1, Q: t.NextDouble(), R: t.NextDouble() * 2 - 1)).ToList();
        File.WriteAllText(Path.Combine(_dir, "test-a.csv"), "p,q,label\n" + string.Join("\n", test.Select(x => Inv($"{x.P},{x.Q},{(x.P + x.R > 0 ? "up" : "down")}"))) + "\n");
        File.WriteAllText(Path.Combine(_dir, "test-b.csv"), "r\n" + string.Join("\n", test.Select(x => Inv($"{x.R}"))) + "\n");
        string yaml = Path.Combine(_dir, "exp.yaml");
        File.WriteAllText(yaml, Inv($"""
            name: per-agent-files
            rounds: 2
            data:
              name: multiview-csv
              modalities: [a, b]
              views:
                a: {"{"} file: "agents/{"{"}agent{"}"}/a.csv", test_file: test-a.csv {"}"}
                b: {"{"} file: "agents/{"{"}agent{"}"}/b.csv", test_file: test-b.csv {"}"}
            agents: {"{"} count: {agents}, mix: "1:1:1" {"}"}
            model: {"{"} latent_dim: 12, split: [4, 4, 4], encoders: {"{"} default: {"{"} kind: mlp, hidden: 8, layers: 1 {"}"} {"}"}, synergy_hidden: 8 {"}"}
            train: {"{"} batch_size: 4, local_steps: 1 {"}"}
            sim: {"{"} parallelism: 1 {"}"}
            """));
        return yaml;
    }

    [Fact]
    public void Each_agent_gets_its_own_files_and_a_process_reads_only_its_agents_files()
    {
        var cfg = ConfigLoader.Load(Setup());
        using var all = ExperimentSetup.Build(cfg, _dir);
        Assert.Equal(10 + 13 + 16, all.Data.Train.Count);
        Assert.Equal([10, 13, 16], all.Data.Partition!.Select(p => p.Length));

        // a node hosting agent 2 only: agent 0's and 1's files may be absent
        File.Delete(Path.Combine(_dir, "agents", "0", "a.csv"));
        Directory.Delete(Path.Combine(_dir, "agents", "1"), true);
        var log = new StringWriter();
        using (var loaded = MultiviewCsv.Load(cfg.Data, _dir, cfg.Seed, 3, new HashSet<int> { 2 }, log))
            Assert.Equal(16, loaded.Train.Count);
        Assert.Contains("multiview-csv: loaded 16 training rows for agents 2 from their own files", log.ToString());
        using var mine = ExperimentSetup.Build(cfg, _dir, new HashSet<int> { 2 });
        Assert.Equal(16, mine.Data.Train.Count);
        using var a2 = all.CreateLearner(2);
        using var b2 = mine.CreateLearner(2);
        Assert.Equal(a2.Train.Labels, b2.Train.Labels);
        // classes and standardization come from the shared test rows: the same values on every process
        Assert.Equal(a2.Train.Views["a"].data<float>().ToArray(), b2.Train.Views["a"].data<float>().ToArray());
        Assert.Equal(all.Data.Test.Views["b"].data<float>().ToArray(), mine.Data.Test.Views["b"].data<float>().ToArray());

        // the process hosting agent 0 is told which file is missing
        var e = Assert.Throws<ConfigException>(() => ExperimentSetup.Build(cfg, _dir, new HashSet<int> { 0 }));
        Assert.Contains("data.views.a.file: agent 0's file not found: " + Path.Combine(_dir, "agents", "0", "a.csv"), e.Message);
        e = Assert.Throws<ConfigException>(() => ExperimentSetup.Build(cfg, _dir));
        Assert.Contains("agent 0's file not found", e.Message);
    }

    [Fact]
    public void The_simulator_runs_on_per_agent_files()
    {
        var cfg = ConfigLoader.Load(Setup());
        using var sim = new Simulation.Simulator(cfg, _dir);
        var r = sim.Run();
        Assert.Equal(3, r.FinalAccuracy.Count);
    }

    [Fact]
    public void Labels_missing_from_the_test_rows_and_files_with_other_columns_are_refused()
    {
        var cfg = ConfigLoader.Load(Setup());
        string a1 = Path.Combine(_dir, "agents", "1", "a.csv");
        File.WriteAllText(a1, File.ReadAllText(a1).Replace(",up\n", ",sideways\n"));
        var e = Assert.Throws<ConfigException>(() => ExperimentSetup.Build(cfg, _dir));
        Assert.Contains("agent 1 has label 'sideways'", e.Message);
        Assert.Contains("test set defines the classes", e.Message);

        Setup();
        string b2 = Path.Combine(_dir, "agents", "2", "b.csv");
        File.WriteAllText(b2, File.ReadAllText(b2).Replace("r\n", "s\n"));
        e = Assert.Throws<ConfigException>(() => ExperimentSetup.Build(cfg, _dir));
        Assert.Contains("data.views.b: agent 2's file", e.Message);
        Assert.Contains("every agent's files need the same columns", e.Message);
    }

    [Fact]
    public void The_validator_refuses_placeholders_in_test_files_and_mixed_or_conflicting_keys()
    {
        var cfg = ConfigLoader.Load(Setup());
        var views = cfg.Data.Views!;
        var bad = cfg with
        {
            Data = cfg.Data with
            {
                AgentColumn = "agent", MaxTrain = 5,
                Views = new()
                {
                    ["a"] = views["a"] with { TestFile = "t-{agent}.csv" },
                    ["b"] = views["b"] with { File = "agents/0/b.csv" },
                },
            },
        };
        var e = Assert.Throws<ConfigException>(() => ConfigValidator.Validate(bad, _dir));
        Assert.Contains("data.views.a.test_file: test files are shared by every agent", e.Message);
        Assert.Contains("data.views.b.file: 'agents/0/b.csv' has no {agent}", e.Message);
        Assert.Contains("data.agent_column: not together with per-agent files", e.Message);
        Assert.Contains("data.max_train: does not apply with per-agent files", e.Message);
        Assert.DoesNotContain("file not found: " + Path.Combine(_dir, "agents", "{agent}"), e.Message);
        ConfigValidator.Validate(cfg, _dir);   // the pattern itself is no missing file
    }
}
