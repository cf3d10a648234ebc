using Parse.Bench;
using Parse.Config;

namespace Parse.Tests;

public class BenchTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("parse-bench").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private GridSpec Grid()
    {
        File.WriteAllText(Path.Combine(_dir, "base.yaml"), TestConfigs.Small);
        File.WriteAllText(Path.Combine(_dir, "grid.yaml"), """
            name: t
            base: base.yaml
            set: [rounds=1, eval.every=1]
            axes:
              method:
                parse: { strategy: parse }
                local: { strategy: local }
                dsgd-task: { strategy: dsgd-task, model.fission: false }
              seed: [1, 2]
            """);
        return GridSpec.Load(Path.Combine(_dir, "grid.yaml"));
    }

    [Fact]
    public void Interrupted_bench_resumes_without_redoing_finished_cells()
    {
        var grid = Grid();
        Assert.Equal(6, grid.Cells().Count);
        Assert.Equal(("method", "local"), grid.Baseline);
        string outDir = Path.Combine(_dir, "out");
        using var cts = new CancellationTokenSource();
        var seen = new List<BenchProgress>();
        var stop = new Progress(p => { seen.Add(p); if (p.Done == 2) cts.Cancel(); });
        Assert.ThrowsAny<OperationCanceledException>(() => BenchRunner.Run(grid, outDir, stop, cts.Token));
        Assert.Equal(2, seen.Count);
        var finished = grid.Cells().Take(2).Select(c => Path.Combine(BenchRunner.CellDir(outDir, c), "summary.json")).ToList();
        var stamps = finished.Select(File.GetLastWriteTimeUtc).ToList();
        Assert.False(File.Exists(Path.Combine(BenchRunner.CellDir(outDir, grid.Cells()[2]), "summary.json")));

        var second = new List<BenchProgress>();
        BenchRunner.Run(grid, outDir, new Progress(second.Add));
        Assert.Equal(6, second.Count);
        Assert.Equal(2, second.Count(p => p.Skipped));
        Assert.True(second.Take(2).All(p => p.Skipped));
        Assert.Equal(stamps, finished.Select(File.GetLastWriteTimeUtc).ToList());
        string md = File.ReadAllText(Path.Combine(outDir, "results.md"));
        Assert.Contains("| parse | 2 |", md);
        Assert.Contains("| dsgd-task | 2 |", md);
        Assert.Contains("/24", md);   // 12 agents x 2 seeds compared against local
        Assert.Equal(4, File.ReadAllLines(Path.Combine(outDir, "results.csv")).Length);
        // communication per group: local sends nothing; dsgd-task only its task head; parse's groups add up to its total
        var comm = File.ReadAllLines(Path.Combine(outDir, "communication.csv")).Select(l => l.Split(',')).ToList();
        var head = comm[0].ToList();
        double Col(string method, string col) => double.Parse(comm.Single(r => r[0] == method)[head.IndexOf(col)], System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(0, Col("local", "bytes_total"));
        Assert.True(Col("dsgd-task", "bytes_task") > 0);
        Assert.Equal(Col("dsgd-task", "bytes_total"), Col("dsgd-task", "bytes_task"), 0.5);
        Assert.Equal(0, Col("dsgd-task", "bytes_trunk"));
        Assert.True(Col("parse", "bytes_synergy") > 0 && Col("parse", "bytes_redundant") > 0 && Col("parse", "bytes_trunk") > 0);
        double parts = head.Where(h => h.StartsWith("bytes_") && h is not ("bytes_total" or "bytes_per_agent_round")).Sum(h => Col("parse", h));
        Assert.Equal(Col("parse", "bytes_total"), parts, Col("parse", "bytes_total") * 1e-3);
        Assert.Contains("## Communication", md);
        // paired differences to local: one row per method and type (parse, dsgd-task x 3 types), 2 pairs each
        Assert.Contains("## Paired differences to `method=local`", md);
        var paired = File.ReadAllLines(Path.Combine(outDir, "paired.csv")).Skip(1).Select(l => l.Split(',')).ToList();
        Assert.Equal(6, paired.Count);
        Assert.All(paired, r => Assert.Equal("2", r[3]));
        Assert.All(paired, r => Assert.True(double.Parse(r[6], System.Globalization.CultureInfo.InvariantCulture) <= double.Parse(r[7], System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Contains("## Bytes to reach a target accuracy", md);
        Assert.True(File.ReadAllLines(Path.Combine(outDir, "bytes_to_target.csv")).Length > 1);
        foreach (var png in new[] { "accuracy_a.png", "accuracy_a_b.png", "accuracy_vs_bytes_a.png", "accuracy_vs_bytes_a_b.png", "gradient_conflict.png", "bytes_per_link.png" })
        {
            var bytes = File.ReadAllBytes(Path.Combine(outDir, png));
            Assert.True(bytes.Length > 1000 && bytes[1] == 'P' && bytes[2] == 'N' && bytes[3] == 'G', $"{png} is not a PNG");
        }
    }

    [Fact]
    public void Centralized_rows_do_not_set_the_bytes_to_target_target()
    {
        // centralized pools every agent's data and exchanges nothing: were it a candidate for the best row, the
        // target would be one no decentralized row can reach; with local as the only other row, local sets it
        File.WriteAllText(Path.Combine(_dir, "base.yaml"), TestConfigs.Small);
        File.WriteAllText(Path.Combine(_dir, "c.yaml"), """
            name: c
            base: base.yaml
            set: [rounds=2, eval.every=1]
            axes:
              method:
                local: { strategy: local }
                centralized: { strategy: centralized }
              seed: [1]
            baseline: local
            """);
        var grid = GridSpec.Load(Path.Combine(_dir, "c.yaml"));
        string outDir = Path.Combine(_dir, "out-c");
        BenchRunner.Run(grid, outDir);
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        var local = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(BenchRunner.CellDir(outDir, grid.Cells()[0]), "summary.json")))!;
        var rows = File.ReadAllLines(Path.Combine(outDir, "bytes_to_target.csv")).Skip(1).Select(l => l.Split(',')).ToList();
        Assert.Equal(2 * local["accuracy"]!["by_agent_type"]!.AsObject().Count, rows.Count);
        foreach (var r in rows)
        {
            double localFinal = local["accuracy"]!["by_agent_type"]![r[1]]!.GetValue<double>();
            Assert.Equal(BenchStatistics.TargetFraction * localFinal, double.Parse(r[2], inv), 1e-4);
            if (r[0] == "local") Assert.Equal("1", r[4]);   // local reaches 95% of its own final accuracy
        }
        Assert.Contains("centralized rows are not candidates", File.ReadAllText(Path.Combine(outDir, "results.md")));
    }

    [Fact]
    public void Bad_axis_values_fail_before_any_cell_runs()
    {
        File.WriteAllText(Path.Combine(_dir, "base.yaml"), TestConfigs.Small);
        File.WriteAllText(Path.Combine(_dir, "bad.yaml"), "base: base.yaml\naxes:\n  topology.kind: [ring, moebius]\n");
        var grid = GridSpec.Load(Path.Combine(_dir, "bad.yaml"));
        var e = Assert.Throws<ConfigException>(() => BenchRunner.Run(grid, Path.Combine(_dir, "o")));
        Assert.Contains("moebius", e.Message);
        Assert.False(Directory.Exists(Path.Combine(_dir, "o", "cells")));
    }

    private sealed class Progress(Action<BenchProgress> f) : IProgress<BenchProgress>
    {
        public void Report(BenchProgress value) => f(value);
    }
}
