using System.Text.Json.Nodes;
using Parse.Config;
using Parse.Simulation;
using TorchSharp;

namespace Parse.Cluster.Tests;

/// <summary>(a) <c>parse launch</c> with real processes on loopback matches the in-process simulator.</summary>
[Collection("processes")]
public sealed class MultiProcessRunTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("parse-launch").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void Launch_in_three_processes_matches_the_simulator_per_agent_type()
    {
        string cfgPath = ClusterConfigs.Write(_dir);
        string outDir = Path.Combine(_dir, "run");
        Assert.Equal(0, Parse.Cli.Program.Main(["launch", cfgPath, "--processes", "3", "--out", outDir, "--timeout", "180"]));

        var s = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "summary.json")))!;
        Assert.Equal("parse", s["strategy"]!.GetValue<string>());
        Assert.Equal(6, s["rounds"]!.GetValue<int>());
        Assert.Equal(3, s["seed"]!.GetValue<int>());
        Assert.True(s["bytes_sent_total"]!.GetValue<long>() > 0);
        Assert.True(s["wall_seconds"]!.GetValue<double>() > 0);
        foreach (var f in new[] { "config.json", "metrics.jsonl", "metrics.csv", "report.md", "links.csv", "cluster.json" })
            Assert.True(File.Exists(Path.Combine(outDir, f)), f);
        var cluster = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "cluster.json")))!;
        Assert.Equal(0, cluster["missing_payloads"]!.GetValue<long>());   // generous deadline: every payload arrived
        Assert.Equal(0, cluster["max_staleness"]!.GetValue<int>());

        // the same config and seed in the in-process simulator (one torch thread, as on the nodes)
        torch.set_num_threads(1);
        var cfg = ConfigLoader.Load(cfgPath);
        using var sim = new Simulator(cfg, _dir);
        var expected = sim.Run();
        var byType = s["accuracy"]!["by_agent_type"]!.AsObject();
        Assert.Equal(expected.AccuracyByType.Keys, byType.Select(kv => kv.Key));
        foreach (var (type, acc) in expected.AccuracyByType)
            Assert.InRange(byType[type]!.GetValue<double>(), acc - 0.05, acc + 0.05);
        // overlays discovered by messages equal the simulator's (same members, edges and bridges)
        var simOverlays = expected.Overlays.Select(o => $"{o.Key}:{o.Size}:{o.Edges}:{o.Bridges}").ToList();
        var clusterOverlays = s["overlays"]!.AsArray().Select(o => $"{o!["key"]}:{o["size"]}:{o["edges"]}:{o["bridges"]}").ToList();
        Assert.Equal(simOverlays, clusterOverlays);
        // the links that carried traffic, and how many of them overlay repair added, are the simulator's
        var links = s["links"]!;
        Assert.Equal(expected.Links!.BaseLinks, links["base"]!.GetValue<int>());
        Assert.Equal(expected.Links.UsedLinks, links["used"]!.GetValue<int>());
        Assert.Equal(expected.Links.UsedOutsideBase, links["used_outside_base"]!.GetValue<int>());
    }
}
