using System.Globalization;
using nietras.SeparatedValues;
using Parse.Config;

namespace Parse.Data.Tabular;

/// <summary>
/// Reads the requested columns of one CSV file in a single streaming pass (Sep): feature cells are parsed straight
/// into float arrays, and only the label, group, key and agent columns are kept as text. Quoted fields (RFC 4180),
/// any one-character separator (or detected from the header line), leading/trailing spaces trimmed, blank lines
/// skipped. Every error names the file, the line and the column.
/// </summary>
internal static class CsvSource
{
    private static readonly string[] MissingTokens = ["", "na", "nan", "null", "?", "n/a"];

    /// <summary>Parses a <c>data.separator</c> value: null for auto, else the character.</summary>
    public static char? ParseSeparator(string s) => s switch
    {
        "auto" => null,
        "comma" or "," => ',',
        "semicolon" or ";" => ';',
        "tab" or "\t" or "\\t" => '\t',
        "pipe" or "|" => '|',
        "space" or " " => ' ',
        { Length: 1 } c when c[0] is not ('"' or '\r' or '\n') => c[0],
        _ => throw new ConfigException($"data.separator: '{s}' is not a separator (expected auto, one character, or comma, semicolon, tab, pipe, space)"),
    };

    /// <summary>True if <paramref name="s"/> is one of the missing-value tokens (empty, NA, NaN, null, ?, n/a).</summary>
    public static bool IsMissing(ReadOnlySpan<char> s)
    {
        if (s.Length > 4) return false;
        foreach (var t in MissingTokens) if (s.Equals(t, StringComparison.OrdinalIgnoreCase)) return true;
        return false;
    }

    /// <summary>The header (column names) of a CSV file, or the 0-based positions as names without a header.</summary>
    public static string[] ReadHeader(string path, char? separator, bool header)
    {
        using var reader = Open(path, separator);
        foreach (var row in reader)
        {
            if (IsBlank(row)) continue;
            return header ? Names(row, path) : Enumerable.Range(0, row.ColCount).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToArray();
        }
        throw new ConfigException($"{path}: empty file ({(header ? "a header line is required" : "no rows")})");
    }

