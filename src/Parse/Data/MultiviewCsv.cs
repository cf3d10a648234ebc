using System.Globalization;
using Parse.Config;
using Parse.Data.Tabular;
using Parse.Util;
using TorchSharp;
using static TorchSharp.torch;

namespace Parse.Data;

/// <summary>
/// multiview-csv: bring-your-own multimodal data from CSV (and NPY/NPZ) files. Each view (modality) is either a column
/// group of <c>data.file</c> or its own file (<c>views.NAME.file</c>: a CSV, an .npy array, or an array of an .npz
/// archive). Rows of different files are matched by position, or by key with <c>data.id_column</c>.
/// <para>The labels come from <c>data.label_file</c> if set, else from <c>data.file</c> if it has the label column, else
/// from the first view file (in <c>data.modalities</c> order) that has it; every other file that also has the label
/// column must agree with it row by row. The test set is <c>data.test_file</c> / <c>views.NAME.test_file</c> (with
/// <c>data.test_label_file</c>) or a seed-derived <c>data.test_fraction</c> of the rows. Missing cells (empty, NA, NaN,
/// null, ?) follow <c>data.missing</c>: error, mean (training column mean) or zero (the raw value 0); a column with no
/// value at all in the training rows is refused. Every column is then standardized with training mean and std. Classes
/// are the sorted distinct training labels (numerically if all labels are numbers).</para>
/// <para>With <c>data.agent_column</c> the training rows carry their agent: the partition is that column, and a process
/// that hosts only some agents (a cluster node) keeps only their rows; statistics are still computed over every
/// training row while reading, so all processes standardize alike.</para>
/// <para>With per-agent files (an <c>{agent}</c> placeholder in the training file paths, <see cref="AgentFiles"/>) each
/// agent's rows are its own files, and a process reads only its agents' files. No process sees every agent's data, so
/// the shared test rows define the classes and the standardization statistics.</para>
/// </summary>
public static class MultiviewCsv
{
    /// <summary>The file that held a part's labels: for messages, and what agent mode needs of every row (kept or not).</summary>
    private sealed record Origin(string Path, int TotalRows, IReadOnlySet<string>? LabelValues);

    private sealed record Part(float[][] Views, string[] Labels, string[]? Groups, int Rows, int[]? Agents, long[][] Shapes,
        string[][] Columns, ColumnStats[] Stats, Origin Anchor)
    {
        /// <summary>Rows of <see cref="Views"/> that make this part (null: all of them, in order). A split or subset only
        /// selects rows, so the values are copied once, straight into the tensors.</summary>
        public int[]? Select { get; init; }
    }

