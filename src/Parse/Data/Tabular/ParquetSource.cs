using System.Globalization;
using Parquet;
using Parquet.Schema;
using Parse.Config;

namespace Parse.Data.Tabular;

/// <summary>
/// Reads the requested columns of one Parquet file (Parquet.Net), row group by row group: numeric feature columns
/// (float, double, signed and unsigned integers, decimal, bool) straight into float arrays, the label, group and key
/// columns as text, the agent column as integers. Nulls and NaN are missing values; only flat (top-level, not
/// repeated) columns can be read. Every error names the file, the column and, for a bad value, the row.
/// </summary>
internal static class ParquetSource
{
    /// <summary>True for a <c>.parquet</c> (or <c>.pq</c>) path.</summary>
    public static bool IsParquetFile(string path) =>
        path.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".pq", StringComparison.OrdinalIgnoreCase);

    /// <summary>The top-level column names of a Parquet file.</summary>
    public static string[] ReadHeader(string path) => Guard(path, async () =>
    {
        await using var reader = await Open(path);
        return reader.Schema.Fields.Select(f => f.Name).ToArray();
    });

    /// <summary>Reads <paramref name="q"/>.</summary>
    public static SourceTable Read(TableRequest q) => Guard(q.Path, () => ReadAsync(q));

    private static async Task<ParquetReader> Open(string path)
    {
        if (!File.Exists(path)) throw new ConfigException($"file not found: {path}");
        return await ParquetReader.CreateAsync(path);
    }

    /// <summary>Runs a read; a file Parquet.Net cannot decode (truncated, corrupt, not Parquet) becomes one ConfigException naming it.</summary>
    private static T Guard<T>(string path, Func<Task<T>> read)
    {
        try
        {
            return read().GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is not (ConfigException or OperationCanceledException or OutOfMemoryException))
        {
            throw new ConfigException($"{path}: not a readable Parquet file ({e.Message.TrimEnd('.')}); is it complete and uncorrupted?");
        }
    }

    private static async Task<SourceTable> ReadAsync(TableRequest q)
    {
        string path = q.Path;
        await using var reader = await Open(path);
        var header = reader.Schema.Fields.Select(f => f.Name).ToArray();
        var (cols, colNames) = CsvSource.Resolve(q, header, "schema");
        DataField Field(int i, string role)
        {
            var f = reader.Schema.Fields[i];
            if (f is not DataField { IsArray: false } df)
                throw new ConfigException($"{path}: column '{f.Name}' ({role}) is a nested or repeated column ({f.SchemaType}); only flat columns can be read");
            return df;
        }
        int Find(string? name, string role, bool required, string hint)
        {
            if (name is null) return -1;
            int i = Array.IndexOf(header, name);
            if (i < 0 && required) throw new ConfigException($"{role}: column '{name}' not found in {path}{hint} (columns: {CsvSource.Preview(header)})");
            return i;
        }
        int labelCol = q.Label is null ? -1 : Find(q.Label, "data.label_column", q.LabelRequired, "");
        int groupCol = Find(q.Group, "data.group_column", false, "");
        int idCol = Find(q.Id, "data.id_column", true, "");
        int agentCol = Find(q.Agent, "data.agent_column", true, ", the file that holds the labels");
        var featureFields = cols.Select(c => c.Select(i => Field(i, "feature")).ToArray()).ToArray();
        foreach (var (fs, v) in featureFields.Select((f, v) => (f, v)))
            foreach (var f in fs)
                if (!IsNumeric(f.ClrType))
                    throw new ConfigException($"{path}: column '{f.Name}' (view {q.Views[v].Name}) holds {TypeName(f.ClrType)} values; feature columns must be numeric");

        long total = reader.RowGroups.Sum(g => g.RowCount);
        if (total == 0) throw new ConfigException($"{path}: no data rows");
        if (total > int.MaxValue) throw new ConfigException($"{path}: {total} rows is more than one data set can hold");
        int rows = (int)total;
        var stats = cols.Select(c => new ColumnStats(c.Length)).ToArray();
        var views = cols.Select(c => new GrowBuffer<float>(q.Keep is null ? (long)rows * Math.Max(1, c.Length) : 1024)).ToArray();
        var positions = new GrowBuffer<int>(q.Keep is null ? rows : 1024);
        GrowBuffer<string>? labels = labelCol >= 0 ? new(rows) : null, groups = groupCol >= 0 ? new(rows) : null;
        GrowBuffer<string>? ids = idCol >= 0 ? new(rows) : null, allIds = idCol >= 0 ? new(rows) : null;
        GrowBuffer<int>? agents = agentCol >= 0 ? new(rows) : null;
        bool[]? kept = q.Keep is null ? null : new bool[rows];
        var labelValues = new HashSet<string>();
        var intern = new Dictionary<string, string>();
        string Intern(string s) => intern.TryGetValue(s, out var v) ? v : intern[s] = s;

        int start = 0;
        for (int g = 0; g < reader.RowGroupCount; g++)
        {
            using var rg = reader.OpenRowGroupReader(g);
            int n = checked((int)rg.RowCount);
            string?[]? labelText = labelCol >= 0 ? await Text(path, rg, Field(labelCol, "data.label_column"), n) : null;
            string?[]? groupText = groupCol >= 0 ? await Text(path, rg, Field(groupCol, "data.group_column"), n) : null;
            string?[]? idText = idCol >= 0 ? await Text(path, rg, Field(idCol, "data.id_column"), n) : null;
            double[]? agentNum = null;
            if (agentCol >= 0)
            {
                var f = Field(agentCol, "data.agent_column");
                if (!IsNumeric(f.ClrType) || f.ClrType == typeof(bool))
                    throw new ConfigException($"{path}: column '{f.Name}' holds {TypeName(f.ClrType)} values; data.agent_column holds 0-based agent numbers (integers)");
                agentNum = await Numbers(rg, f, n);
            }
            var keep = new bool[n];
            for (int r = 0; r < n; r++)
            {
                int pos = start + r;
                string? id = null;
                if (idText is not null)
                {
                    id = idText[r];
                    if (string.IsNullOrEmpty(id)) throw new ConfigException($"{path}: row {pos + 1}, column '{header[idCol]}': empty key (data.id_column)");
                    allIds!.Add(id);
                }
                int agent = -1;
                if (agentNum is not null)
                {
                    double a = agentNum[r];
                    if (double.IsNaN(a) || a != Math.Floor(a))
                        throw new ConfigException($"{path}: row {pos + 1}, column '{header[agentCol]}': '{a.ToString(CultureInfo.InvariantCulture)}' is not an agent id " +
                                                  "(data.agent_column holds 0-based agent numbers)");
                    if (a < 0 || a >= q.AgentCount)
                        throw new ConfigException($"{path}: row {pos + 1}, column '{header[agentCol]}': agent {a.ToString(CultureInfo.InvariantCulture)} does not exist " +
                                                  $"(the experiment has {q.AgentCount} agents, 0..{q.AgentCount - 1})");
                    agent = (int)a;
                }
                keep[r] = q.Keep?.Invoke(pos, id, agent) ?? true;
                if (kept is not null) kept[pos] = keep[r];
                if (labelText is not null)
                {
                    if (string.IsNullOrEmpty(labelText[r]))
                    {
                        if (keep[r]) throw new ConfigException($"{path}: row {pos + 1}, column '{header[labelCol]}': missing label");
                    }
                    else labelValues.Add(labelText[r] = Intern(labelText[r]!));
                }
                if (!keep[r]) continue;
                positions.Add(pos);
                if (labels is not null) labels.Add(labelText![r]!);
                if (groups is not null) groups.Add(Intern(groupText![r] ?? ""));
                if (ids is not null) ids.Add(id!);
                if (agents is not null) agents.Add(agent);
            }

            for (int v = 0; v < cols.Length; v++)
            {
                int width = cols[v].Length;
                var block = new float[(long)n * width];
                for (int j = 0; j < width; j++)
                {
                    var f = featureFields[v][j];
                    var x = await Numbers(rg, f, n);
                    for (int r = 0; r < n; r++)
                    {
                        double d = x[r];
                        if (double.IsNaN(d))
                        {
                            if (q.Missing == "error")
                                throw new ConfigException($"{path}: row {start + r + 1}, column '{f.Name}': missing value (null or NaN; data.missing is 'error'; " +
                                                          "set it to 'mean' or 'zero' to fill missing values)");
                        }
                        else if (double.IsInfinity(d) || Math.Abs(d) > float.MaxValue)
                            throw new ConfigException($"{path}: row {start + r + 1}, column '{f.Name}': {d.ToString(CultureInfo.InvariantCulture)} is not a finite 32-bit number");
                        block[(long)r * width + j] = (float)d;
                    }
                }
                for (int r = 0; r < n; r++)
                {
                    var row = block.AsSpan(r * width, width);
                    stats[v].Add(row);
                    if (keep[r]) views[v].Add(row);
                }
            }
            start += n;
        }
        return new SourceTable
        {
            Path = path, Header = header, TotalRows = rows, Rows = positions.Count, Lines = null, Positions = positions.ToArray(),
            Views = views.Select(v => v.ToArray()).ToArray(), Shapes = cols.Select(c => new long[] { c.Length }).ToArray(),
            ColumnNames = colNames, Stats = stats, Labels = labels?.ToArray(), Groups = groups?.ToArray(), Ids = ids?.ToArray(),
            AllIds = allIds?.ToArray(), Agents = agents?.ToArray(), KeptMask = kept, LabelValues = labelCol >= 0 ? labelValues : null,
        };
    }

    private static readonly Type[] NumericTypes =
        [typeof(float), typeof(double), typeof(sbyte), typeof(byte), typeof(short), typeof(ushort), typeof(int), typeof(uint), typeof(long), typeof(ulong), typeof(decimal), typeof(bool)];

    private static string TypeName(Type t) => t == typeof(ReadOnlyMemory<char>) ? "text" : t.Name;

    private static bool IsNumeric(Type t) => NumericTypes.Contains(t);

    /// <summary>A numeric column of one row group as doubles; null (and NaN) become NaN.</summary>
    private static Task<double[]> Numbers(ParquetRowGroupReader rg, DataField f, int n) => f.ClrType switch
    {
        var t when t == typeof(float) => Read<float>(rg, f, n, x => x),
        var t when t == typeof(double) => Read<double>(rg, f, n, x => x),
        var t when t == typeof(sbyte) => Read<sbyte>(rg, f, n, x => x),
        var t when t == typeof(byte) => Read<byte>(rg, f, n, x => x),
        var t when t == typeof(short) => Read<short>(rg, f, n, x => x),
        var t when t == typeof(ushort) => Read<ushort>(rg, f, n, x => x),
        var t when t == typeof(int) => Read<int>(rg, f, n, x => x),
        var t when t == typeof(uint) => Read<uint>(rg, f, n, x => x),
        var t when t == typeof(long) => Read<long>(rg, f, n, x => x),
        var t when t == typeof(ulong) => Read<ulong>(rg, f, n, x => x),
        var t when t == typeof(decimal) => Read<decimal>(rg, f, n, x => (double)x),
        var t when t == typeof(bool) => Read<bool>(rg, f, n, x => x ? 1 : 0),
        _ => throw new InvalidOperationException($"not numeric: {f.ClrType}"),
    };

    private static async Task<double[]> Read<T>(ParquetRowGroupReader rg, DataField f, int n, Func<T, double> convert) where T : struct
    {
        var o = new double[n];
        if (f.IsNullable)
        {
            var b = new T?[n];
            await rg.ReadAsync<T>(f, b.AsMemory());
            for (int i = 0; i < n; i++) o[i] = b[i] is { } x ? convert(x) : double.NaN;
        }
        else
        {
            var b = new T[n];
            await rg.ReadAsync<T>(f, b.AsMemory());
            for (int i = 0; i < n; i++) o[i] = convert(b[i]);
        }
        return o;
    }

    /// <summary>A column of one row group as text (labels, groups, keys): strings as they are, numbers in invariant form
    /// (whole numbers without a decimal point, so 3.0 and 3 name the same class), null as null.</summary>
    private static async Task<string?[]> Text(string path, ParquetRowGroupReader rg, DataField f, int n)
    {
        if (f.ClrType == typeof(string) || f.ClrType == typeof(ReadOnlyMemory<char>))
        {
            var s = new string?[n];
            await rg.ReadAsync(f, s.AsMemory());
            return s;
        }
        if (!IsNumeric(f.ClrType))
            throw new ConfigException($"{path}: column '{f.Name}' holds {TypeName(f.ClrType)} values; label, group and key columns must be text or numbers");
        var x = await Numbers(rg, f, n);
        return x.Select(d => double.IsNaN(d) ? null : d == Math.Round(d) && Math.Abs(d) < 1e15
            ? ((long)d).ToString(CultureInfo.InvariantCulture) : d.ToString("R", CultureInfo.InvariantCulture)).ToArray();
    }
}
