namespace Parse.Data.Tabular;

/// <summary>Running per-column statistics of the values read (all rows, kept or not), for standardization and checks.</summary>
internal sealed class ColumnStats(int columns)
{
    /// <summary>Sum of the non-missing values per column.</summary>
    public double[] Sum { get; } = new double[columns];
    /// <summary>Sum of squares of the non-missing values per column.</summary>
    public double[] SumSq { get; } = new double[columns];
    /// <summary>Number of non-missing values per column.</summary>
    public long[] Count { get; } = new long[columns];

    /// <summary>Adds one row of values (NaN = missing).</summary>
    public void Add(ReadOnlySpan<float> row)
    {
        for (int c = 0; c < row.Length; c++)
        {
            float x = row[c];
            if (float.IsNaN(x)) continue;
            Sum[c] += x;
            SumSq[c] += (double)x * x;
            Count[c]++;
        }
    }
}

/// <summary>What to take from one source file: views (feature columns) and the key columns.</summary>
/// <param name="Path">Full path of the file.</param>
internal sealed record TableRequest(string Path)
{
    /// <summary>Views read from this file: name, explicit feature columns (null = every column that is not a key column), NPZ array.</summary>
    public List<(string Name, List<string>? Columns, string? Array)> Views { get; init; } = [];
    /// <summary>Per view (same order as <see cref="Views"/>): positional column range [first, last], or null.</summary>
    public List<List<int>?> Ranges { get; init; } = [];
    /// <summary>Column names that are never features by default (label, group, id, agent).</summary>
    public HashSet<string> KeyColumns { get; init; } = [];
    /// <summary>Label column to read when present (null: none).</summary>
    public string? Label { get; init; }
    /// <summary>Label column must be present (label file, or the file chosen as the label source).</summary>
    public bool LabelRequired { get; init; }
    /// <summary>Group column to read when present.</summary>
    public string? Group { get; init; }
    /// <summary>Key column for joins (required in every CSV file when set).</summary>
    public string? Id { get; init; }
    /// <summary>Agent column to read (required when set).</summary>
    public string? Agent { get; init; }
    /// <summary>Number of agents: agent ids outside 0..AgentCount-1 are refused.</summary>
    public int AgentCount { get; init; }
    /// <summary>Missing-value policy: error, mean or zero.</summary>
    public string Missing { get; init; } = "error";
    /// <summary>Keep a data row? Arguments: 0-based position among data rows, its key (or null), its agent (or -1). Null keeps all.</summary>
    public Func<int, string?, int, bool>? Keep { get; init; }
    /// <summary>Separator option (auto or one character).</summary>
    public char? Separator { get; init; }
    /// <summary>Stops a long read (Ctrl-C, SIGTERM): checked every <see cref="CsvSource.CancelCheckRows"/> rows.</summary>
    public CancellationToken Cancellation { get; init; }
    /// <summary>The file has a header line.</summary>
    public bool Header { get; init; } = true;
    /// <summary>NPZ array name for a label file.</summary>
    public string? LabelArray { get; init; }
}

/// <summary>One source file read: the kept rows' view values (row-major), labels and keys, and where each row came from.</summary>
internal sealed class SourceTable
{
    /// <summary>Full path, used in messages.</summary>
    public required string Path { get; init; }
    /// <summary>Column names (CSV) or empty (NPY).</summary>
    public required string[] Header { get; init; }
    /// <summary>Data rows in the file (kept or not).</summary>
    public required int TotalRows { get; init; }
    /// <summary>Kept rows.</summary>
    public required int Rows { get; init; }
    /// <summary>1-based line of each kept row (CSV), or null (arrays: rows are named by index).</summary>
    public int[]? Lines { get; init; }
    /// <summary>0-based position of each kept row among the file's data rows.</summary>
    public required int[] Positions { get; init; }
    /// <summary>Values per requested view, row-major [Rows x width].</summary>
    public required float[][] Views { get; init; }
    /// <summary>Per-sample shape per requested view (CSV: [columns]; NPY: trailing dimensions).</summary>
    public required long[][] Shapes { get; init; }
    /// <summary>Column names per requested view (CSV), for messages.</summary>
    public required string[][] ColumnNames { get; init; }
    /// <summary>Statistics per requested view over every data row (kept or not).</summary>
    public required ColumnStats[] Stats { get; init; }
    /// <summary>Labels of the kept rows (interned), when the file has the label column.</summary>
    public string[]? Labels { get; init; }
    /// <summary>Distinct labels over every data row (kept or not), when the file has the label column.</summary>
    public IReadOnlySet<string>? LabelValues { get; init; }
    /// <summary>Groups of the kept rows, when the file has the group column.</summary>
    public string[]? Groups { get; init; }
    /// <summary>Keys of the kept rows, when an id column is used.</summary>
    public string[]? Ids { get; init; }
    /// <summary>All keys of the file (kept or not), when an id column is used.</summary>
    public string[]? AllIds { get; init; }
    /// <summary>Agent of each kept row, when an agent column is used.</summary>
    public int[]? Agents { get; init; }
    /// <summary>Which data rows were kept (by position), when a filter was applied.</summary>
    public bool[]? KeptMask { get; init; }

    /// <summary>"PATH: row R (line L)" for kept row <paramref name="row"/>.</summary>
    public string Where(int row) => Lines is null ? $"{Path}: row {Positions[row] + 1}" : $"{Path}: row {Positions[row] + 1} (line {Lines[row]})";
}
