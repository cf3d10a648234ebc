using Parse.Bench;
using Parse.Config;
using Parse.Data;
using Parse.Federation.Topology;

namespace Parse.Tests;

/// <summary>
/// The configs and grids the repository ships load and validate, and the two quickstarts say what docs/results.md
/// says they are: the current one (issue 11: headroom for every agent type) and <c>configs/synthetic-v1.yaml</c>, the
/// old quickstart that every published grid uses as its base.
/// </summary>
public class ShippedConfigTests
{
    private static string Repo => DataPaths.FindRepoRoot(AppContext.BaseDirectory) ?? Directory.GetCurrentDirectory();

    public static TheoryData<string> Grids()
    {
        var data = new TheoryData<string>();
        foreach (var f in Directory.GetFiles(Path.Combine(Repo, "benchmarks"), "*.yaml").Order(StringComparer.Ordinal))
            if (File.ReadAllText(f).Contains("\naxes:")) data.Add(Path.GetFileName(f));
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(Grids))]
    public void Every_grid_in_benchmarks_resolves_every_cell(string file)
    {
        var grid = GridSpec.Load(Path.Combine(Repo, "benchmarks", file));
        // a grid on local data (mfeat) can only resolve where ../shared/datasets holds it, as MfeatTests
        var local = System.Text.RegularExpressions.Regex.Match(File.ReadAllText(grid.BasePath), @"(?m)^[^#\n]*shared/datasets/([\w-]+)");   // a setting, not a comment
        string? missing = local.Success && Path.GetFullPath(Path.Combine(Repo, "..", "shared", "datasets", local.Groups[1].Value)) is var dir
            && !Directory.Exists(dir) ? dir : null;
        IReadOnlyList<(GridCell Cell, ExperimentConfig Config)> cells;
        try { cells = BenchRunner.Resolve(grid); }
        catch (ConfigException e) when (missing is not null)
        {
            Skip.If(true, $"{file}: its base config reads {missing}, which is not here (see docs/datasets.md): {e.Message}");
            throw;
        }
        Assert.NotEmpty(cells);
        foreach (var (cell, cfg) in cells.Where(c => c.Config.Topology.Kind == "file"))
        {
            // the effective graph files are found from the base config's directory, as the bench resolves them
            var g = TopologyFactory.Create(cfg.Topology, cfg.Agents.Count ?? 0, cfg.Seed, Path.GetDirectoryName(grid.BasePath)!).At(0);
            Assert.True(g.IsConnected(), cell.Id);
        }
    }

    [Fact]
    public void The_old_quickstart_keeps_the_settings_of_the_published_tables()
    {
        var v1 = ConfigLoader.Load(Path.Combine(Repo, "configs", "synthetic-v1.yaml"));
        Assert.Equal((256, 0.5, "ring", 0.01, "logprob-mean", 80),
            (v1.Data.SamplesPerAgent, v1.Data.Partition.Alpha, v1.Topology.Kind, v1.Train.Lr, v1.Model.Ensemble, v1.Rounds));
    }

    [Fact]
    public void The_quickstart_is_the_regime_measured_in_docs_results()
    {
        var q = ConfigLoader.Load(Path.Combine(Repo, "configs", "quickstart.yaml"));
        Assert.Equal((128, 0.3, "chordal-ring", 0.003, "stacked", "rotating", 80, 30),
            (q.Data.SamplesPerAgent, q.Data.Partition.Alpha, q.Topology.Kind, q.Train.Lr, q.Model.Ensemble, q.Model.EnsembleFit, q.Rounds, q.Agents.Count));
        Assert.Equal(("cosine", 0.5, 0.0), (q.Train.LrSchedule, q.Train.LrDecayStart, q.Train.LrFinal));
        // apart from those, it is the old quickstart: the bench file that measured it sets exactly these on synthetic-v1
        var grid = GridSpec.Load(Path.Combine(Repo, "benchmarks", "quickstart-claim.yaml"));
        var parse = BenchRunner.Resolve(grid).First(c => c.Cell.Get("method") == "parse" && c.Cell.Get("seed") == "1").Config;
        Assert.Equal(ConfigLoader.ToJson(q with { Name = "x" }), ConfigLoader.ToJson(parse with { Name = "x", Eval = parse.Eval with { Embeddings = q.Eval.Embeddings } }));
    }
}