    private static SepReader Open(string path, char? separator)
    {
        if (!File.Exists(path)) throw new ConfigException($"file not found: {path}");
        var spec = separator is { } c ? Sep.New(c).Reader() : Sep.Auto.Reader();
        try
        {
            return (spec with
            {
                HasHeader = false, DisableColCountCheck = true, Unescape = true, Trim = SepTrim.All,
                CultureInfo = CultureInfo.InvariantCulture,
            }).FromFile(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException($"{path}: cannot read: {e.Message}");
        }
    }

    /// <summary>1-based first line of the row (Sep 0.17 reports 2 for the very first row).</summary>
    private static int Line(SepReader.Row row) => row.RowIndex == 0 ? 1 : row.LineNumberFrom;

    /// <summary>A hint when a header came out as one column: the separator is probably not the file's.</summary>
    internal static string SeparatorHint(string[] header, char? separator) => header.Length == 1
        ? $" (the header came out as one column: is the separator right? data.separator is '{(separator is { } s ? (s == '\t' ? "tab" : s.ToString()) : "auto")}')"
        : "";

    private static bool IsBlank(SepReader.Row row) => row.ColCount == 1 && row[0].Span.IsWhiteSpace();

    private static string[] Names(SepReader.Row row, string path)
    {
        var names = new string[row.ColCount];
        for (int i = 0; i < names.Length; i++) names[i] = row[i].ToString().Trim();
        for (int i = 0; i < names.Length; i++)
            if (names[i].Length == 0) throw new ConfigException($"{path}: line {Line(row)}, column {i + 1}: empty column name in the header");
        return names;
    }

    /// <summary>A CSV read checks <see cref="TableRequest.Cancellation"/> every this many rows (a few milliseconds of work).</summary>
    public const int CancelCheckRows = 4096;

    /// <summary>Reads <paramref name="q"/>; throws <see cref="OperationCanceledException"/> soon after <see cref="TableRequest.Cancellation"/> is cancelled.</summary>
    public static SourceTable Read(TableRequest q)
    {
        q.Cancellation.ThrowIfCancellationRequested();
        string path = q.Path;
        using var reader = Open(path, q.Separator);
        string[]? header = null;
        int[][] cols = [];
        string[][] colNames = [];
        GrowBuffer<float>[] views = [];
        ColumnStats[] stats = [];
        float[][] scratch = [];
        int labelCol = -1, groupCol = -1, idCol = -1, agentCol = -1;
        long lineHint = q.Keep is null ? Math.Max(1, EstimateLines(path) - (q.Header ? 1 : 0)) : 1024;
        var lines = new GrowBuffer<int>(lineHint);
        var positions = new GrowBuffer<int>(lineHint);
        GrowBuffer<string>? labels = null, groups = null, ids = null, allIds = null;
        GrowBuffer<int>? agents = null;
        List<bool>? kept = q.Keep is null ? null : [];
        var intern = new Dictionary<string, string>();
        var labelValues = new HashSet<string>();
        var internLookup = intern.GetAlternateLookup<ReadOnlySpan<char>>();
        int position = 0;
        string Intern(ReadOnlySpan<char> s)
        {
            if (internLookup.TryGetValue(s, out var v)) return v;
            string str = s.ToString();
            intern[str] = str;
            return str;
        }

        int sinceCheck = 0;
        foreach (var row in reader)
        {
            if (++sinceCheck == CancelCheckRows) { sinceCheck = 0; q.Cancellation.ThrowIfCancellationRequested(); }
            if (IsBlank(row)) continue;
            if (header is null)
            {
                if (q.Header) header = Names(row, path);
                else header = Enumerable.Range(0, row.ColCount).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToArray();
                (cols, colNames) = Resolve(q, header, $"line {Line(row)}");
                views = cols.Select(c => new GrowBuffer<float>(lineHint * Math.Max(1, c.Length))).ToArray();
                stats = cols.Select(c => new ColumnStats(c.Length)).ToArray();
                scratch = cols.Select(c => new float[c.Length]).ToArray();
                labelCol = q.Label is null ? -1 : Array.IndexOf(header, q.Label);
                if (q.LabelRequired && labelCol < 0)
                    throw new ConfigException($"data.label_column: column '{q.Label}' not found in {path} (columns: {Preview(header)}){SeparatorHint(header, q.Separator)}");
                groupCol = q.Group is null ? -1 : Array.IndexOf(header, q.Group);
                if (q.Id is not null && (idCol = Array.IndexOf(header, q.Id)) < 0)
                    throw new ConfigException($"data.id_column: column '{q.Id}' not found in {path} (columns: {Preview(header)})");
                if (q.Agent is not null && (agentCol = Array.IndexOf(header, q.Agent)) < 0)
                    throw new ConfigException($"data.agent_column: column '{q.Agent}' not found in {path}, the file that holds the labels (columns: {Preview(header)})");
                if (labelCol >= 0) labels = new GrowBuffer<string>(lineHint);
                if (groupCol >= 0) groups = new GrowBuffer<string>(lineHint);
                if (idCol >= 0) { ids = new GrowBuffer<string>(lineHint); allIds = new GrowBuffer<string>(lineHint); }
                if (agentCol >= 0) agents = new GrowBuffer<int>(lineHint);
                if (q.Header) continue;
            }
            int line = Line(row);
            if (row.ColCount != header.Length)
                throw new ConfigException($"{path}: row {position + 1} (line {line}) has {row.ColCount} fields but the header has {header.Length}" +
                                          (row.ColCount == 1 && header.Length > 1 ? $" (is the separator right? data.separator is '{(q.Separator is { } s ? s.ToString() : "auto")}')" : ""));
            string? id = null;
            if (idCol >= 0)
            {
                id = row[idCol].ToString();
                if (id.Length == 0) throw new ConfigException($"{path}: row {position + 1} (line {line}), column '{header[idCol]}': empty key (data.id_column)");
                allIds!.Add(id);
            }
            int agent = -1;
            if (agentCol >= 0 && !int.TryParse(row[agentCol].Span, NumberStyles.Integer, CultureInfo.InvariantCulture, out agent))
                throw new ConfigException($"{path}: row {position + 1} (line {line}), column '{header[agentCol]}': '{row[agentCol].ToString()}' is not an agent id " +
                                          "(data.agent_column holds 0-based agent numbers)");
            if (agentCol >= 0 && (agent < 0 || agent >= q.AgentCount))
                throw new ConfigException($"{path}: row {position + 1} (line {line}), column '{header[agentCol]}': agent {agent} does not exist " +
                                          $"(the experiment has {q.AgentCount} agents, 0..{q.AgentCount - 1})");
            bool keep = q.Keep?.Invoke(position, id, agent) ?? true;
            if (labelCol >= 0 && !keep) labelValues.Add(Intern(row[labelCol].Span));
            kept?.Add(keep);
            for (int v = 0; v < cols.Length; v++)
            {
                var buf = scratch[v];
                var c = cols[v];
                for (int j = 0; j < c.Length; j++)
                {
                    var col = row[c[j]];
                    var span = col.Span;
                    // Sep's fast parser reads "1,5" as 15 (thousands separator): never accept a comma in a number
                    if (span.IndexOf(',') < 0 && col.TryParse(out float x) && float.IsFinite(x)) { buf[j] = x; continue; }
                    if (IsMissing(span))
                    {
                        if (q.Missing == "error")
                            throw new ConfigException($"{path}: row {position + 1} (line {line}), column '{header[c[j]]}': missing value " +
                                                      "(data.missing is 'error'; set it to 'mean' or 'zero' to fill missing values)");
                        buf[j] = float.NaN;
                        continue;
                    }
                    throw new ConfigException($"{path}: row {position + 1} (line {line}), column '{header[c[j]]}': '{span.ToString()}' is not a number");
                }
                stats[v].Add(buf);
                if (keep) views[v].Add(buf);
            }
            if (keep)
            {
                lines.Add(line);
                positions.Add(position);
                if (labelCol >= 0)
                {
                    var l = row[labelCol].Span;
                    if (l.IsEmpty) throw new ConfigException($"{path}: row {position + 1} (line {line}), column '{header[labelCol]}': missing label");
                    string label = Intern(l);
                    labels!.Add(label);
                    labelValues.Add(label);
                }
                if (groupCol >= 0) groups!.Add(Intern(row[groupCol].Span));
                if (idCol >= 0) ids!.Add(id!);
                if (agentCol >= 0) agents!.Add(agent);
            }
            position++;
        }
        if (header is null) throw new ConfigException($"{path}: empty file ({(q.Header ? "a header line is required" : "no rows")})");
        if (position == 0) throw new ConfigException($"{path}: no data rows");
        return new SourceTable
        {
            Path = path, Header = header, TotalRows = position, Rows = lines.Count, Lines = lines.ToArray(), Positions = positions.ToArray(),
            Views = views.Select(v => v.ToArray()).ToArray(), Shapes = cols.Select(c => new long[] { c.Length }).ToArray(),
            ColumnNames = colNames, Stats = stats, Labels = labels?.ToArray(), Groups = groups?.ToArray(), Ids = ids?.ToArray(),
            AllIds = allIds?.ToArray(), Agents = agents?.ToArray(), KeptMask = kept?.ToArray(),
            LabelValues = labelCol >= 0 ? labelValues : null,
        };
    }

    internal static string Preview(string[] header) =>
        header.Length <= 12 ? string.Join(", ", header) : string.Join(", ", header.Take(12)) + $", ... ({header.Length} in all)";

    /// <summary>
    /// Column indices of every requested view. A header that repeats a name is refused when the name is used (as a
    /// feature by name, by default, or as a label/group/key/agent column); views that select columns by position
    /// (<c>column_range</c>) may read such files.
    /// </summary>
    internal static (int[][] Cols, string[][] Names) Resolve(TableRequest q, string[] header, string headerWhere)
    {
        var cols = new int[q.Views.Count][];
        var names = new string[q.Views.Count][];
        var first = new Dictionary<string, int>();
        var dups = new Dictionary<string, (int A, int B)>();
        for (int i = 0; i < header.Length; i++)
            if (!first.TryAdd(header[i], i)) dups.TryAdd(header[i], (first[header[i]], i));
        void Refuse(string name) => throw new ConfigException(
            $"{q.Path}: {headerWhere}: duplicate column '{name}' in the header (columns {dups[name].A + 1} and {dups[name].B + 1}); " +
            "rename one, or select the features by position (views.NAME.column_range)");
        foreach (var k in new[] { q.Label, q.Group, q.Id, q.Agent })
            if (k is not null && dups.ContainsKey(k)) Refuse(k);
        for (int v = 0; v < q.Views.Count; v++)
        {
            var (view, columns, _) = q.Views[v];
            var range = v < q.Ranges.Count ? q.Ranges[v] : null;
            if (range is [int lo, int hi])
            {
                if (lo < 0 || hi < lo || hi >= header.Length)
                    throw new ConfigException($"data.views.{view}.column_range: [{lo}, {hi}] is outside the {header.Length} columns (0..{header.Length - 1}) of {q.Path}");
                cols[v] = Enumerable.Range(lo, hi - lo + 1).ToArray();
                names[v] = cols[v].Select(i => $"{header[i]} (column {i + 1})").ToArray();
                continue;
            }
            if (columns is not null)
                foreach (var c in columns) if (dups.ContainsKey(c)) Refuse(c);
            if (columns is not null)
                cols[v] = columns.Select(c => Array.IndexOf(header, c) is var i and >= 0 ? i
                    : throw new ConfigException($"data.views.{view}.columns: unknown column '{c}' in {q.Path} (columns: {Preview(header)}){SeparatorHint(header, q.Separator)}")).ToArray();
            else
            {
                cols[v] = Enumerable.Range(0, header.Length).Where(i => !q.KeyColumns.Contains(header[i])).ToArray();
                foreach (int i in cols[v]) if (dups.ContainsKey(header[i])) Refuse(header[i]);
                if (cols[v].Length == 0) throw new ConfigException($"data.views.{view}: {q.Path} has no feature columns besides the label/group/id/agent columns");
            }
            names[v] = cols[v].Select(i => header[i]).ToArray();
        }
        return (cols, names);
    }

    /// <summary>Number of lines in the file (exact for files without blank lines or line breaks inside quotes), counted in one fast pass.</summary>
    private static long EstimateLines(string path)
    {
        try
        {
            using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
            var buf = new byte[1 << 20];
            long n = 0;
            int read;
            byte last = (byte)'\n';
            while ((read = f.Read(buf, 0, buf.Length)) > 0)
            {
                n += buf.AsSpan(0, read).Count((byte)'\n');
                last = buf[read - 1];
            }
            return last == (byte)'\n' ? n : n + 1;
        }
        catch (IOException) { return 1024; }
    }
}
