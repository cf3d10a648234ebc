using System.Globalization;
using Parse.Config;

namespace Parse.Data.Tabular;

/// <summary>Reads one view (or the labels) from an NPY/NPZ array: axis 0 is the sample, the other axes the per-sample shape.</summary>
internal static class ArraySource
{
    /// <summary>Reads <paramref name="q"/>: at most one view, or (without views) the labels.</summary>
    public static SourceTable Read(TableRequest q)
    {
        if (q.Views.Count > 1) throw new InvalidOperationException("one view per array");
        string? array = q.Views.Count == 1 ? q.Views[0].Array : q.LabelArray;
        var a = Npy.Load(q.Path, array);
        string what = array is null ? q.Path : $"{q.Path}[{array}]";
        int rows = checked((int)a.Shape[0]);
        if (rows == 0) throw new ConfigException($"{what}: no data rows (shape ({string.Join(", ", a.Shape)}))");
        var sampleShape = a.Shape.Length == 1 ? new long[] { 1 } : a.Shape[1..];
        int width = checked((int)sampleShape.Aggregate(1L, (x, y) => x * y));
        var keep = new bool[rows];
        int kept = 0;
        for (int r = 0; r < rows; r++) if (keep[r] = q.Keep?.Invoke(r, null, -1) ?? true) kept++;
        var positions = Enumerable.Range(0, rows).Where(r => keep[r]).ToArray();

        if (q.Views.Count == 0)
        {
            // labels: a 1-D array (or [N, 1]) of class values
            if (width != 1) throw new ConfigException($"data.label_file: {what} has shape ({string.Join(", ", a.Shape)}); labels need one value per row");
            var labels = new string[kept];
            for (int i = 0; i < kept; i++)
            {
                float x = a.Values[positions[i]];
                if (!float.IsFinite(x)) throw new ConfigException($"{what}: row {positions[i] + 1}: missing label ({x})");
                labels[i] = x.ToString(a.IsInteger || x == MathF.Round(x) ? "0" : "R", CultureInfo.InvariantCulture);
            }
            return Table(q, rows, kept, positions, [], [], [], [], labels, null);
        }

        var (view, _, _) = q.Views[0];
        var values = kept == rows ? a.Values : new float[(long)kept * width];
        var stats = new ColumnStats(width);
        for (int r = 0; r < rows; r++)
        {
            var row = a.Values.AsSpan(r * width, width);
            for (int c = 0; c < width; c++)
            {
                if (float.IsFinite(row[c])) continue;
                if (float.IsNaN(row[c]) && q.Missing != "error") continue;
                throw new ConfigException($"{what}: row {r + 1}, column {c} (flat index in the sample): " +
                                          (float.IsNaN(row[c]) ? "missing value (NaN; data.missing is 'error'; set it to 'mean' or 'zero' to fill missing values)" : $"{row[c]} is not a finite number"));
            }
            stats.Add(row);
        }
        if (kept != rows)
            for (int i = 0; i < kept; i++) a.Values.AsSpan(positions[i] * width, width).CopyTo(values.AsSpan(i * width));
        var names = Enumerable.Range(0, width).Select(c => $"{view}[{c}]").ToArray();
        return Table(q, rows, kept, positions, [values], [sampleShape], [names], [stats], null, keep);
    }

    private static SourceTable Table(TableRequest q, int total, int kept, int[] positions, float[][] views, long[][] shapes, string[][] names,
        ColumnStats[] stats, string[]? labels, bool[]? mask) => new()
    {
        Path = q.Path, Header = [], TotalRows = total, Rows = kept, Lines = null, Positions = positions, Views = views, Shapes = shapes,
        ColumnNames = names, Stats = stats, Labels = labels, KeptMask = q.Keep is null ? null : mask,
    };
}
