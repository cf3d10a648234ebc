using Parse.Config;
using Parse.Data;
using Parse.Node;

namespace Parse.Tests;

/// <summary>
/// Bring-your-own data in multiview-csv: separators, quoting, headers, label files, joins by key, the agent column
/// (rows per agent; a process loads only its agents' rows), NPY/NPZ views with shapes, and the messages of bad input.
/// </summary>
public class DataOnboardingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("parse-onboard").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private string File_(string name, string text)
    {
        string p = Path.Combine(_dir, name);
        File.WriteAllText(p, text.ReplaceLineEndings("\n"));
        return p;
    }

    /// <summary>n rows: id, p, q (view a), r (view b), label (x > 0), agent = row % agents.</summary>
    private static List<(string Id, double P, double Q, double R, int Label, int Agent)> Rows(int n, int agents = 3, int seed = 1)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(i =>
        {
            double p = rng.NextDouble() * 2 - 1, q = rng.NextDouble(), r = rng.NextDouble() * 2 - 1;
            return ($"k{i:D3}", p, q, r, p + r > 0 ? 1 : 0, i % agents);
        }).ToList();
    }

    private static string Inv(FormattableString s) => FormattableString.Invariant(s);

    private DataConfig TwoFiles(string a, string b, Action<DataConfig>? _ = null) => new()
    {
        Name = "multiview-csv", Modalities = ["a", "b"], TestFraction = 0.25,
        Views = new() { ["a"] = new ViewConfig { File = a }, ["b"] = new ViewConfig { File = b } },
    };

    [Fact]
    public void Separators_are_detected_or_explicit_and_quoted_fields_and_spaces_are_handled()
    {
        var rows = Rows(40);
        File_("semi.csv", "p;q;\"r\";label\n" + string.Join("\n", rows.Select(x => Inv($"{x.P};{x.Q};{x.R};\"{(x.Label == 1 ? "yes; sure" : "no \"\"way\"\"")}\""))) + "\n");
        File_("tab.csv", "p\tq\tr\tlabel\n" + string.Join("\n", rows.Select(x => Inv($" {x.P}\t{x.Q} \t{x.R}\t{(x.Label == 1 ? "yes; sure" : "no \"way\"")}"))) + "\n");
        var cfg = new DataConfig
        {
            Name = "multiview-csv", Modalities = ["a", "b"], File = "semi.csv", TestFraction = 0.25,
            Views = new() { ["a"] = new ViewConfig { Columns = ["p", "q"] }, ["b"] = new ViewConfig { Columns = ["r"] } },
        };
        using var semi = MultiviewCsv.Load(cfg, _dir, 1);
        using var tab = MultiviewCsv.Load(cfg with { File = "tab.csv", Separator = "tab" }, _dir, 1);
        Assert.Equal(30, semi.Train.Count);
        Assert.Equal(2, semi.Train.NumClasses);
        Assert.Equal(semi.Train.Labels, tab.Train.Labels);
        Assert.Equal(semi.Train.Views["a"].data<float>().ToArray(), tab.Train.Views["a"].data<float>().ToArray());
        // "no ""way""" and "yes; sure" are two classes: the quoted separator did not split the field
        var e = Assert.Throws<ConfigException>(() => MultiviewCsv.Load(cfg with { File = "tab.csv", Separator = ";" }, _dir, 1));
        Assert.Contains("tab.csv", e.Message);
        Assert.Contains("is the separator right", e.Message);
        e = Assert.Throws<ConfigException>(() => MultiviewCsv.Load(cfg with { Separator = "::" }, _dir, 1));
        Assert.Contains("data.separator", e.Message);
    }

    [Fact]
    public void Without_a_header_columns_are_named_by_position()
    {
        var rows = Rows(20);
        File_("nohead.csv", string.Join("\n", rows.Select(x => Inv($"{x.P},{x.Q},{x.R},{x.Label}"))) + "\n");
        var cfg = new DataConfig
        {
            Name = "multiview-csv", Modalities = ["a", "b"], File = "nohead.csv", Header = false, LabelColumn = "3", TestFraction = 0.25,
            Views = new() { ["a"] = new ViewConfig { Columns = ["0", "1"] }, ["b"] = new ViewConfig { ColumnRange = [2, 2] } },
        };
        using var d = MultiviewCsv.Load(cfg, _dir, 1);
        Assert.Equal(15, d.Train.Count);
        Assert.Equal(new long[] { 2 }, d.Modalities[0].Shape);
        Assert.Equal(new long[] { 1 }, d.Modalities[1].Shape);
    }

    [Fact]
    public void A_label_file_supplies_the_labels_and_must_have_the_same_row_count()
    {
        var rows = Rows(40);
        File_("a.csv", "p,q\n" + string.Join("\n", rows.Select(x => Inv($"{x.P},{x.Q}"))) + "\n");
        File_("b.csv", "r\n" + string.Join("\n", rows.Select(x => Inv($"{x.R}"))) + "\n");
        File_("y.csv", "label\n" + string.Join("\n", rows.Select(x => x.Label)) + "\n");
        File_("y-short.csv", "label\n" + string.Join("\n", rows.Take(39).Select(x => x.Label)) + "\n");
        var cfg = TwoFiles("a.csv", "b.csv") with { LabelFile = "y.csv" };
        using var d = MultiviewCsv.Load(cfg, _dir, 1);
        Assert.Equal(40, d.Train.Count + d.Test.Count);
        Assert.Equal(new long[] { 2 }, d.Modalities[0].Shape);   // p, q: the label file's column is not a feature

        var e = Assert.Throws<ConfigException>(() => MultiviewCsv.Load(cfg with { LabelFile = "y-short.csv" }, _dir, 1));
        Assert.Contains("a.csv has 40 data rows", e.Message);
        Assert.Contains("y-short.csv has 39", e.Message);

        // without a label file and no label column anywhere: the message points to data.label_file
        e = Assert.Throws<ConfigException>(() => MultiviewCsv.Load(TwoFiles("a.csv", "b.csv"), _dir, 1));
        Assert.Contains("data.label_file", e.Message);
    }

    [Fact]
    public void View_files_whose_labels_disagree_are_refused()
    {
        var rows = Rows(20);
        File_("a.csv", "p,label\n" + string.Join("\n", rows.Select(x => Inv($"{x.P},{x.Label}"))) + "\n");
        File_("b.csv", "r,label\n" + string.Join("\n", rows.Select((x, i) => Inv($"{x.R},{(i == 6 ? 1 - x.Label : x.Label)}"))) + "\n");
        var e = Assert.Throws<ConfigException>(() => MultiviewCsv.Load(TwoFiles("a.csv", "b.csv"), _dir, 1));
        Assert.Contains("b.csv: row 7 (line 8), column 'label'", e.Message);
        Assert.Contains("disagrees", e.Message);
        Assert.Contains("a.csv: row 7 (line 8)", e.Message);
    }

    [Fact]
    public void An_id_column_joins_view_files_by_key_in_any_order()
    {
        var rows = Rows(40);
        File_("a.csv", "id,p,q,label\n" + string.Join("\n", rows.Select(x => Inv($"{x.Id},{x.P},{x.Q},{x.Label}"))) + "\n");
        var shuffled = rows.ToList();
        new Random(5).Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(shuffled));
        File_("b.csv", "r,id\n" + string.Join("\n", shuffled.Select(x => Inv($"{x.R},{x.Id}"))) + "\n");
        File_("b-pos.csv", "r\n" + string.Join("\n", rows.Select(x => Inv($"{x.R}"))) + "\n");
        using var joined = MultiviewCsv.Load(TwoFiles("a.csv", "b.csv") with { IdColumn = "id" }, _dir, 1);
        var pos = TwoFiles("a.csv", "b-pos.csv");
        using var byPosition = MultiviewCsv.Load(pos with { Views = new() { ["a"] = new ViewConfig { File = "a.csv", Columns = ["p", "q"] }, ["b"] = pos.Views!["b"] } }, _dir, 1);
        Assert.Equal(byPosition.Train.Labels, joined.Train.Labels);
        Assert.Equal(byPosition.Train.Views["b"].data<float>().ToArray(), joined.Train.Views["b"].data<float>().ToArray());
        Assert.Equal(new long[] { 2 }, joined.Modalities[0].Shape);   // the id column is not a feature

        File_("b-missing.csv", "r,id\n" + string.Join("\n", shuffled.Where(x => x.Id != "k017").Select(x => Inv($"{x.R},{x.Id}"))) + "\n");
        var e = Assert.Throws<ConfigException>(() => MultiviewCsv.Load(TwoFiles("a.csv", "b-missing.csv") with { IdColumn = "id" }, _dir, 1));
        Assert.Contains("key 'k017'", e.Message);
        Assert.Contains("row 18", e.Message);
        Assert.Contains("b-missing.csv", e.Message);

        File_("b-dup.csv", "r,id\n" + string.Join("\n", shuffled.Select(x => Inv($"{x.R},{x.Id}")).Append("0.5,k003")) + "\n");
        e = Assert.Throws<ConfigException>(() => MultiviewCsv.Load(TwoFiles("a.csv", "b-dup.csv") with { IdColumn = "id" }, _dir, 1));
        Assert.Contains("duplicate key 'k003'", e.Message);

        File_("b-extra.csv", "r,id\n" + string.Join("\n", shuffled.Select(x => Inv($"{x.R},{x.Id}")).Append("0.5,zzz")) + "\n");
        e = Assert.Throws<ConfigException>(() => MultiviewCsv.Load(TwoFiles("a.csv", "b-extra.csv") with { IdColumn = "id" }, _dir, 1));
        Assert.Contains("key 'zzz' has no row in", e.Message);
    }

    [Fact]
    public void Header_problems_and_bad_cells_name_file_line_and_column()
    {
        File_("dup.csv", "p,q,p,label\n1,2,3,0\n4,5,6,1\n");
        File_("b.csv", "r\n1\n2\n");
        var e = Assert.Throws<ConfigException>(() => MultiviewCsv.Load(TwoFiles("dup.csv", "b.csv"), _dir, 1));
        Assert.Contains("dup.csv: line 1: duplicate column 'p' in the header (columns 1 and 3)", e.Message);

        File_("ragged.csv", "p,q,label\n1,2,0\n3,1\n");
        e = Assert.Throws<ConfigException>(() => MultiviewCsv.Load(TwoFiles("ragged.csv", "b.csv"), _dir, 1));
        Assert.Contains("ragged.csv: row 2 (line 3) has 2 fields but the header has 3", e.Message);

        File_("bad.csv", "p,q,label\n1,2,0\n\"1,5\",3,1\n");
        e = Assert.Throws<ConfigException>(() => MultiviewCsv.Load(TwoFiles("bad.csv", "b.csv"), _dir, 1));
        Assert.Contains("bad.csv: row 2 (line 3), column 'p': '1,5' is not a number", e.Message);

        File_("empty.csv", "");
        e = Assert.Throws<ConfigException>(() => MultiviewCsv.Load(TwoFiles("empty.csv", "b.csv"), _dir, 1));
        Assert.Contains("empty.csv: empty file", e.Message);
    }

    [Fact]
    public void An_all_missing_column_is_refused_by_name()
    {
        var rows = Rows(20);
        File_("a.csv", "p,q,label\n" + string.Join("\n", rows.Select(x => Inv($"{x.P},NA,{x.Label}"))) + "\n");
        File_("b.csv", "r\n" + string.Join("\n", rows.Select(x => Inv($"{x.R}"))) + "\n");
        var e = Assert.Throws<ConfigException>(() => MultiviewCsv.Load(TwoFiles("a.csv", "b.csv") with { Missing = "mean" }, _dir, 1));
        Assert.Contains("data.views.a: column 'q'", e.Message);
        Assert.Contains("all missing", e.Message);
    }

    [Fact]
    public void The_validator_refuses_label_leakage_and_keys_that_do_not_fit()
    {
        var rows = Rows(20);
        File_("a.csv", "p,q,label,site\n" + string.Join("\n", rows.Select(x => Inv($"{x.P},{x.Q},{x.Label},{x.Agent}"))) + "\n");
        string yaml = """
            data:
              name: multiview-csv
              modalities: [a, b]
              file: a.csv
              separator: "::"
              views: { a: { columns: [p, label] }, b: { columns: [q, site], shape: [0, 2] } }
              agent_column: site
              label_array: y
              max_train: 10
            agents: { count: 3, mix: "1:1:1" }
            """;
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(File_("exp.yaml", yaml)));
        Assert.Contains("data.views.a.columns: 'label' is the label column (data.label_column); a feature must not be the label (label leakage)", e.Message);
        Assert.Contains("data.views.b.columns: 'site' is data.agent_column", e.Message);
        Assert.Contains("data.separator", e.Message);
        Assert.Contains("data.views.b.shape", e.Message);
        Assert.Contains("data.agent_column: needs test files", e.Message);
        Assert.Contains("data.max_train: does not apply with data.agent_column", e.Message);
        Assert.Contains("data.label_array: only applies to an .npz data.label_file", e.Message);
    }

    private string AgentFiles(int agents)
    {
        var rows = Rows(60, agents);
        File_("train.csv", "p,q,r,label,agent\n" + string.Join("\n", rows.Select(x => Inv($"{x.P},{x.Q},{x.R},{x.Label},{x.Agent}"))) + "\n");
        var test = Rows(20, agents, seed: 9);
        File_("test.csv", "p,q,r,label\n" + string.Join("\n", test.Select(x => Inv($"{x.P},{x.Q},{x.R},{x.Label}"))) + "\n");
        return Inv($"""
            name: agents
            rounds: 2
            data:
              name: multiview-csv
              modalities: [a, b]
              file: train.csv
              test_file: test.csv
              agent_column: agent
              views: {"{"} a: {"{"} columns: [p, q] {"}"}, b: {"{"} columns: [r] {"}"} {"}"}
            agents: {"{"} count: {agents}, mix: "1:1:1" {"}"}
            model: {"{"} latent_dim: 12, split: [4, 4, 4], encoders: {"{"} default: {"{"} kind: mlp, hidden: 8, layers: 1 {"}"} {"}"}, synergy_hidden: 8 {"}"}
            train: {"{"} batch_size: 4, local_steps: 1 {"}"}
            sim: {"{"} parallelism: 1 {"}"}
            """);
    }

    [Fact]
    public void The_agent_column_is_the_partition_and_a_process_loads_only_its_agents_rows()
    {
        var cfg = ConfigLoader.Load(File_("exp.yaml", AgentFiles(3)));
        using var all = ExperimentSetup.Build(cfg, _dir);
        Assert.Equal(60, all.Data.Train.Count);
        using var a1 = all.CreateLearner(2);
        Assert.Equal(20, a1.Train.Count);   // rows 2, 5, 8, ...

        using var mine = ExperimentSetup.Build(cfg, _dir, new HashSet<int> { 2 });
        Assert.Equal(20, mine.Data.Train.Count);   // only agent 2's rows were kept
        using var b1 = mine.CreateLearner(2);
        Assert.Equal(a1.Train.Labels, b1.Train.Labels);
        // statistics over every training row: the same standardized values on every process
        Assert.Equal(a1.Train.Views["a"].data<float>().ToArray(), b1.Train.Views["a"].data<float>().ToArray());
        Assert.Equal(all.Data.Test.Views["b"].data<float>().ToArray(), mine.Data.Test.Views["b"].data<float>().ToArray());

        using var sim = new Simulation.Simulator(cfg, _dir);
        Assert.Equal(3, sim.Run().FinalAccuracy.Count);
    }

    [Fact]
    public void Agent_ids_out_of_range_or_agents_without_rows_are_refused()
    {
        File_("exp.yaml", AgentFiles(3));
        var cfg = ConfigLoader.Load(Path.Combine(_dir, "exp.yaml"));
        var four = cfg with { Agents = cfg.Agents with { Count = 4, Mix = "1:1:2" } };
        var e = Assert.Throws<ConfigException>(() => ExperimentSetup.Build(four, _dir));
        Assert.Contains("data.agent_column: agent 3 has no rows", e.Message);
        var two = cfg with { Agents = cfg.Agents with { Count = 2, Mix = "1:1:0" } };
        e = Assert.Throws<ConfigException>(() => ExperimentSetup.Build(two, _dir));
        Assert.Contains("train.csv: row 3 (line 4), column 'agent': agent 2 does not exist (the experiment has 2 agents, 0..1)", e.Message);
    }

    [Fact]
    public void Npy_and_npz_views_load_every_dtype_with_their_shape()
    {
        var rng = new Random(3);
        int n = 40;
        var img = Enumerable.Range(0, n * 16).Select(_ => (double)rng.Next(0, 255)).ToArray();
        var labels = Enumerable.Range(0, n).Select(i => (double)(i % 2)).ToArray();
        for (int i = 0; i < n; i++) img[i * 16 + 5] = labels[i] * 200;   // a pixel that tells the class
        var seq = Enumerable.Range(0, n * 6).Select(_ => rng.NextDouble()).ToArray();
        NpyWriter.Write(Path.Combine(_dir, "img.npy"), "|u1", [n, 1, 4, 4], img);
        NpyWriter.WriteNpz(Path.Combine(_dir, "seq.npz"), ("seq", NpyWriter.Bytes("<f8", [n, 3, 2], seq)), ("other", NpyWriter.Bytes("<i4", [2], [1, 2])));
        NpyWriter.Write(Path.Combine(_dir, "y.npy"), "<i8", [n], labels);
        var cfg = new DataConfig
        {
            Name = "multiview-csv", Modalities = ["img", "seq"], LabelFile = "y.npy", TestFraction = 0.25,
            Views = new() { ["img"] = new ViewConfig { File = "img.npy" }, ["seq"] = new ViewConfig { File = "seq.npz", Array = "seq" } },
        };
        using var d = MultiviewCsv.Load(cfg, _dir, 1);
        Assert.Equal(new long[] { 1, 4, 4 }, d.Modalities[0].Shape);
        Assert.Equal(new long[] { 3, 2 }, d.Modalities[1].Shape);
        Assert.Equal(new long[] { 30, 1, 4, 4 }, d.Train.Views["img"].shape);
        Assert.Equal(2, d.Train.NumClasses);
        var px = d.Train.Views["img"].reshape(30, 16).select(1, 5).data<float>().ToArray();
        Assert.All(Enumerable.Range(0, 30), i => Assert.Equal(d.Train.Labels[i] == 1, px[i] > 0));

        // the other dtypes, and a shape given in the config for a flat array
        foreach (var dtype in new[] { "<f4", "<i4" })
        {
            NpyWriter.Write(Path.Combine(_dir, "flat.npy"), dtype, [n, 16], img);
            using var f = MultiviewCsv.Load(cfg with { Views = new() { ["img"] = new ViewConfig { File = "flat.npy", Shape = [1, 4, 4] }, ["seq"] = cfg.Views!["seq"] } }, _dir, 1);
            Assert.Equal(d.Train.Views["img"].data<float>().ToArray(), f.Train.Views["img"].data<float>().ToArray());
        }
        var e = Assert.Throws<ConfigException>(() =>
            MultiviewCsv.Load(cfg with { Views = new() { ["img"] = new ViewConfig { File = "img.npy", Shape = [4, 5] }, ["seq"] = cfg.Views!["seq"] } }, _dir, 1));
        Assert.Contains("data.views.img.shape: [4, 5] holds 20 values per sample", e.Message);
        e = Assert.Throws<ConfigException>(() =>
            MultiviewCsv.Load(cfg with { Views = new() { ["img"] = cfg.Views!["img"], ["seq"] = new ViewConfig { File = "seq.npz" } } }, _dir, 1));
        Assert.Contains("2 arrays (seq, other); name one", e.Message);
    }

    [Fact]
    public void Malformed_arrays_are_refused_with_the_file_named()
    {
        string Bad(string name, byte[] b) { string p = Path.Combine(_dir, name); File.WriteAllBytes(p, b); return p; }
        var vals = Enumerable.Range(0, 8).Select(i => (double)i).ToArray();
        string trunc = Bad("trunc.npy", NpyWriter.Bytes("<f4", [4, 2], vals, dropBytes: 5));
        var e = Assert.Throws<ConfigException>(() => Data.Tabular.Npy.Load(trunc));
        Assert.Contains("trunc.npy: truncated", e.Message);
        string fort = Bad("fort.npy", NpyWriter.Bytes("<f4", [4, 2], vals, fortran: true));
        Assert.Contains("Fortran order", Assert.Throws<ConfigException>(() => Data.Tabular.Npy.Load(fort)).Message);
        string big = Bad("big.npy", System.Text.Encoding.Latin1.GetBytes("\u0093NUMPY\u0001\u0000\u0046\u0000{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }".PadRight(80) + "\n"));
        Assert.Contains("unsupported dtype '>f4'", Assert.Throws<ConfigException>(() => Data.Tabular.Npy.Load(big)).Message);
        string notNpy = Bad("text.npy", "hello"u8.ToArray());
        Assert.Contains("text.npy", Assert.Throws<ConfigException>(() => Data.Tabular.Npy.Load(notNpy)).Message);
        string zip = Bad("broken.npz", [0x50, 0x4b, 0x03, 0x04, 1, 2, 3]);
        Assert.Contains("broken.npz: cannot read", Assert.Throws<ConfigException>(() => Data.Tabular.Npy.Load(zip)).Message);
    }

    [Fact]
    public void A_cnn2d_encoder_trains_on_a_shaped_csv_view()
    {
        var rng = new Random(2);
        var lines = new List<string> { string.Join(",", Enumerable.Range(0, 16).Select(i => $"px{i}").Append("s").Append("label")) };
        for (int i = 0; i < 48; i++)
        {
            int y = i % 2;
            var px = Enumerable.Range(0, 16).Select(k => k == 5 ? y * 2.0 : rng.NextDouble());
            lines.Add(string.Join(",", px.Select(v => Inv($"{v:F3}")).Append(Inv($"{rng.NextDouble():F3}")).Append(y.ToString())));
        }
        File_("img.csv", string.Join("\n", lines) + "\n");
        string yaml = """
            name: shaped
            rounds: 2
            data:
              name: multiview-csv
              modalities: [img, s]
              file: img.csv
              views: { img: { columns: [px0, px1, px2, px3, px4, px5, px6, px7, px8, px9, px10, px11, px12, px13, px14, px15], shape: [1, 4, 4] }, s: { columns: [s] } }
            agents: { count: 3, mix: "1:1:1" }
            model: { latent_dim: 12, split: [4, 4, 4], encoders: { img: { kind: cnn2d, hidden: 8, channels: 4, layers: 1 }, default: { kind: mlp, hidden: 8, layers: 1 } }, synergy_hidden: 8 }
            train: { batch_size: 4, local_steps: 1 }
            sim: { parallelism: 1 }
            """;
        var cfg = ConfigLoader.Load(File_("exp.yaml", yaml));
        using var sim = new Simulation.Simulator(cfg, _dir);
        Assert.Equal(new long[] { 1, 4, 4 }, sim.Agents[0].Train.Views.Values.First().shape[1..]);
        Assert.Equal(3, sim.Run().FinalAccuracy.Count);
    }
}