    /// <summary>Loads the dataset described by <paramref name="cfg"/>; relative paths resolve against <paramref name="baseDir"/>.</summary>
    /// <param name="cfg">The data section.</param>
    /// <param name="baseDir">Directory of the config file.</param>
    /// <param name="seed">Experiment seed (split and subsets).</param>
    /// <param name="agentCount">Number of agents (needed with <c>data.agent_column</c>).</param>
    /// <param name="hostedAgents">With <c>data.agent_column</c>: keep only these agents' training rows (null: all).</param>
    /// <param name="log">Where a process hosting only some agents reports what it loaded (null: nowhere).</param>
    /// <param name="ct">Stops the load (Ctrl-C, SIGTERM) between files and every few thousand CSV rows; nothing is written by a load.</param>
    public static DatasetBundle Load(DataConfig cfg, string baseDir, int seed, int agentCount = 0, IReadOnlySet<int>? hostedAgents = null, TextWriter? log = null,
        CancellationToken ct = default)
    {
        var views = cfg.Views ?? throw new ConfigException("data.views: multiview-csv needs at least one view");
        var names = cfg.Modalities;
        string Full(string f) => Path.GetFullPath(f, Path.GetFullPath(baseDir));
        char? separator = CsvSource.ParseSeparator(cfg.Separator);
        var keyColumns = new[] { cfg.LabelColumn, cfg.GroupColumn, cfg.IdColumn, cfg.AgentColumn }.OfType<string>().ToHashSet();
        bool agentFiles = AgentFiles.Used(cfg);
        bool agentMode = cfg.AgentColumn is not null || agentFiles;
        string agentKey = agentFiles ? AgentFiles.Key(cfg) : "data.agent_column";
        if (agentMode && agentCount < 1) throw new ConfigException($"{agentKey}: the number of agents is unknown");

        Part ReadPart(Func<string, string?> viewFile, string? mainFile, string? labelFile, bool train)
        {
            // sources: CSV files by path (several views may share one), array files by path + array (one view each)
            var sources = new List<(string Key, string Path, bool Array, List<(string View, int Modality)> Views)>();
            for (int m = 0; m < names.Count; m++)
            {
                string path = Full(viewFile(names[m]) ?? mainFile ?? throw new ConfigException($"data.views.{names[m]}.file: required when data.file is not set"));
                bool isArray = Npy.IsArrayFile(path);
                string key = isArray ? path + "\n" + views[names[m]].Array : path;
                var s = sources.FirstOrDefault(x => x.Key == key);
                if (s.Key is null) sources.Add(s = (key, path, isArray, []));
                s.Views.Add((names[m], m));
            }
            var headers = new Dictionary<string, string[]>();
            string[] Header(string path) => headers.TryGetValue(path, out var h) ? h : headers[path] = ParquetSource.IsParquetFile(path)
                ? ParquetSource.ReadHeader(path) : CsvSource.ReadHeader(path, separator, cfg.Header);
            bool HasLabel(string path) => !Npy.IsArrayFile(path) && Header(path).Contains(cfg.LabelColumn);

            // the label source (anchor): label file, data.file, or the first view file with the label column
            string anchorKey;
            string? anchorLabelOnly = null;
            if (labelFile is not null)
            {
                string lf = Full(labelFile);
                var s = sources.FirstOrDefault(x => x.Path == lf && !x.Array);
                if (s.Key is not null) anchorKey = s.Key;
                else { anchorKey = lf; anchorLabelOnly = lf; }
            }
            else if (mainFile is not null && HasLabel(Full(mainFile))) anchorKey = Full(mainFile);
            else
                anchorKey = sources.FirstOrDefault(x => !x.Array && HasLabel(x.Path)).Key
                    ?? throw new ConfigException($"data.label_column: column '{cfg.LabelColumn}' not found in {string.Join(", ", sources.Select(x => x.Path).Distinct())}" +
                                                 " (labels in a file of their own: set data.label_file)" +
                                                 CsvSource.SeparatorHint(headers.Values.FirstOrDefault(h => h.Length == 1) ?? [], separator));

            TableRequest Request(string path, List<(string View, int Modality)> vs, bool isArray, bool anchor) => new(path)
            {
                Views = vs.Select(v => (v.View, views[v.View].Columns, views[v.View].Array)).ToList(),
                Ranges = vs.Select(v => views[v.View].ColumnRange).ToList(),
                KeyColumns = keyColumns,
                Label = isArray && vs.Count > 0 ? null : cfg.LabelColumn,
                LabelRequired = anchor,
                Group = cfg.GroupColumn,
                Id = isArray ? null : cfg.IdColumn,
                Agent = anchor && train ? cfg.AgentColumn : null,
                AgentCount = agentCount,
                Missing = cfg.Missing,
                Separator = separator,
                Header = cfg.Header,
                LabelArray = cfg.LabelArray,
            };
            SourceTable ReadTable(TableRequest q)
            {
                ct.ThrowIfCancellationRequested();
                q = q with { Cancellation = ct };
                var table = Npy.IsArrayFile(q.Path) ? ArraySource.Read(q) : ParquetSource.IsParquetFile(q.Path) ? ParquetSource.Read(q) : CsvSource.Read(q);
                ct.ThrowIfCancellationRequested();
                return table;
            }

            // 1. the anchor, keeping only the hosted agents' rows
            var anchorSource = sources.FirstOrDefault(x => x.Key == anchorKey);
            Func<int, string?, int, bool>? hostedFilter = cfg.AgentColumn is not null && train && hostedAgents is not null ? (_, _, agent) => hostedAgents.Contains(agent) : null;
            var anchorReq = Request(anchorSource.Key is null ? anchorLabelOnly! : anchorSource.Path, anchorSource.Views ?? [],
                Npy.IsArrayFile(anchorLabelOnly ?? anchorSource.Path), anchor: true) with { Keep = hostedFilter };
            var anchorTable = ReadTable(anchorReq);
            var tables = new List<(SourceTable Table, List<(string View, int Modality)> Views, int[]? Perm)>();
            if (anchorSource.Key is not null) tables.Add((anchorTable, anchorSource.Views!, null));

            // 2. the other sources, aligned with the anchor's kept rows by position or by key
            Dictionary<string, int>? anchorKeys = null;
            if (cfg.IdColumn is not null && anchorTable.AllIds is { } allIds)
            {
                anchorKeys = new Dictionary<string, int>(allIds.Length);
                for (int i = 0; i < allIds.Length; i++)
                    if (!anchorKeys.TryAdd(allIds[i], i))
                        throw new ConfigException($"{anchorTable.Path}: rows {anchorKeys[allIds[i]] + 1} and {i + 1}, column '{cfg.IdColumn}': duplicate key '{allIds[i]}' (data.id_column)");
            }
            var keptKeys = anchorTable.Ids?.ToHashSet();
            foreach (var s in sources.Where(x => x.Key != anchorKey))
            {
                bool byKey = anchorKeys is not null && !s.Array;
                Func<int, string?, int, bool>? keep = byKey ? (keptKeys!.Count == anchorKeys!.Count ? null : (_, id, _) => keptKeys.Contains(id!))
                    : anchorTable.KeptMask is { } mask ? (pos, _, _) => pos < mask.Length && mask[pos] : null;
                var t = ReadTable(Request(s.Path, s.Views, s.Array, anchor: false) with { Keep = keep });
                int[]? perm = null;
                if (!byKey)
                {
                    if (t.TotalRows != anchorTable.TotalRows)
                        throw new ConfigException($"data.views.{s.Views[0].View}: {t.Path} has {t.TotalRows} data rows but {anchorTable.Path} has {anchorTable.TotalRows} " +
                                                  (cfg.IdColumn is null ? "(rows of different files are matched by position; set data.id_column to join them by key)" : "(array files are matched by position)"));
                }
                else
                {
                    var own = new Dictionary<string, int>(t.AllIds!.Length);
                    for (int i = 0; i < t.AllIds.Length; i++)
                    {
                        if (!own.TryAdd(t.AllIds[i], i))
                            throw new ConfigException($"{t.Path}: rows {own[t.AllIds[i]] + 1} and {i + 1}, column '{cfg.IdColumn}': duplicate key '{t.AllIds[i]}' (data.id_column)");
                        if (!anchorKeys!.ContainsKey(t.AllIds[i]))
                            throw new ConfigException($"{t.Path}: row {i + 1}, column '{cfg.IdColumn}': key '{t.AllIds[i]}' has no row in {anchorTable.Path} (data.id_column joins the files by key)");
                    }
                    foreach (var (k, i) in anchorKeys!)
                        if (!own.ContainsKey(k))
                            throw new ConfigException($"data.views.{s.Views[0].View}: key '{k}' ({anchorTable.Path}, row {i + 1}, column '{cfg.IdColumn}') has no row in {t.Path} " +
                                                      "(data.id_column: every view needs every key)");
                    var keptAt = new Dictionary<string, int>(t.Rows);
                    for (int i = 0; i < t.Rows; i++) keptAt[t.Ids![i]] = i;
                    perm = anchorTable.Ids!.Select(k => keptAt[k]).ToArray();
                }
                tables.Add((t, s.Views, perm));
            }

            // 3. labels must agree wherever a file repeats them
            int rows = anchorTable.Rows;
            var labels = anchorTable.Labels!;
            foreach (var (t, _, perm) in tables)
            {
                if (ReferenceEquals(t, anchorTable) || t.Labels is null) continue;
                for (int r = 0; r < rows; r++)
                {
                    int o = perm?[r] ?? r;
                    if (!string.Equals(t.Labels[o], labels[r], StringComparison.Ordinal))
                        throw new ConfigException($"{t.Where(o)}, column '{cfg.LabelColumn}': label '{t.Labels[o]}' disagrees with '{labels[r]}' in {anchorTable.Where(r)} " +
                                                  "(the files must describe the same samples in the same order" + (cfg.IdColumn is null ? "; set data.id_column to join them by key)" : ")"));
                }
            }

            // 4. views in modality order
            var data = new float[names.Count][];
            var shapes = new long[names.Count][];
            var columns = new string[names.Count][];
            var stats = new ColumnStats[names.Count];
            foreach (var (t, vs, perm) in tables)
                for (int k = 0; k < vs.Count; k++)
                {
                    int m = vs[k].Modality;
                    var v = t.Views[k];
                    int width = checked((int)t.Shapes[k].Aggregate(1L, (a, b) => a * b));
                    if (perm is not null)
                    {
                        var o = new float[(long)rows * width];
                        for (int r = 0; r < rows; r++) Array.Copy(v, (long)perm[r] * width, o, (long)r * width, width);
                        v = o;
                    }
                    data[m] = v;
                    shapes[m] = Shape(views[names[m]], t.Shapes[k], width, names[m], t.Path);
                    columns[m] = t.ColumnNames[k];
                    stats[m] = t.Stats[k];
                }
            string[]? groups = null;
            foreach (var (t, _, perm) in tables.Prepend((anchorTable, [], null)))
                if (t.Groups is not null) { groups = perm is null ? t.Groups : perm.Select(i => t.Groups[i]).ToArray(); break; }
            if (cfg.GroupColumn is not null && groups is null)
                throw new ConfigException($"data.group_column: column '{cfg.GroupColumn}' not found in {string.Join(", ", tables.Select(t => t.Table.Path).Prepend(anchorTable.Path).Distinct())}");
            return new Part(data, labels, groups, rows, anchorTable.Agents, shapes, columns, stats,
                new Origin(anchorTable.Path, anchorTable.TotalRows, anchorTable.LabelValues));
        }

        Part train, test;
        bool ownTestFiles = names.Any(n => views[n].TestFile is not null);
        if (cfg.TestFile is not null || ownTestFiles)
        {
            train = agentFiles
                ? ConcatAgents(AgentFiles.Hosted(agentCount, hostedAgents).Select(a => (a, ReadPart(n => AgentFiles.Path(cfg, $"data.views.{n}.file", views[n].File, a, Full),
                    AgentFiles.Path(cfg, "data.file", cfg.File, a, Full), AgentFiles.Path(cfg, "data.label_file", cfg.LabelFile, a, Full), train: true))).ToList(), names)
                : ReadPart(n => views[n].File, cfg.File, cfg.LabelFile, train: true);
            test = ReadPart(n => views[n].File is null ? null : views[n].TestFile, cfg.TestFile ?? cfg.File, cfg.TestLabelFile, train: false);
        }
        else
        {
            if (agentMode) throw new ConfigException($"{agentKey}: needs a test file (data.test_file or views.NAME.test_file); every training row belongs to an agent");
            var all = ReadPart(n => views[n].File, cfg.File, cfg.LabelFile, train: true);
            var idx = Enumerable.Range(0, all.Rows).ToArray();
            new Random(Seeds.Derive(seed, "multiview-csv-split")).Shuffle(idx);
            int nTest = Math.Max(1, (int)Math.Round(cfg.TestFraction * all.Rows));
            if (nTest >= all.Rows) throw new ConfigException($"data.test_fraction: {cfg.TestFraction} of {all.Rows} rows leaves no training rows");
            var trainRows = idx.Skip(nTest).Order().ToArray();
            var testRows = idx.Take(nTest).Order().ToArray();
            test = Take(all, testRows);
            train = Take(all, trainRows);
        }
        if (!agentMode)
        {
            train = Limit(train, cfg.MaxTrain, seed, "train");
            test = Limit(test, cfg.MaxTest, seed, "test");
        }

        // classes from training labels (agent column: from every agent's rows, kept or not; per-agent files: from the shared
        // test rows, as no process sees every agent's files): the same on every process
        var distinct = (agentFiles ? test.Labels : cfg.AgentColumn is not null ? (IEnumerable<string>)(train.Anchor.LabelValues ?? train.Labels.ToHashSet()) : train.Labels)
            .Distinct().ToList();
        bool numeric = distinct.All(s => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out _));
        var classes = numeric ? distinct.OrderBy(s => double.Parse(s, CultureInfo.InvariantCulture)).ToList() : distinct.Order(StringComparer.Ordinal).ToList();
        if (classes.Count < 2) throw new ConfigException($"data.label_column: '{cfg.LabelColumn}' has {classes.Count} distinct value(s) in the training rows; at least 2 classes are needed");
        var classOf = classes.Select((c, i) => (c, i)).ToDictionary(t => t.c, t => t.i);
        int[] Encode(Part p, string split) => p.Labels.Select((l, r) => classOf.TryGetValue(l, out int k) ? k
            : throw new ConfigException(agentFiles && split == "training"
                ? $"data.label_column: agent {p.Agents![r]} has label '{l}' in its files, which never occurs in the test rows (with per-agent files the test set defines the classes)"
                : $"data.label_column: {split} row {r + 1} has label '{l}', which never occurs in the training rows")).ToArray();
        var trainY = Encode(train, "training");
        var testY = Encode(test, "test");
        int[][]? partition = agentMode ? AgentPartition(train, agentCount, hostedAgents, agentFiles ? null : cfg.AgentColumn!) : null;
        if (hostedAgents is not null && agentMode)
            log?.WriteLine($"multiview-csv: loaded {train.Rows} training rows for agents {string.Join(',', hostedAgents.Order())} " +
                           (agentFiles ? $"from their own files ({agentKey})" : $"of {train.Anchor.TotalRows} in {train.Anchor.Path} (data.agent_column)"));

