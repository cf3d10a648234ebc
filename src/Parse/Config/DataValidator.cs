using Parse.Data;

namespace Parse.Config;

/// <summary>Checks the <c>data</c> section of the real datasets (av-mnist, multiview-csv); messages name the field.</summary>
public static class DataValidator
{
    /// <summary>Appends one message per problem to <paramref name="errors"/>.</summary>
    public static void Validate(DataConfig d, string baseDir, List<string> errors)
    {
        void Check(bool ok, string msg) { if (!ok) errors.Add(msg); }
        Check(d.MaxTrain is null or >= 1, $"data.max_train: must be >= 1 when set (got {d.MaxTrain})");
        Check(d.MaxTest is null or >= 1, $"data.max_test: must be >= 1 when set (got {d.MaxTest})");
        if (d.Name == "av-mnist")
        {
            foreach (var m in d.Modalities)
                Check(AvMnist.ModalityNames.Contains(m),
                    $"data.modalities: av-mnist provides [image, audio]; '{m}' is not one of them (e.g. modalities: [image, audio])");
            Check(d.ImageSource is "mnist" or "fashion-mnist", $"data.image_source: unknown value '{d.ImageSource}' (expected one of: mnist, fashion-mnist)");
            Check(d.NMels >= 1, $"data.n_mels: must be >= 1 (got {d.NMels})");
            Check(d.NFft is >= 16 and <= 8192, $"data.n_fft: must be in 16..8192 (got {d.NFft})");
            Check(d.NMels <= d.NFft / 2, $"data.n_mels: {d.NMels} bands need data.n_fft >= {2 * d.NMels} (got {d.NFft})");
            Check(d.Hop >= 1, $"data.hop: must be >= 1 (got {d.Hop})");
            Check(d.Frames >= 1, $"data.frames: must be >= 1 (got {d.Frames})");
            Check(d.ImageNoise >= 0 && double.IsFinite(d.ImageNoise), $"data.image_noise: must be a finite number >= 0 (got {d.ImageNoise})");
            Check(d.ImageRank is null or (>= 1 and <= 784), $"data.image_rank: must be in 1..784 when set (got {d.ImageRank})");
            return;
        }
        if (d.Name == "ts")
        {
            Check(d.Missing is "error" or "mean" or "zero", $"data.missing: unknown value '{d.Missing}' (expected one of: error, mean, zero)");
            Check(d.Train is { Length: > 0 }, "data.train: the ts data set needs the training file (.ts)");
            Check(d.Test is not null || (d.TestFraction > 0 && d.TestFraction < 1), $"data.test_fraction: must be in (0, 1) (got {d.TestFraction})");
            if (d.Channels is { } groups)
            {
                foreach (var name in groups.Keys.Where(k => !d.Modalities.Contains(k)))
                    errors.Add($"data.channels.{name}: not one of data.modalities ({string.Join(", ", d.Modalities)})");
                foreach (var (name, ch) in groups)
                {
                    Check(ch is { Count: > 0 }, $"data.modalities.{name}: the channel group is empty");
                    foreach (int c in ch ?? []) Check(c >= 0, $"data.modalities.{name}: channel {c} is out of range (indices start at 0)");
                }
            }
            return;
        }
        // multiview-csv
        string Full(string f) => Path.GetFullPath(f, Path.GetFullPath(baseDir));
        void Exists(string field, string? f) { if (f is not null && !f.Contains(Data.Tabular.AgentFiles.Placeholder) && !File.Exists(Full(f))) errors.Add($"{field}: file not found: {Full(f)}"); }
        Check(d.Missing is "error" or "mean" or "zero", $"data.missing: unknown value '{d.Missing}' (expected one of: error, mean, zero)");
        Check(d.LabelColumn.Length > 0, "data.label_column: must not be empty");
        Exists("data.file", d.File);
        Exists("data.test_file", d.TestFile);
        Check(d.TestFile is null || d.File is not null, "data.test_file: only applies with data.file (per-view files take views.NAME.test_file)");
        if (d.Views is not { Count: > 0 } views)
        {
            errors.Add("data.views: multiview-csv needs at least one view, e.g. views: { audio: { file: audio.csv } }");
            return;
        }
        var names = views.Keys.ToHashSet();
        Check(names.SetEquals(d.Modalities) && d.Modalities.Count == names.Count,
            $"data.modalities: must list exactly the view names [{string.Join(", ", views.Keys)}] (got [{string.Join(", ", d.Modalities)}])");
        bool anyTest = d.TestFile is not null || views.Values.Any(v => v.TestFile is not null);
        Check(anyTest || (d.TestFraction > 0 && d.TestFraction < 1), $"data.test_fraction: must be in (0, 1) (got {d.TestFraction})");
        foreach (var (name, v) in views)
        {
            string f = $"data.views.{name}";
            Check(name.Length > 0 && !name.Contains('+') && !name.Contains('/') && !name.Contains('|'), $"{f}: view names must not contain '+', '/' or '|'");
            Check(v.File is not null || d.File is not null, $"{f}.file: required when data.file is not set");
            Check(v.File is not null || v.Columns is { Count: > 0 } || v.ColumnRange is not null, $"{f}.columns: required for a column group of data.file");
            Check(v.Columns is null || v.Columns.Count > 0, $"{f}.columns: must not be empty");
            Check(v.Columns is null || v.Columns.Distinct().Count() == v.Columns.Count, $"{f}.columns: duplicate column names");
            Exists($"{f}.file", v.File);
            Exists($"{f}.test_file", v.TestFile);
            Check(v.TestFile is null || v.File is not null, $"{f}.test_file: only applies with {f}.file");
            // with a test file anywhere, every source needs one: own-file views their own, column groups data.test_file
            if (anyTest && v.File is not null)
                Check(v.TestFile is not null, $"{f}.test_file: required because other views (or data.test_file) have test files");
        }
        if (anyTest && views.Values.Any(v => v.File is null))
            Check(d.TestFile is not null, "data.test_file: required because views have test files and some views are column groups of data.file");
        if (d.Partition.Kind == "natural" && d.AgentColumn is null)
            Check(d.GroupColumn is not null, "data.group_column: required for data.partition.kind 'natural' with multiview-csv");
        OnboardingValidator.Validate(d, Full, anyTest, errors);
    }
}
