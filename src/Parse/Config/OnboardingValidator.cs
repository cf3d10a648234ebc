using Parse.Data.Tabular;

namespace Parse.Config;

/// <summary>Checks of the <c>data.partition</c> section beyond its kind and alpha.</summary>
public static class PartitionValidator
{
    /// <summary>Appends one message per problem to <paramref name="errors"/>.</summary>
    public static void Validate(PartitionConfig p, List<string> errors)
    {
        if (p.MinPartitionSize < 1) errors.Add($"data.partition.min_partition_size: must be >= 1 (got {p.MinPartitionSize})");
        if (p.MaxResamples < 0) errors.Add($"data.partition.max_resamples: must be >= 0 (got {p.MaxResamples})");
    }
}

/// <summary>Checks of the multiview-csv "bring your own data" keys (formats, label file, id and agent columns, shapes).</summary>
internal static class OnboardingValidator
{
    /// <summary>Appends one message per problem to <paramref name="errors"/>.</summary>
    public static void Validate(DataConfig d, Func<string, string> full, bool anyTest, List<string> errors)
    {
        void Check(bool ok, string msg) { if (!ok) errors.Add(msg); }
        try { CsvSource.ParseSeparator(d.Separator); }
        catch (ConfigException e) { errors.Add(e.Message); }
        foreach (var (field, f) in new[] { ("data.label_file", d.LabelFile), ("data.test_label_file", d.TestLabelFile) })
            if (f is not null && !f.Contains(AgentFiles.Placeholder) && !File.Exists(full(f))) errors.Add($"{field}: file not found: {full(f)}");
        Check(d.TestLabelFile is null || d.LabelFile is not null, "data.test_label_file: only applies with data.label_file");
        if (d.LabelFile is not null && anyTest)
            Check(d.TestLabelFile is not null, "data.test_label_file: required because data.label_file holds the training labels and the test rows come from test files");
        Check(d.LabelArray is null || d.LabelFile is not null && d.LabelFile.EndsWith(".npz", StringComparison.OrdinalIgnoreCase),
            "data.label_array: only applies to an .npz data.label_file");

        var keys = new (string Key, string? Column)[]
        {
            ("data.label_column", d.LabelColumn), ("data.id_column", d.IdColumn), ("data.agent_column", d.AgentColumn), ("data.group_column", d.GroupColumn),
        };
        foreach (var (name, v) in d.Views ?? [])
        {
            string f = $"data.views.{name}";
            foreach (var (key, col) in keys)
                if (col is not null && v.Columns?.Contains(col) == true)
                    errors.Add(key == "data.label_column"
                        ? $"{f}.columns: '{col}' is the label column (data.label_column); a feature must not be the label (label leakage)"
                        : $"{f}.columns: '{col}' is {key}; it cannot also be a feature");
            bool array = v.File is not null && Npy.IsArrayFile(v.File);
            Check(v.ColumnRange is null || v.ColumnRange is [>= 0, var hi] && hi >= v.ColumnRange[0],
                $"{f}.column_range: must be [first, last], 0-based positions with first <= last (got [{string.Join(", ", v.ColumnRange ?? [])}])");
            Check(v.ColumnRange is null || v.Columns is null, $"{f}: set columns or column_range, not both");
            Check(v.ColumnRange is null || !array, $"{f}.column_range: {v.File} is an array file; its features are the array's trailing dimensions");
            Check(!array || v.Columns is null, $"{f}.columns: {v.File} is an array file; its features are the array's trailing dimensions (drop columns)");
            Check(v.Array is null || v.File?.EndsWith(".npz", StringComparison.OrdinalIgnoreCase) == true, $"{f}.array: only applies to an .npz view file");
            Check(v.Shape is null || v.Shape.Count > 0 && v.Shape.All(x => x >= 1), $"{f}.shape: every dimension must be >= 1 (got [{string.Join(", ", v.Shape ?? [])}])");
            if (v.TestFile is not null) Check(Npy.IsArrayFile(v.TestFile) == array, $"{f}.test_file: must have the same format as {f}.file");
        }
        Check(d.File is null || !Npy.IsArrayFile(d.File), "data.file: must be a CSV file (array files are per view: views.NAME.file)");
        if (d.AgentColumn is { } ac)
        {
            Check(ac != d.LabelColumn, "data.agent_column: must not be the label column");
            Check(anyTest, "data.agent_column: needs test files (data.test_file or views.NAME.test_file); every training row belongs to an agent");
            Check(d.MaxTrain is null, "data.max_train: does not apply with data.agent_column (each agent keeps all its rows)");
            Check(d.Partition.Kind == "iid", $"data.partition.kind: '{d.Partition.Kind}' does not apply with data.agent_column (the column is the partition)");
            Check(d.LabelFile is null || !Npy.IsArrayFile(d.LabelFile), "data.agent_column: must be a column of the label source; an array label file has no columns");
        }
        AgentFiles.Validate(d, anyTest, errors);
        if (d.IdColumn is { } id)
            Check(id != d.LabelColumn, "data.id_column: must not be the label column");
    }
}