        var specs = new List<ModalitySpec>();
        var trV = new Dictionary<string, Tensor>();
        var teV = new Dictionary<string, Tensor>();
        try
        {
            for (int v = 0; v < names.Count; v++)
            {
                int cols = checked((int)train.Shapes[v].Aggregate(1L, (a, b) => a * b));
                var (mean, std) = agentFiles ? Moments(test.Stats[v], test.Columns[v], test.Anchor.Path, names[v])
                    : agentMode ? Moments(train.Stats[v], train.Columns[v], train.Anchor.Path, names[v]) : Moments(train, v, cols, names[v]);
                Normalize(train.Views[v], mean, std, cfg.Missing);
                if (!ReferenceEquals(test.Views[v], train.Views[v])) Normalize(test.Views[v], mean, std, cfg.Missing);   // a split shares one array
                specs.Add(new ModalitySpec(names[v], train.Shapes[v]));
                trV[names[v]] = ToTensor(train, v, cols, train.Shapes[v]);
                teV[names[v]] = ToTensor(test, v, cols, train.Shapes[v]);
                Release(train, test, v);
            }
        }
        catch
        {
            foreach (var t in trV.Values.Concat(teV.Values)) t.Dispose();
            throw;
        }
        return new DatasetBundle
        {
            Train = new MultimodalData(trV, trainY, classes.Count),
            Test = new MultimodalData(teV, testY, classes.Count),
            Modalities = specs,
            Groups = train.Groups,
            Partition = partition,
        };
    }

    private static long[] Shape(ViewConfig v, long[] found, int width, string view, string path)
    {
        if (v.Shape is not { } s) return found;
        long product = s.Aggregate(1L, (a, b) => a * b);
        if (s.Count == 0 || s.Any(d => d < 1) || product != width)
            throw new ConfigException($"data.views.{view}.shape: [{string.Join(", ", s)}] holds {product} values per sample but {path} gives {width} " +
                                      $"({(Npy.IsArrayFile(path) ? $"array sample shape [{string.Join(", ", found)}]" : "feature columns")})");
        return s.ToArray();
    }

    /// <summary>Agent of every training row -> the rows of each agent; every hosted agent needs at least one row.</summary>
    private static int[][] AgentPartition(Part train, int agents, IReadOnlySet<int>? hosted, string? column)
    {
        var lists = Enumerable.Range(0, agents).Select(_ => new List<int>()).ToArray();
        var agentOf = train.Agents!;
        for (int r = 0; r < train.Rows; r++) lists[agentOf[r]].Add(r);
        for (int a = 0; a < agents; a++)
            if ((hosted is null || hosted.Contains(a)) && lists[a].Count == 0)
                throw new ConfigException(column is null ? $"agent {a} has no training rows in its files" // per-agent files: an empty file is refused while reading
                    : $"data.agent_column: agent {a} has no rows in {train.Anchor.Path} (column '{column}'; the experiment has {agents} agents, 0..{agents - 1})");
        return lists.Select(l => l.ToArray()).ToArray();
    }

    private static (double[] Mean, double[] Std) Moments(Part train, int v, int cols, string view)
    {
        var s = new ColumnStats(cols);
        var a = train.Views[v];
        for (int r = 0; r < train.Rows; r++) s.Add(a.AsSpan((train.Select?[r] ?? r) * cols, cols));
        return Moments(s, train.Columns[v], null, view);
    }

    /// <summary>Drops view <paramref name="v"/>'s values once its tensors exist. Large views (32 MB and up) are collected at
    /// once, so that the values of one view and the tensors of all views are never held together (peak memory).</summary>
    private static void Release(Part train, Part test, int v)
    {
        long bytes = 4L * (train.Views[v].Length + (ReferenceEquals(train.Views[v], test.Views[v]) ? 0 : test.Views[v].Length));
        train.Views[v] = null!;
        test.Views[v] = null!;
        if (bytes >= 32L << 20) GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: false);
    }

    /// <summary>View <paramref name="v"/> of the part's rows as a tensor [rows, ..shape]: one copy into native memory.</summary>
    private static Tensor ToTensor(Part p, int v, int cols, long[] shape)
    {
        var a = p.Views[v];
        if (p.Select is not { } sel) return torch.tensor(a, [p.Rows, .. shape]);
        var t = torch.empty([p.Rows, .. shape], ScalarType.Float32);
        var dst = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(t.bytes);
        for (int r = 0; r < sel.Length; r++) a.AsSpan(sel[r] * cols, cols).CopyTo(dst.Slice(r * cols, cols));
        return t;
    }

    private static (double[] Mean, double[] Std) Moments(ColumnStats s, string[] names, string? path, string view)
    {
        int cols = s.Count.Length;
        var mean = new double[cols];
        var std = new double[cols];
        for (int c = 0; c < cols; c++)
        {
            if (s.Count[c] == 0)
                throw new ConfigException($"data.views.{view}: column '{names[c]}'{(path is null ? "" : $" of {path}")} has no value in any training row (all missing); " +
                                          "drop it from views.NAME.columns");
            mean[c] = s.Sum[c] / s.Count[c];
            std[c] = Math.Sqrt(Math.Max(s.SumSq[c] / s.Count[c] - mean[c] * mean[c], 0));
            if (std[c] < 1e-8) std[c] = 1;
        }
        return (mean, std);
    }

    /// <summary>Fills missing values (NaN: the mean, or a raw 0) and standardizes each column in place.</summary>
    private static void Normalize(float[] a, double[] mean, double[] std, string missing)
    {
        int cols = mean.Length;
        var m = mean.Select(x => (float)x).ToArray();
        var inv = std.Select(x => (float)(1 / x)).ToArray();
        for (long i = 0; i < a.Length; i += cols)
        {
            var row = a.AsSpan((int)i, cols);
            for (int c = 0; c < cols; c++)
            {
                float x = row[c];
                if (float.IsNaN(x)) x = missing == "mean" ? m[c] : 0f;
                row[c] = (x - m[c]) * inv[c];
            }
        }
    }

    /// <summary>The hosted agents' parts, one after another; every agent's files must give the same columns.</summary>
    private static Part ConcatAgents(List<(int Agent, Part Part)> parts, IReadOnlyList<string> names)
    {
        var (a0, first) = parts[0];
        if (parts.Count == 1) return first with { Agents = Enumerable.Repeat(a0, first.Rows).ToArray() };
        foreach (var (a, p) in parts.Skip(1))
            for (int m = 0; m < names.Count; m++)
                if (!p.Shapes[m].SequenceEqual(first.Shapes[m]) || !p.Columns[m].SequenceEqual(first.Columns[m]))
                    throw new ConfigException($"data.views.{names[m]}: agent {a}'s file ({p.Anchor.Path}) gives columns [{CsvSource.Preview(p.Columns[m])}] " +
                                              $"but agent {a0}'s ({first.Anchor.Path}) gives [{CsvSource.Preview(first.Columns[m])}]; every agent's files need the same columns");
        var views = Enumerable.Range(0, names.Count).Select(m =>
        {
            var o = new float[parts.Sum(x => (long)x.Part.Views[m].Length)];
            long at = 0;
            foreach (var (_, p) in parts) { Array.Copy(p.Views[m], 0, o, at, p.Views[m].Length); at += p.Views[m].Length; }
            return o;
        }).ToArray();
        return first with
        {
            Views = views,
            Labels = parts.SelectMany(x => x.Part.Labels).ToArray(),
            Groups = parts.All(x => x.Part.Groups is not null) ? parts.SelectMany(x => x.Part.Groups!).ToArray() : null,
            Rows = parts.Sum(x => x.Part.Rows),
            Agents = parts.SelectMany(x => Enumerable.Repeat(x.Agent, x.Part.Rows)).ToArray(),
        };
    }

    /// <summary>The part's rows <paramref name="rows"/> (positions within the part): values are selected, not copied.</summary>
    private static Part Take(Part p, int[] rows) => p with
    {
        Select = p.Select is { } sel ? rows.Select(r => sel[r]).ToArray() : rows,
        Labels = rows.Select(r => p.Labels[r]).ToArray(), Groups = p.Groups is null ? null : rows.Select(r => p.Groups[r]).ToArray(),
        Rows = rows.Length, Agents = p.Agents is null ? null : rows.Select(r => p.Agents[r]).ToArray(),
    };

    private static Part Limit(Part p, int? max, int seed, string split)
    {
        if (max is not { } k || k >= p.Rows) return p;
        var idx = Enumerable.Range(0, p.Rows).ToArray();
        new Random(Seeds.Derive(seed, "multiview-csv-subset", split)).Shuffle(idx);
        return Take(p, idx.Take(k).Order().ToArray());
    }
}
