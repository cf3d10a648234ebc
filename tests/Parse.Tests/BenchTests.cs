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
        foreach (var png in new[] { "accuracy_a.png", "accuracy_a_b.png", "gradient_conflict.png", "bytes_per_link.png" })
        {
            var bytes = File.ReadAllBytes(Path.Combine(outDir, png));
            Assert.True(bytes.Length > 1000 && bytes[1] == 'P' && bytes[2] == 'N' && bytes[3] == 'G', $"{png} is not a PNG");
        }
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
