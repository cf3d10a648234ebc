using Parquet;
using Parquet.Schema;
using Parse.Config;
using Parse.Data;
using Parse.Node;

namespace Parse.Tests;

/// <summary>
/// Parquet view and label files in multiview-csv: numeric columns of every type into floats (row group after row group),
/// text labels, joins by key, the agent column, a label file, and the messages of bad files (truncated, wrong types,
/// missing values, unknown columns), each naming the file and the column.
/// </summary>
public class ParquetTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("parse-parquet").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private static string Inv(FormattableString s) => FormattableString.Invariant(s);

    /// <summary>One column to write: a field and its values.</summary>
    private sealed record Col(DataField Field, Array Values);

    /// <summary>Writes a Parquet file with the columns, split into row groups of at most <paramref name="groupRows"/> rows.</summary>
    private string Write(string name, int groupRows, params Col[] cols)
    {
        string path = Path.Combine(_dir, name);
        WriteAsync(path, groupRows, cols).GetAwaiter().GetResult();
        return path;
    }

    private static async Task WriteAsync(string path, int groupRows, Col[] cols)
    {
        int n = cols[0].Values.Length;
        await using var fs = File.Create(path);
        await using var w = await ParquetWriter.CreateAsync(new ParquetSchema(cols.Select(c => (Field)c.Field).ToArray()), fs);
        for (int start = 0; start < n; start += groupRows)
        {
            int len = Math.Min(groupRows, n - start);
            using var rg = w.CreateRowGroup();
            foreach (var c in cols)
                switch (c.Values)
                {
                    case double[] d: await rg.WriteAsync<double>(c.Field, d.AsMemory(start, len)); break;
                    case float[] f: await rg.WriteAsync<float>(c.Field, f.AsMemory(start, len)); break;
                    case int[] i: await rg.WriteAsync<int>(c.Field, i.AsMemory(start, len)); break;
                    case long[] l: await rg.WriteAsync<long>(c.Field, l.AsMemory(start, len)); break;
                    case int?[] ni: await rg.WriteAsync<int>(c.Field, ni.AsMemory(start, len)); break;
                    case double?[] nd: await rg.WriteAsync<double>(c.Field, nd.AsMemory(start, len)); break;
                    case string[] s: await rg.WriteAsync(c.Field, s.Skip(start).Take(len).ToArray()); break;
                    default: throw new ArgumentException(c.Values.GetType().Name);
                }
        }
    }

    /// <summary>n rows: p (double), q (float), k (int), r (view b), label text, agent = row % 3, key.</summary>
    private static (double[] P, float[] Q, int[] K, double[] R, string[] Label, int[] Agent, long[] Key) Rows(int n, int seed = 1)
    {
        var rng = new Random(seed);
        var p = new double[n]; var q = new float[n]; var k = new int[n]; var r = new double[n];
        var label = new string[n]; var agent = new int[n]; var key = new long[n];
        for (int i = 0; i < n; i++)
        {
            p[i] = Math.Round(rng.NextDouble() * 2 - 1, 4);
            q[i] = (float)Math.Round(rng.NextDouble(), 4);
            k[i] = rng.Next(-5, 6);
            r[i] = Math.Round(rng.NextDouble() * 2 - 1, 4);
            label[i] = p[i] + r[i] > 0 ? "up" : "down";
            agent[i] = i % 3;
            key[i] = 1000 + i;
        }
        return (p, q, k, r, label, agent, key);
    }

    private string Csv(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text.ReplaceLineEndings("\n"));
        return path;
    }

    private static DataConfig TwoViews(string a, string b, Action<DataConfig>? _ = null) => new()
    {
        Name = "multiview-csv", Modalities = ["a", "b"], TestFraction = 0.25,
        Views = new() { ["a"] = new ViewConfig { File = a }, ["b"] = new ViewConfig { File = b } },
    };

    [Fact]
    public void Parquet_views_of_every_numeric_type_load_like_the_same_csv()
    {
        var x = Rows(50);
        // view a: double, float and int columns plus the text label, in 3 row groups of 20, 20 and 10 rows
        Write("a.parquet", 20, new Col(new DataField<double>("p"), x.P), new Col(new DataField<float>("q"), x.Q),
            new Col(new DataField<int>("k"), x.K), new Col(new DataField<string>("label"), x.Label));
        Write("b.parquet", 7, new Col(new DataField<double>("r"), x.R));
        Csv("a.csv", "p,q,k,label\n" + string.Join("\n", Enumerable.Range(0, 50).Select(i => Inv($"{x.P[i]},{x.Q[i]},{x.K[i]},{x.Label[i]}"))) + "\n");
        Csv("b.csv", "r\n" + string.Join("\n", x.R.Select(v => Inv($"{v}"))) + "\n");
        using var pq = MultiviewCsv.Load(TwoViews("a.parquet", "b.parquet"), _dir, 1);
        using var csv = MultiviewCsv.Load(TwoViews("a.csv", "b.csv"), _dir, 1);
        Assert.Equal(new long[] { 3 }, pq.Modalities[0].Shape);   // p, q, k: the label column is not a feature
        Assert.Equal(csv.Train.Labels, pq.Train.Labels);
        Assert.Equal(csv.Test.Labels, pq.Test.Labels);
        Assert.Equal(2, pq.Train.NumClasses);
        foreach (var v in new[] { "a", "b" })
        {
            var expected = csv.Train.Views[v].data<float>().ToArray();
            var actual = pq.Train.Views[v].data<float>().ToArray();
            Assert.Equal(expected.Length, actual.Length);
            for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], actual[i], 1e-5f);
        }
    }

    [Fact]
    public void Nulls_follow_data_missing_and_are_refused_by_default_naming_row_and_column()
    {
        var x = Rows(30);
        var k = x.K.Select((v, i) => i == 11 ? (int?)null : v).ToArray();
        Write("a.parquet", 16, new Col(new DataField<double>("p"), x.P), new Col(new DataField<int?>("k"), k), new Col(new DataField<string>("label"), x.Label));
        Write("b.parquet", 30, new Col(new DataField<double>("r"), x.R));
        var e = Assert.Throws<ConfigException>(() => MultiviewCsv.Load(TwoViews("a.parquet", "b.parquet"), _dir, 1));
        Assert.Contains("a.parquet: row 12, column 'k': missing value", e.Message);
        Assert.Contains("data.missing", e.Message);
        using var d = MultiviewCsv.Load(TwoViews("a.parquet", "b.parquet") with { Missing = "mean" }, _dir, 1);
        Assert.Equal(22, d.Train.Count);
        Assert.DoesNotContain(d.Train.Views["a"].data<float>().ToArray(), float.IsNaN);
    }

    [Fact]
    public void An_id_column_joins_parquet_and_csv_files_and_a_parquet_label_file_supplies_labels()
    {
        var x = Rows(40);
        var order = Enumerable.Range(0, 40).ToArray();
        new Random(4).Shuffle(order);
        Write("a.parquet", 15, new Col(new DataField<long>("id"), x.Key), new Col(new DataField<double>("p"), x.P), new Col(new DataField<float>("q"), x.Q));
        // view b: CSV rows in another order, joined by the same keys
        Csv("b.csv", "id,r\n" + string.Join("\n", order.Select(i => Inv($"{x.Key[i]},{x.R[i]}"))) + "\n");
        // labels: their own Parquet file (the label source sets the row order, and so the seed's train/test split)
        Write("y.parquet", 40, new Col(new DataField<long>("id"), x.Key), new Col(new DataField<string>("label"), x.Label));
        Csv("all.csv", "p,q,r,label\n" + string.Join("\n", Enumerable.Range(0, 40).Select(i => Inv($"{x.P[i]},{x.Q[i]},{x.R[i]},{x.Label[i]}"))) + "\n");

        using var joined = MultiviewCsv.Load(TwoViews("a.parquet", "b.csv") with { IdColumn = "id", LabelFile = "y.parquet" }, _dir, 1);
        // the same rows in file order: one CSV with every column
        var flat = new DataConfig
        {
            Name = "multiview-csv", Modalities = ["a", "b"], File = "all.csv", TestFraction = 0.25,
            Views = new() { ["a"] = new ViewConfig { Columns = ["p", "q"] }, ["b"] = new ViewConfig { Columns = ["r"] } },
        };
        using var byPosition = MultiviewCsv.Load(flat, _dir, 1);
        Assert.Equal(new long[] { 2 }, joined.Modalities[0].Shape);   // the id column is not a feature
        Assert.Equal(byPosition.Train.Labels, joined.Train.Labels);
        Assert.Equal(byPosition.Test.Labels, joined.Test.Labels);
        foreach (var v in new[] { "a", "b" })
            Assert.Equal(byPosition.Train.Views[v].data<float>().ToArray(), joined.Train.Views[v].data<float>().ToArray());

        // a key of a.parquet missing from b.csv is named with its file and column
        Csv("b-short.csv", "id,r\n" + string.Join("\n", order.Where(i => i != 7).Select(i => Inv($"{x.Key[i]},{x.R[i]}"))) + "\n");
        var e = Assert.Throws<ConfigException>(() => MultiviewCsv.Load(TwoViews("a.parquet", "b-short.csv") with { IdColumn = "id", LabelFile = "y.parquet" }, _dir, 1));
        Assert.Contains("key '1007'", e.Message);
        Assert.Contains("b-short.csv", e.Message);
    }

    [Fact]
    public void The_agent_column_of_a_parquet_file_keeps_only_the_hosted_agents_rows()
    {
        var x = Rows(60);
        Write("train.parquet", 25, new Col(new DataField<double>("p"), x.P), new Col(new DataField<float>("q"), x.Q), new Col(new DataField<double>("r"), x.R),
            new Col(new DataField<string>("label"), x.Label), new Col(new DataField<int>("agent"), x.Agent));
        var t = Rows(21, seed: 9);
        Write("test.parquet", 21, new Col(new DataField<double>("p"), t.P), new Col(new DataField<float>("q"), t.Q), new Col(new DataField<double>("r"), t.R),
            new Col(new DataField<string>("label"), t.Label));
        string yaml = Path.Combine(_dir, "exp.yaml");
        File.WriteAllText(yaml, """
            name: parquet-agents
            rounds: 2
            data:
              name: multiview-csv
              modalities: [a, b]
              file: train.parquet
              test_file: test.parquet
              agent_column: agent
              views: { a: { columns: [p, q] }, b: { columns: [r] } }
            agents: { count: 3, mix: "1:1:1" }
            model: { latent_dim: 12, split: [4, 4, 4], encoders: { default: { kind: mlp, hidden: 8, layers: 1 } }, synergy_hidden: 8 }
            train: { batch_size: 4, local_steps: 1 }
            sim: { parallelism: 1 }
            """);
        var cfg = ConfigLoader.Load(yaml);
        using var all = ExperimentSetup.Build(cfg, _dir);
        using var mine = ExperimentSetup.Build(cfg, _dir, new HashSet<int> { 2 });
        Assert.Equal(60, all.Data.Train.Count);
        Assert.Equal(20, mine.Data.Train.Count);   // rows 2, 5, 8, ...: agent 2's only (a+b)
        using var a1 = all.CreateLearner(2);
        using var b1 = mine.CreateLearner(2);
        Assert.Equal(a1.Train.Labels, b1.Train.Labels);
        Assert.Equal(a1.Train.Views["a"].data<float>().ToArray(), b1.Train.Views["a"].data<float>().ToArray());

        // an agent id outside the experiment: file, row and column named
        var two = cfg with { Agents = cfg.Agents with { Count = 2, Mix = "1:1:0" } };
        var e = Assert.Throws<ConfigException>(() => ExperimentSetup.Build(two, _dir));
        Assert.Contains("train.parquet: row 3, column 'agent': agent 2 does not exist", e.Message);
    }

    [Fact]
    public void Truncated_corrupt_or_mistyped_parquet_files_are_refused_with_file_and_column_named()
    {
        var x = Rows(30);
        string good = Write("a.parquet", 30, new Col(new DataField<double>("p"), x.P), new Col(new DataField<string>("label"), x.Label));
        Write("b.parquet", 30, new Col(new DataField<double>("r"), x.R));
        var bytes = File.ReadAllBytes(good);
        File.WriteAllBytes(Path.Combine(_dir, "cut.parquet"), bytes[..(bytes.Length / 2)]);
        File.WriteAllText(Path.Combine(_dir, "text.parquet"), "p,label\n1,up\n");
        var mangled = (byte[])bytes.Clone();
        for (int i = 8; i < mangled.Length / 2; i++) mangled[i] ^= 0x5A;   // data pages scrambled, footer intact
        File.WriteAllBytes(Path.Combine(_dir, "scrambled.parquet"), mangled);
        foreach (var bad in new[] { "cut.parquet", "text.parquet", "scrambled.parquet" })
        {
            var e = Assert.Throws<ConfigException>(() => MultiviewCsv.Load(TwoViews(bad, "b.parquet"), _dir, 1));
            Assert.Contains(Path.Combine(_dir, bad), e.Message);
        }
        var cut = Assert.Throws<ConfigException>(() => MultiviewCsv.Load(TwoViews("cut.parquet", "b.parquet"), _dir, 1));
        Assert.Contains("not a readable Parquet file", cut.Message);

        // a text column used as a feature
        Write("s.parquet", 30, new Col(new DataField<double>("p"), x.P), new Col(new DataField<string>("colour"), x.Label.Select(l => l + "!").ToArray()),
            new Col(new DataField<string>("label"), x.Label));
        var e2 = Assert.Throws<ConfigException>(() => MultiviewCsv.Load(TwoViews("s.parquet", "b.parquet"), _dir, 1));
        Assert.Contains("s.parquet: column 'colour' (view a) holds text values; feature columns must be numeric", e2.Message);
        // an unknown column and a missing label column
        var cfg = TwoViews("a.parquet", "b.parquet");
        e2 = Assert.Throws<ConfigException>(() => MultiviewCsv.Load(cfg with { Views = new() { ["a"] = new ViewConfig { File = "a.parquet", Columns = ["nope"] }, ["b"] = cfg.Views!["b"] } }, _dir, 1));
        Assert.Contains("data.views.a.columns: unknown column 'nope'", e2.Message);
        Assert.Contains("a.parquet", e2.Message);
        e2 = Assert.Throws<ConfigException>(() => MultiviewCsv.Load(cfg with { LabelColumn = "y" }, _dir, 1));
        Assert.Contains("data.label_column: column 'y' not found", e2.Message);
    }

    [Fact]
    public void Parse_run_on_a_truncated_parquet_file_exits_with_code_2_and_writes_no_run_directory()
    {
        var x = Rows(30);
        string good = Write("a.parquet", 30, new Col(new DataField<double>("p"), x.P), new Col(new DataField<string>("label"), x.Label));
        Write("b.parquet", 30, new Col(new DataField<double>("r"), x.R));
        File.WriteAllBytes(Path.Combine(_dir, "cut.parquet"), File.ReadAllBytes(good)[..200]);
        string yaml = Path.Combine(_dir, "exp.yaml");
        File.WriteAllText(yaml, """
            name: parquet-cut
            rounds: 1
            data: { name: multiview-csv, modalities: [a, b], views: { a: { file: cut.parquet }, b: { file: b.parquet } } }
            agents: { count: 3, mix: "1:1:1" }
            model: { latent_dim: 12, split: [4, 4, 4], encoders: { default: { kind: mlp, hidden: 8, layers: 1 } }, synergy_hidden: 8 }
            train: { batch_size: 4, local_steps: 1 }
            """);
        string outDir = Path.Combine(_dir, "runs", "cut");
        Assert.Equal(2, Parse.Cli.Program.Main(["run", yaml, "--out", outDir, "--quiet"]));
        Assert.False(Directory.Exists(outDir));
        Assert.Empty(Directory.Exists(Path.Combine(_dir, "runs")) ? Directory.GetFiles(Path.Combine(_dir, "runs"), "summary.json", SearchOption.AllDirectories) : []);
    }
}
