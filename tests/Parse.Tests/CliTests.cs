using System.Text.Json.Nodes;

namespace Parse.Tests;

[Collection("cli")]
public class CliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("parse-cli").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private string WriteConfig(string text)
    {
        string path = Path.Combine(_dir, "exp.yaml");
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Run_writes_a_complete_run_directory_with_the_stable_summary_fields()
    {
        string cfg = WriteConfig(TestConfigs.Small);
        string outDir = Path.Combine(_dir, "out");
        int code = Parse.Cli.Program.Main(["run", cfg, "--out", outDir, "--quiet", "--set", "rounds=2"]);
        Assert.Equal(0, code);
        foreach (var f in new[] { "config.json", "metrics.jsonl", "metrics.csv", "summary.json", "report.md", "links.csv" })
            Assert.True(File.Exists(Path.Combine(outDir, f)), $"{f} missing");
        var s = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "summary.json")))!;
        Assert.Equal("parse", s["strategy"]!.GetValue<string>());
        Assert.Equal(2, s["rounds"]!.GetValue<int>());
        Assert.Equal(3, s["seed"]!.GetValue<int>());
        var byType = s["accuracy"]!["by_agent_type"]!.AsObject();
        Assert.Equal(new[] { "a", "a+b", "b" }, byType.Select(kv => kv.Key));
        Assert.All(byType, kv => Assert.InRange(kv.Value!.GetValue<double>(), 0, 1));
        Assert.InRange(s["accuracy"]!["overall"]!.GetValue<double>(), 0, 1);
        Assert.True(s["bytes_sent_total"]!.GetValue<long>() > 0);
        Assert.True(s["wall_seconds"]!.GetValue<double>() > 0);
        Assert.Equal(12 * 1, File.ReadLines(Path.Combine(outDir, "metrics.jsonl")).Count());   // eval at round 2 only
        Assert.Contains("rounds\": 2", File.ReadAllText(Path.Combine(outDir, "config.json")));
        Assert.Empty(Directory.GetDirectories(_dir, "*.partial*"));
        foreach (var png in new[] { "embeddings_synergy_a.png", "embeddings_redundant_b.png", "embeddings_unique_a.png" })
        {
            var bytes = File.ReadAllBytes(Path.Combine(outDir, png));
            Assert.True(bytes.Length > 1000 && bytes[1] == 'P' && bytes[2] == 'N' && bytes[3] == 'G', $"{png} is not a PNG");
        }
        // a second run into the same directory is refused without --force
        Assert.Equal(2, Parse.Cli.Program.Main(["run", cfg, "--out", outDir, "--quiet", "--set", "rounds=1"]));
    }

    [Theory]
    [InlineData("strategy=nope")]
    [InlineData("topology.kind=nope")]
    [InlineData("model.split=[1,1,1]")]
    [InlineData("unknown.key=1")]
    [InlineData("data.samples_per_agent=1", "data.partition.kind=dirichlet", "data.partition.alpha=0.01")]
    public void Bad_input_exits_non_zero_and_leaves_no_output(params string[] sets)
    {
        string cfg = WriteConfig(TestConfigs.Small);
        string outDir = Path.Combine(_dir, "bad");
        var args = new List<string> { "run", cfg, "--out", outDir, "--quiet" };
        foreach (var s in sets) { args.Add("--set"); args.Add(s); }
        Assert.NotEqual(0, Parse.Cli.Program.Main(args.ToArray()));
        Assert.False(Directory.Exists(outDir));
        Assert.Empty(Directory.GetDirectories(_dir, "*.partial*"));
    }
}
