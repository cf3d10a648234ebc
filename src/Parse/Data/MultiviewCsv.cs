using System.Globalization;
using Parse.Config;
using Parse.Util;
using TorchSharp;
using static TorchSharp.torch;

namespace Parse.Data;

/// <summary>
/// multiview-csv: bring-your-own multimodal data from CSV files. Each view (modality) is either a column group of
/// <c>data.file</c> or its own file (<c>views.NAME.file</c>); rows of different files are matched by position.
/// The label column (and the optional group column) is taken from <c>data.file</c> if set, else from the first view
/// file (in <c>data.modalities</c> order) that has it. The test set is <c>data.test_file</c> / <c>views.NAME.test_file</c>
/// or a seed-derived <c>data.test_fraction</c> of the rows. Missing cells (empty, NA, NaN, null, ?) follow
/// <c>data.missing</c>: error, mean (training column mean) or zero (the raw value 0). Every column is then
/// standardized with training mean and std. Classes are the sorted distinct training labels (numerically if all
/// labels are numbers).
/// </summary>
public static class MultiviewCsv
{
    private static readonly HashSet<string> MissingTokens = new(StringComparer.OrdinalIgnoreCase) { "", "na", "nan", "null", "?", "n/a" };

    private sealed record Part(float[][] Views, string[] Labels, string[]? Groups, int Rows);

    /// <summary>Loads the dataset described by <paramref name="cfg"/>; relative paths resolve against <paramref name="baseDir"/>.</summary>
    public static DatasetBundle Load(DataConfig cfg, string baseDir, int seed)
    {
        var views = cfg.Views ?? throw new ConfigException("data.views: multiview-csv needs at least one view");
        var names = cfg.Modalities;
        string Full(string f) => Path.GetFullPath(f, Path.GetFullPath(baseDir));
        var cache = new Dictionary<string, CsvTable>();
        CsvTable Table(string f) => cache.TryGetValue(Full(f), out var t) ? t : cache[Full(f)] = CsvTable.Read(Full(f));

        Part ReadPart(Func<string, string?> viewFile, string? mainFile)
        {
            var main = mainFile is null ? null : Table(mainFile);
            var tables = names.Select(n => viewFile(n) is { } f ? Table(f) : main!).ToList();
            var labelTable = main is not null && main.IndexOf(cfg.LabelColumn) >= 0 ? main
                : tables.FirstOrDefault(t => t.IndexOf(cfg.LabelColumn) >= 0)
                  ?? throw new ConfigException($"data.label_column: column '{cfg.LabelColumn}' not found in {string.Join(", ", tables.Select(t => t.Path).Distinct())}");
            CsvTable? groupTable = null;
            if (cfg.GroupColumn is { } gc)
                groupTable = (main is not null && main.IndexOf(gc) >= 0 ? main : tables.FirstOrDefault(t => t.IndexOf(gc) >= 0))
                             ?? throw new ConfigException($"data.group_column: column '{gc}' not found in {string.Join(", ", tables.Select(t => t.Path).Distinct())}");
            int rows = labelTable.Rows.Count;
            if (rows == 0) throw new ConfigException($"{labelTable.Path}: no data rows");
            for (int v = 0; v < names.Count; v++)
                if (tables[v].Rows.Count != rows)
                    throw new ConfigException($"data.views.{names[v]}: {tables[v].Path} has {tables[v].Rows.Count} data rows but {labelTable.Path} has {rows} " +
                                              "(rows of different files are matched by position)");
            var data = new float[names.Count][];
            for (int v = 0; v < names.Count; v++)
            {
                var t = tables[v];
                var cols = Columns(views[names[v]], t, cfg, names[v]);
                var buf = new float[rows * cols.Length];
                for (int r = 0; r < rows; r++)
                    for (int c = 0; c < cols.Length; c++)
                        buf[r * cols.Length + c] = Cell(t, r, cols[c], cfg.Missing);
                data[v] = buf;
            }
            int li = labelTable.IndexOf(cfg.LabelColumn);
            var labels = labelTable.Rows.Select((row, r) => row[li].Trim() is { Length: > 0 } s ? s
                : throw new ConfigException($"{labelTable.Path}: row {r + 1} (line {labelTable.Lines[r]}), column '{cfg.LabelColumn}': missing label")).ToArray();
            string[]? groups = null;
            if (groupTable is not null)
            {
                int gi = groupTable.IndexOf(cfg.GroupColumn!);
                groups = groupTable.Rows.Select(row => row[gi].Trim()).ToArray();
            }
            return new Part(data, labels, groups, rows);
        }

        Part train, test;
        bool ownTestFiles = names.Any(n => views[n].TestFile is not null);
        if (cfg.TestFile is not null || ownTestFiles)
        {
            train = ReadPart(n => views[n].File, cfg.File);
            test = ReadPart(n => views[n].File is null ? null : views[n].TestFile, cfg.TestFile ?? cfg.File);
        }
        else
        {
            var all = ReadPart(n => views[n].File, cfg.File);
            var idx = Enumerable.Range(0, all.Rows).ToArray();
            new Random(Seeds.Derive(seed, "multiview-csv-split")).Shuffle(idx);
            int nTest = Math.Max(1, (int)Math.Round(cfg.TestFraction * all.Rows));
            if (nTest >= all.Rows) throw new ConfigException($"data.test_fraction: {cfg.TestFraction} of {all.Rows} rows leaves no training rows");
            train = Take(all, idx.Skip(nTest).Order().ToArray());
            test = Take(all, idx.Take(nTest).Order().ToArray());
        }
        train = Limit(train, cfg.MaxTrain, seed, "train");
        test = Limit(test, cfg.MaxTest, seed, "test");

        // classes from training labels
        var distinct = train.Labels.Distinct().ToList();
        bool numeric = distinct.All(s => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out _));
        var classes = numeric ? distinct.OrderBy(s => double.Parse(s, CultureInfo.InvariantCulture)).ToList() : distinct.Order(StringComparer.Ordinal).ToList();
        if (classes.Count < 2) throw new ConfigException($"data.label_column: '{cfg.LabelColumn}' has {classes.Count} distinct value(s) in the training rows; at least 2 classes are needed");
        var classOf = classes.Select((c, i) => (c, i)).ToDictionary(t => t.c, t => t.i);
        int[] Encode(Part p, string split) => p.Labels.Select((l, r) => classOf.TryGetValue(l, out int k) ? k
            : throw new ConfigException($"data.label_column: {split} row {r + 1} has label '{l}', which never occurs in the training rows")).ToArray();
        var trainY = Encode(train, "training");
        var testY = Encode(test, "test");

