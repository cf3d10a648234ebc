using System.Text.Json.Nodes;
using Parse.Federation.Overlays;
using Parse.Federation.Topology;

namespace Parse.Tests;

/// <summary>
/// Links added by overlay repair are reported per run (summary.json <c>links</c>), <c>overlay.repair: false</c> keeps a
/// run to its base graph, and <c>parse overlays --edges-out</c> writes the repaired graph so that another method can
/// be run on the same links (<c>topology.kind: file</c>).
/// </summary>
[Collection("cli")]
public class EffectiveGraphTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("parse-links").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void Link_summary_counts_undirected_links_with_traffic_and_those_outside_the_base_graph()
    {
        var ring = new Graph(6, [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 0)]);
        var bytes = new Dictionary<(int, int), long> { [(0, 1)] = 10, [(1, 0)] = 5, [(0, 2)] = 7, [(3, 4)] = 0 };
        var s = LinkSummary.Of(ring, bytes);
        Assert.Equal(new LinkSummary(6, 2, 1), s);   // 0-1 (both directions, once) and 0-2 (not a ring edge); 3-4 carried nothing
    }

    [Fact]
    public void The_union_of_a_time_varying_topology_holds_every_round_s_edges()
    {
        var t = new TimeVaryingTopology(r => new Graph(4, [(r % 4, (r + 1) % 4)]));
        var u = t.UnionOver(3);
        Assert.Equal(3, u.EdgeCount);
        Assert.True(u.HasEdge(0, 1) && u.HasEdge(1, 2) && u.HasEdge(2, 3));
        Assert.False(u.HasEdge(3, 0));
    }

    private JsonNode Run(string name, params string[] sets)
    {
        string cfg = Path.Combine(_dir, "exp.yaml");
        if (!File.Exists(cfg)) File.WriteAllText(cfg, TestConfigs.Small);
        string outDir = Path.Combine(_dir, name);
        var args = new List<string> { "run", cfg, "--out", outDir, "--quiet", "--set", "rounds=2" };
        foreach (var s in sets) { args.Add("--set"); args.Add(s); }
        Assert.Equal(0, Parse.Cli.Program.Main([.. args]));
        Assert.Contains("Links that carried traffic", File.ReadAllText(Path.Combine(outDir, "report.md")));
        return JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "summary.json")))!["links"]!;
    }

    [Fact]
    public void Repair_adds_links_to_a_ring_and_repair_off_or_the_effective_graph_gives_every_method_the_same_links()
    {
        // 12 agents on a ring (4:4:4 interleaved): the a+b agents are never ring neighbours, so their synergy
        // overlay exists only through repair bridges
        var parse = Run("parse");
        Assert.Equal(12, parse["base"]!.GetValue<int>());
        Assert.True(parse["used_outside_base"]!.GetValue<int>() > 0);
        var bare = Run("bare", "overlay.repair=false");
        Assert.Equal(0, bare["used_outside_base"]!.GetValue<int>());
        Assert.True(bare["used"]!.GetValue<int>() <= 12);
        Assert.Equal(0, Run("local", "strategy=local")["used"]!.GetValue<int>());

        // the repaired graph as an edge list: base links plus exactly the links parse used outside the ring
        string edges = Path.Combine(_dir, "effective.txt");
        Assert.Equal(0, Parse.Cli.Program.Main(["overlays", Path.Combine(_dir, "exp.yaml"), "--edges-out", edges]));
        var lines = File.ReadLines(edges).Where(l => !l.StartsWith('#')).ToList();
        Assert.Equal(12 + parse["used_outside_base"]!.GetValue<int>(), lines.Count);
        // a baseline that shares one group among all agents uses every link of that graph, none outside it
        var task = Run("task-effective", "strategy=dsgd-task", "model.fission=false", "topology.kind=file", $"topology.file={edges}");
        Assert.Equal(lines.Count, task["base"]!.GetValue<int>());
        Assert.Equal(lines.Count, task["used"]!.GetValue<int>());
        Assert.Equal(0, task["used_outside_base"]!.GetValue<int>());
    }
}
