namespace Parse.Config;

// Keys of "bring your own data" (multiview-csv): file formats, separate labels, joins by key, per-agent rows.
// See docs/configuration-data.md.

public sealed partial record DataConfig
{
    /// <summary>multiview-csv: field separator of the CSV files: <c>auto</c> (from the header line), or one character
    /// (<c>","</c>, <c>";"</c>, <c>"\t"</c>, <c>"|"</c>, <c>" "</c>) or its name (comma, semicolon, tab, pipe, space).</summary>
    public string Separator { get; init; } = "auto";
    /// <summary>multiview-csv: the CSV files start with a header line; when false, columns are named by 0-based position.</summary>
    public bool Header { get; init; } = true;
    /// <summary>multiview-csv: labels in their own file (CSV with <see cref="LabelColumn"/>, NPY, or NPZ), rows matched by
    /// position with the view files, or by <see cref="IdColumn"/>.</summary>
    public string? LabelFile { get; init; }
    /// <summary>multiview-csv: labels of the test rows when <see cref="LabelFile"/> is used with test files.</summary>
    public string? TestLabelFile { get; init; }
    /// <summary>multiview-csv: array name inside an NPZ label file (default: its only array).</summary>
    public string? LabelArray { get; init; }
    /// <summary>multiview-csv: key column present in every CSV file; rows are joined by key instead of by position.</summary>
    public string? IdColumn { get; init; }
    /// <summary>multiview-csv: column (in the file holding the labels) giving each training row's agent id (0-based).
    /// The partition is then this column (data.partition is not used), and a cluster node keeps only its own agents' rows.</summary>
    public string? AgentColumn { get; init; }
}

public sealed partial record ViewConfig
{
    /// <summary>Per-sample shape of the view, e.g. [1, 28, 28] (images, encoder cnn2d) or [48, 32] (frames x features,
    /// cnn1d); the product must equal the number of columns. Default: a flat vector (CSV) or the array's trailing dimensions (NPY).</summary>
    public List<long>? Shape { get; init; }
    /// <summary>Feature columns by position instead of by name: [first, last], 0-based, inclusive (e.g. files whose
    /// header repeats a name). Not together with <see cref="Columns"/>.</summary>
    public List<int>? ColumnRange { get; init; }
    /// <summary>Array name inside an NPZ view file (default: its only array).</summary>
    public string? Array { get; init; }
}

public sealed partial record PartitionConfig
{
    /// <summary>dirichlet: smallest number of training samples an agent may receive; the draw is repeated (at most
    /// <see cref="MaxResamples"/> times) until every agent has at least this many.</summary>
    public int MinPartitionSize { get; init; } = 1;
    /// <summary>dirichlet: how many times the proportions are redrawn before giving up with an error.</summary>
    public int MaxResamples { get; init; } = 100;
}