        var specs = new List<ModalitySpec>();
        var trV = new Dictionary<string, Tensor>();
        var teV = new Dictionary<string, Tensor>();
        for (int v = 0; v < names.Count; v++)
        {
            int cols = train.Views[v].Length / train.Rows;
            Impute(train.Views[v], test.Views[v], cols, cfg.Missing);
            AvMnist.StandardizeColumns(train.Views[v], test.Views[v], cols);
            specs.Add(new ModalitySpec(names[v], [cols]));
            trV[names[v]] = torch.tensor(train.Views[v], [train.Rows, cols]);
            teV[names[v]] = torch.tensor(test.Views[v], [test.Rows, cols]);
        }
        return new DatasetBundle
        {
            Train = new MultimodalData(trV, trainY, classes.Count),
            Test = new MultimodalData(teV, testY, classes.Count),
            Modalities = specs,
            Groups = train.Groups,
        };
    }

    private static int[] Columns(ViewConfig v, CsvTable t, DataConfig cfg, string view)
    {
        if (v.Columns is { } cols)
            return cols.Select(c => t.IndexOf(c) is var i and >= 0 ? i
                : throw new ConfigException($"data.views.{view}.columns: unknown column '{c}' in {t.Path} (columns: {string.Join(", ", t.Header)})")).ToArray();
        var all = Enumerable.Range(0, t.Header.Length).Where(i => t.Header[i] != cfg.LabelColumn && t.Header[i] != cfg.GroupColumn).ToArray();
        if (all.Length == 0) throw new ConfigException($"data.views.{view}: {t.Path} has no feature columns besides the label/group columns");
        return all;
    }

    private static float Cell(CsvTable t, int r, int c, string missing)
    {
        string s = t.Rows[r][c].Trim();
        if (MissingTokens.Contains(s))
        {
            if (missing == "error")
                throw new ConfigException($"{t.Path}: row {r + 1} (line {t.Lines[r]}), column '{t.Header[c]}': missing value " +
                                          "(data.missing is 'error'; set it to 'mean' or 'zero' to fill missing values)");
            return float.NaN;
        }
        if (!float.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out float x) || !float.IsFinite(x))
            throw new ConfigException($"{t.Path}: row {r + 1} (line {t.Lines[r]}), column '{t.Header[c]}': '{t.Rows[r][c]}' is not a number");
        return x;
    }

    private static void Impute(float[] train, float[] test, int cols, string policy)
    {
        var sum = new double[cols];
        var n = new long[cols];
        for (int i = 0; i < train.Length; i++) if (!float.IsNaN(train[i])) { sum[i % cols] += train[i]; n[i % cols]++; }
        foreach (var a in new[] { train, test })
            for (int i = 0; i < a.Length; i++)
                if (float.IsNaN(a[i])) a[i] = policy == "mean" && n[i % cols] > 0 ? (float)(sum[i % cols] / n[i % cols]) : 0f;
    }

    private static Part Take(Part p, int[] rows)
    {
        var views = p.Views.Select(v =>
        {
            int cols = v.Length / p.Rows;
            var o = new float[rows.Length * cols];
            for (int i = 0; i < rows.Length; i++) Array.Copy(v, rows[i] * cols, o, i * cols, cols);
            return o;
        }).ToArray();
        return new Part(views, rows.Select(r => p.Labels[r]).ToArray(), p.Groups is null ? null : rows.Select(r => p.Groups[r]).ToArray(), rows.Length);
    }

    private static Part Limit(Part p, int? max, int seed, string split)
    {
        if (max is not { } k || k >= p.Rows) return p;
        var idx = Enumerable.Range(0, p.Rows).ToArray();
        new Random(Seeds.Derive(seed, "multiview-csv-subset", split)).Shuffle(idx);
        return Take(p, idx.Take(k).Order().ToArray());
    }
}
