using Parse.Config;
using Parse.Data;

namespace Parse.Tests;

/// <summary>multiview-csv: loading, standardization, splits, and error messages that name file, row and column.</summary>
public class MultiviewCsvTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("parse-csv").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private string Csv(string name, string text)
    {
        string p = Path.Combine(_dir, name);
        File.WriteAllText(p, text.ReplaceLineEndings("\n"));
        return p;
    }

    /// <summary>40 rows: x1,x2 (view a), y1 (view b), label = (x1 > 0) + 2 (y1 > 0) as a string class, group g0..g3.</summary>
    private string Table(Func<int, string?>? cell = null)
    {
        var rng = new Random(1);
        var lines = new List<string> { "x1,x2,y1,label,site" };
        for (int i = 0; i < 40; i++)
        {
            double x1 = rng.NextDouble() * 2 - 1, x2 = 100 + rng.NextDouble(), y1 = rng.NextDouble() * 2 - 1;
            string lab = ((x1 > 0 ? 1 : 0) + (y1 > 0 ? 2 : 0)) switch { 0 => "cat", 1 => "dog", 2 => "eel", _ => "fox" };
            lines.Add(cell?.Invoke(i) ?? FormattableString.Invariant($"{x1:F4},{x2:F4},{y1:F4},{lab},g{i % 4}"));
        }
        return Csv("all.csv", string.Join("\n", lines) + "\n");
    }

    private DataConfig Cfg(string file, string missing = "error") => new()
    {
        Name = "multiview-csv",
        Modalities = ["a", "b"],
        File = file,
        Views = new() { ["a"] = new ViewConfig { Columns = ["x1", "x2"] }, ["b"] = new ViewConfig { Columns = ["y1"] } },
        GroupColumn = "site",
        TestFraction = 0.25,
        Missing = missing,
    };

    [Fact]
    public void Column_groups_of_one_file_load_standardized_with_training_statistics()
    {
        using var d = MultiviewCsv.Load(Cfg(Table()), _dir, seed: 1);
        Assert.Equal(30, d.Train.Count);
        Assert.Equal(10, d.Test.Count);
        Assert.Equal(4, d.Train.NumClasses);
        Assert.Equal(new long[] { 2 }, d.Modalities[0].Shape);
        Assert.Equal(new long[] { 1 }, d.Modalities[1].Shape);
        var a = d.Train.Views["a"];
        Assert.All(a.mean([0]).data<float>().ToArray(), m => Assert.InRange(m, -1e-4, 1e-4));
        Assert.All(a.std([0], unbiased: false).data<float>().ToArray(), s => Assert.InRange(s, 0.999, 1.001));
        Assert.Equal(30, d.Groups!.Length);
        Assert.All(d.Groups, g => Assert.StartsWith("g", g));
        // class index order is the sorted label strings: cat=0, dog=1, eel=2, fox=3; classes 1 and 3 <=> x1 > 0
        var x1 = a.select(1, 0).data<float>().ToArray();
        var labels = d.Train.Labels;
        double odd = Enumerable.Range(0, 30).Where(i => labels[i] % 2 == 1).Average(i => x1[i]);
        double even = Enumerable.Range(0, 30).Where(i => labels[i] % 2 == 0).Average(i => x1[i]);
        Assert.True(odd > 0.5 && even < -0.5, $"x1 must separate dog/fox from cat/eel (odd {odd:F2}, even {even:F2})");
        // same seed, same split; another seed, another split
        using var again = MultiviewCsv.Load(Cfg(Table()), _dir, seed: 1);
        Assert.Equal(d.Test.Labels, again.Test.Labels);
    }

    [Fact]
    public void Per_view_files_with_a_test_file_and_any_number_of_views()
    {
        Csv("a.csv", "label,p,q\n0,1,2\n1,3,4\n0,5,6\n1,7,8\n");
        Csv("b.csv", "r\n1\n2\n3\n4\n");
        Csv("c.csv", "s,t,u\n1,1,1\n2,2,2\n3,3,3\n4,4,5\n");
        Csv("a-test.csv", "label,p,q\n1,1,1\n0,2,2\n");
        Csv("b-test.csv", "r\n1\n2\n");
        Csv("c-test.csv", "s,t,u\n0,0,0\n1,1,1\n");
        var cfg = new DataConfig
        {
            Name = "multiview-csv", Modalities = ["a", "b", "c"],
            Views = new()
            {
                ["a"] = new ViewConfig { File = "a.csv", TestFile = "a-test.csv" },
                ["b"] = new ViewConfig { File = "b.csv", TestFile = "b-test.csv" },
                ["c"] = new ViewConfig { File = "c.csv", TestFile = "c-test.csv", Columns = ["s", "u"] },
            },
        };
        using var d = MultiviewCsv.Load(cfg, _dir, 1);
        Assert.Equal(4, d.Train.Count);
        Assert.Equal(2, d.Test.Count);
        Assert.Equal(new[] { 0, 1, 0, 1 }, d.Train.Labels);
        Assert.Equal(new[] { 1, 0 }, d.Test.Labels);
        Assert.Equal(new long[] { 2 }, d.Modalities.Single(m => m.Name == "a").Shape);   // p, q (label excluded)
        Assert.Equal(new long[] { 2 }, d.Modalities.Single(m => m.Name == "c").Shape);
        Assert.Null(d.Groups);
    }

    [Fact]
    public void Non_numeric_cell_names_file_row_and_column()
    {
        string f = Table(i => i == 2 ? "0.5,abc,0.1,cat,g0" : null);
        var e = Assert.Throws<ConfigException>(() => MultiviewCsv.Load(Cfg(f), _dir, 1));
        Assert.Contains(f, e.Message);
        Assert.Contains("row 3", e.Message);
        Assert.Contains("line 4", e.Message);
        Assert.Contains("column 'x2'", e.Message);
        Assert.Contains("'abc' is not a number", e.Message);
    }

    [Fact]
    public void Missing_values_follow_the_declared_policy()
    {
        string f = Table(i => i == 4 ? "0.5,,0.1,dog,g0" : null);
        var e = Assert.Throws<ConfigException>(() => MultiviewCsv.Load(Cfg(f), _dir, 1));
        Assert.Contains("row 5", e.Message);
        Assert.Contains("column 'x2'", e.Message);
        Assert.Contains("data.missing", e.Message);
        using var mean = MultiviewCsv.Load(Cfg(f, "mean"), _dir, 1);
        mean.Train.EnsureFinite("t");
        using var zero = MultiviewCsv.Load(Cfg(f, "zero"), _dir, 1);
        // a raw 0 in a column around 100 is an extreme value after standardization
        float min = Math.Min(zero.Train.Views["a"].select(1, 1).min().item<float>(), zero.Test.Views["a"].select(1, 1).min().item<float>());
        Assert.True(min < -10, $"zero-filled x2 should be far below the others (got {min})");
    }

    [Fact]
    public void Mismatched_row_counts_and_unknown_columns_name_the_files()
    {
        string a = Csv("a.csv", "label,p\n0,1\n1,2\n0,3\n");
        string b = Csv("b.csv", "r\n1\n2\n");
        var cfg = new DataConfig
        {
            Name = "multiview-csv", Modalities = ["a", "b"],
            Views = new() { ["a"] = new ViewConfig { File = "a.csv" }, ["b"] = new ViewConfig { File = "b.csv" } },
        };
        var e = Assert.Throws<ConfigException>(() => MultiviewCsv.Load(cfg, _dir, 1));
        Assert.Contains("data.views.b", e.Message);
        Assert.Contains(b, e.Message);
        Assert.Contains(a, e.Message);
        Assert.Contains("2 data rows", e.Message);

        var unknown = Cfg(Table()) with { Views = new() { ["a"] = new ViewConfig { Columns = ["x1", "nope"] }, ["b"] = new ViewConfig { Columns = ["y1"] } } };
        e = Assert.Throws<ConfigException>(() => MultiviewCsv.Load(unknown, _dir, 1));
        Assert.Contains("data.views.a.columns", e.Message);
        Assert.Contains("'nope'", e.Message);
        Assert.Contains("all.csv", e.Message);

        Csv("ragged.csv", "x1,x2,y1,label\n1,2,3,cat\n1,2,cat\n");
        e = Assert.Throws<ConfigException>(() => MultiviewCsv.Load(Cfg("ragged.csv") with { GroupColumn = null }, _dir, 1));
        Assert.Contains("ragged.csv", e.Message);
        Assert.Contains("row 2 (line 3)", e.Message);
    }

    [Fact]
    public void Validator_checks_views_against_modalities_and_files()
    {
        string f = Table();
        string yaml = $$"""
            data:
              name: multiview-csv
              modalities: [a, c]
              file: {{f}}
              views: { a: { columns: [x1, x2] }, b: { file: missing.csv } }
              missing: sometimes
            agents: { count: 3, mix: "1:1:1" }
            """;
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.FromText(yaml));
        Assert.Contains("data.modalities: must list exactly the view names [a, b]", e.Message);
        Assert.Contains("data.views.b.file: file not found", e.Message);
        Assert.Contains("data.missing", e.Message);
    }

    [Fact]
    public void Validator_requires_matching_test_files_and_a_group_column_for_natural()
    {
        string f = Table();
        Csv("v.csv", "p\n1\n");
        string yaml = $$"""
            data:
              name: multiview-csv
              modalities: [a, b]
              file: {{f}}
              views: { a: { columns: [x1, x2] }, b: { file: v.csv, test_file: v.csv } }
              partition: { kind: natural }
            agents: { count: 3, mix: "1:1:1" }
            """;
        string path = Csv("exp.yaml", yaml);
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(path));
        Assert.Contains("data.test_file: required", e.Message);
        Assert.Contains("data.group_column: required", e.Message);
    }

    [Fact]
    public void A_multiview_csv_experiment_runs_end_to_end_with_a_natural_split()
    {
        string f = Table();
        string yaml = $$"""
            name: csv
            rounds: 2
            data:
              name: multiview-csv
              modalities: [a, b]
              file: {{f}}
              views: { a: { columns: [x1, x2] }, b: { columns: [y1] } }
              group_column: site
              partition: { kind: natural }
            agents: { count: 3, mix: "1:1:1" }
            model: { latent_dim: 12, split: [4, 4, 4], encoders: { default: { kind: mlp, hidden: 8, layers: 1 } }, synergy_hidden: 8 }
            train: { batch_size: 4, local_steps: 1 }
            sim: { parallelism: 1 }
            """;
        var cfg = ConfigLoader.FromText(yaml);
        using var sim = new Simulation.Simulator(cfg, _dir);
        var r = sim.Run();
        Assert.Equal(3, r.FinalAccuracy.Count);
        Assert.All(sim.Agents, a => Assert.True(a.Train.Count >= 7));
    }
}
