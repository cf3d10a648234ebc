using System.Globalization;
using System.Text.Json.Nodes;
using Parse.Config;
using Parse.Simulation;
using TorchSharp;

namespace Parse.Cluster.Tests;

/// <summary>
/// Data that belongs to agents (multiview-csv <c>data.agent_column</c> and per-agent files): under
/// <c>parse launch --processes 3</c> each node process loads only its own agents' rows or files (its log says how many
/// rows, for which agents), and the run ends with the simulator's accuracy for every agent at every evaluation.
/// </summary>
[Collection("processes")]
public sealed class AgentDataClusterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("parse-agentdata").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private const int Agents = 6;

    /// <summary>Agent a has 20 + 4a rows; labels c0..c3 from the signs of x1 and y1.</summary>
    private static List<string> AgentRows(int a)
    {
        var rng = new Random(100 + a);
        return Enumerable.Range(0, 20 + 4 * a).Select(_ =>
        {
            int p = rng.Next(2), q = rng.Next(2);
            double N() => rng.NextDouble() - 0.5;
            return FormattableString.Invariant($"{p * 2 - 1 + N():F4},{N():F4},{q * 2 - 1 + N():F4},{N():F4},c{p + 2 * q}");
        }).ToList();
    }

    private static int RowsOf(IEnumerable<int> agents) => agents.Sum(a => 20 + 4 * a);

    private string Write(string name, IEnumerable<string> lines)
    {
        string path = Path.Combine(_dir, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, string.Join("\n", lines) + "\n");
        return path;
    }

    /// <summary>The experiment of <see cref="ClusterConfigs.Small"/> on multiview-csv data owned by agents.</summary>
    private string Config(bool perAgentFiles)
    {
        var test = new Random(7);
        Write("test.csv", new[] { "x1,x2,y1,y2,label" }.Concat(Enumerable.Range(0, 120).Select(_ =>
        {
            int p = test.Next(2), q = test.Next(2);
            double N() => test.NextDouble() - 0.5;
            return FormattableString.Invariant($"{p * 2 - 1 + N():F4},{N():F4},{q * 2 - 1 + N():F4},{N():F4},c{p + 2 * q}");
        })));
        string data;
        if (perAgentFiles)
        {
            for (int a = 0; a < Agents; a++) Write($"agents/{a}/train.csv", new[] { "x1,x2,y1,y2,label" }.Concat(AgentRows(a)));
            data = """data: { name: multiview-csv, modalities: [a, b], file: "agents/{agent}/train.csv", test_file: test.csv, views: { a: { columns: [x1, x2] }, b: { columns: [y1, y2] } } }""";
        }
        else
        {
            // one file, rows of all agents interleaved, the agent in a column
            var rows = Enumerable.Range(0, Agents).SelectMany(a => AgentRows(a).Select((r, i) => (Key: i * Agents + a, Line: $"{r},{a}")))
                .OrderBy(x => x.Key).Select(x => x.Line);
            Write("train.csv", new[] { "x1,x2,y1,y2,label,owner" }.Concat(rows));
            data = """data: { name: multiview-csv, modalities: [a, b], file: train.csv, test_file: test.csv, agent_column: owner, views: { a: { columns: [x1, x2] }, b: { columns: [y1, y2] } } }""";
        }
        string text = string.Join("\n", ClusterConfigs.Small.Split('\n').Select(l => l.StartsWith("data:", StringComparison.Ordinal) ? data : l));
        return ClusterConfigs.Write(_dir, text);
    }

    [Theory]
    [InlineData("agent-column")]
    [InlineData("per-agent-files")]
    public void Each_node_loads_only_its_agents_data_and_the_run_matches_the_simulator(string kind)
    {
        string cfgPath = Config(kind == "per-agent-files");
        string[] overrides = ["sim.batch_agents=false", "sim.parallelism=1"];
        string outDir = Path.Combine(_dir, "run-" + kind);
        var args = new List<string> { "launch", cfgPath, "--processes", "3", "--out", outDir, "--timeout", "240" };
        foreach (var o in overrides) { args.Add("--set"); args.Add(o); }
        Assert.Equal(0, Parse.Cli.Program.Main(args.ToArray()));

        // agents are split in blocks: process k hosts agents 2k and 2k+1, and loaded only their rows
        for (int k = 0; k < 3; k++)
        {
            var mine = new[] { 2 * k, 2 * k + 1 };
            string log = File.ReadAllText(Path.Combine(outDir, "nodes", $"node-{k}.log"));
            string expected = $"multiview-csv: loaded {RowsOf(mine)} training rows for agents {string.Join(',', mine)} ";
            Assert.True(log.Contains(expected, StringComparison.Ordinal), $"node {k} log lacks '{expected}':\n{log}");
            Assert.Contains(kind == "per-agent-files" ? "from their own files (data.file)" : $"of {RowsOf(Enumerable.Range(0, Agents))} in ", log);
        }

        torch.set_num_threads(1);
        var cfg = ConfigLoader.Load(cfgPath, overrides);
        using var sim = new Simulator(cfg, _dir);
        var expectedRun = sim.Run();
        var launched = File.ReadAllLines(Path.Combine(outDir, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!)
            .Select(n => (Round: n["round"]!.GetValue<int>(), Agent: n["agent"]!.GetValue<int>(), Acc: n["accuracy"]!.GetValue<double>()))
            .OrderBy(x => x.Round).ThenBy(x => x.Agent).ToList();
        var simulated = expectedRun.Metrics.Select(m => (m.Round, m.Agent, Acc: Math.Round(m.Accuracy, 6))).ToList();
        Assert.Equal(simulated.Count, launched.Count);
        for (int i = 0; i < simulated.Count; i++)
        {
            Assert.Equal((simulated[i].Round, simulated[i].Agent), (launched[i].Round, launched[i].Agent));
            Assert.True(Math.Abs(simulated[i].Acc - launched[i].Acc) < 1e-6,
                string.Create(CultureInfo.InvariantCulture, $"{kind}: round {simulated[i].Round} agent {simulated[i].Agent}: simulator {simulated[i].Acc} vs launch {launched[i].Acc}"));
        }
    }
}
