using Parse.Config;
using Parse.Util;
using TorchSharp;
using static TorchSharp.torch;

namespace Parse.Data;

/// <summary>
/// <c>data.name: ts</c>: a multivariate time-series classification data set in the sktime/UEA <c>.ts</c> format
/// (<see cref="TsFile"/>), with groups of channels as modalities: <c>data.modalities: {acc: [0,1,2], gyro: [3,4,5]}</c>
/// (0-based dimension indices; a plain list with one name takes every channel). Each modality's per-sample input is
/// frames [T, channels of the group]. Every channel is standardized with the training mean and std over all cases and
/// steps; missing values follow <c>data.missing</c> (error, mean: the channel mean, zero: the raw value 0); series
/// shorter than the longest training series are padded with the channel mean, longer ones cut. The test set is
/// <c>data.test</c>, else a seed-derived <c>data.test_fraction</c> of the training file.
/// </summary>
public static class TsDataset
{
    /// <summary>What to fetch, and from where, for the BasicMotions benchmark when its files are missing.</summary>
    public const string BasicMotionsSource =
        "BasicMotions is in none of the package registries the project can reach (NuGet, npm, Debian); get BasicMotions_TRAIN.ts and " +
        "BasicMotions_TEST.ts from the sktime repository (github.com/sktime/sktime, path sktime/datasets/data/BasicMotions/, BSD-3-Clause) " +
        "or the UEA & UCR time series classification archive, and put them in ../shared/datasets/basicmotions/ beside the repository " +
        "(or point data.train / data.test at them)";

    /// <summary>Loads the data set of <paramref name="cfg"/>; relative paths resolve against <paramref name="baseDir"/>.</summary>
    public static DatasetBundle Load(DataConfig cfg, string baseDir, int seed)
    {
        string trainPath = Resolve(cfg.Train ?? throw new ConfigException("data.train: the ts data set needs the training file (.ts)"), baseDir, "data.train");
        string? testPath = cfg.Test is null ? null : Resolve(cfg.Test, baseDir, "data.test");
        var train = TsFile.Read(trainPath);
        var test = testPath is null ? null : TsFile.Read(testPath);
        if (test is not null)
        {
            if (test.Dimensions != train.Dimensions)
                throw new ConfigException($"data.test: {test.Path} has {test.Dimensions} dimensions but {train.Path} has {train.Dimensions}");
            foreach (var l in test.Classes.Where(c => !train.Classes.Contains(c)))
                throw new ConfigException($"data.test: class '{l}' of {test.Path} is not a class of {train.Path} ({string.Join(", ", train.Classes)})");
        }
        var groups = Groups(cfg, train);
        int length = train.Series.Max(c => c.Max(d => d.Length));

        // per-channel statistics of the training file (missing values left out)
        var mean = new double[train.Dimensions];
        var std = new double[train.Dimensions];
        for (int d = 0; d < train.Dimensions; d++)
        {
            double sum = 0, sq = 0;
            long n = 0;
            foreach (var c in train.Series)
                foreach (float v in c[d])
                    if (!float.IsNaN(v)) { sum += v; sq += (double)v * v; n++; }
            mean[d] = n == 0 ? 0 : sum / n;
            double var = n == 0 ? 0 : sq / n - mean[d] * mean[d];
            std[d] = var > 1e-12 ? Math.Sqrt(var) : 1;
        }

        int[] trainRows = Enumerable.Range(0, train.Count).ToArray(), testRows;
        TsFile testFile;
        if (test is null)
        {
            if (cfg.TestFraction is <= 0 or >= 1) throw new ConfigException($"data.test_fraction: must be in (0, 1) (got {cfg.TestFraction})");
            var order = Enumerable.Range(0, train.Count).ToArray();
            new Random(Seeds.Derive(seed, "ts-test")).Shuffle(order);
            int k = Math.Clamp((int)Math.Round(cfg.TestFraction * train.Count), 1, train.Count - 1);
            testRows = order[..k].Order().ToArray();
            trainRows = order[k..].Order().ToArray();
            testFile = train;
        }
        else
        {
            testRows = Enumerable.Range(0, test.Count).ToArray();
            testFile = test;
        }

        MultimodalData Build(TsFile file, int[] rows)
        {
            var views = new Dictionary<string, Tensor>();
            foreach (var (name, channels) in groups)
            {
                var buf = new float[rows.Length * length * channels.Count];
                for (int r = 0; r < rows.Length; r++)
                    for (int j = 0; j < channels.Count; j++)
                    {
                        int d = channels[j];
                        var s = file.Series[rows[r]][d];
                        for (int t = 0; t < Math.Min(length, s.Length); t++)
                        {
                            float v = s[t];
                            if (float.IsNaN(v))
                                v = cfg.Missing switch
                                {
                                    "mean" => (float)mean[d],
                                    "zero" => 0f,
                                    _ => throw new ConfigException(
                                        $"{file.Path}: case {rows[r] + 1}, dimension {d}, step {t + 1} is missing ('?'); set data.missing to mean or zero to fill missing values"),
                                };
                            buf[(r * length + t) * channels.Count + j] = (float)((v - mean[d]) / std[d]);
                        }
                        // shorter series: the rest stays 0 (= the channel mean after standardization)
                    }
                views[name] = torch.tensor(buf, [rows.Length, length, channels.Count]);
            }
            var labels = rows.Select(r => Array.IndexOf(train.Classes, file.Labels[r])).ToArray();
            return new MultimodalData(views, labels, train.Classes.Length);
        }

        var trainData = Build(train, trainRows);
        try
        {
            var testData = Build(testFile, testRows);
            return new DatasetBundle
            {
                Train = trainData,
                Test = testData,
                Modalities = groups.Select(g => new ModalitySpec(g.Key, [length, g.Value.Count])).ToList(),
            };
        }
        catch
        {
            trainData.Dispose();
            throw;
        }
    }

    /// <summary>Channel groups by modality, in <c>data.modalities</c> order; indices checked against the file.</summary>
    private static List<KeyValuePair<string, List<int>>> Groups(DataConfig cfg, TsFile train)
    {
        var result = new List<KeyValuePair<string, List<int>>>();
        if (cfg.Channels is null)
        {
            if (cfg.Modalities.Count != 1)
                throw new ConfigException($"data.modalities: the ts data set needs channel groups, e.g. modalities: {{ acc: [0,1,2], gyro: [3,4,5] }} " +
                                          $"({train.Path} has {train.Dimensions} dimensions, 0..{train.Dimensions - 1}); a plain list may name one modality only");
            result.Add(new(cfg.Modalities[0], Enumerable.Range(0, train.Dimensions).ToList()));
            return result;
        }
        foreach (var name in cfg.Modalities)
        {
            if (!cfg.Channels.TryGetValue(name, out var channels))
                throw new ConfigException($"data.modalities.{name}: no channel group for modality '{name}'");
            if (channels.Count == 0) throw new ConfigException($"data.modalities.{name}: the channel group is empty");
            foreach (int c in channels)
                if (c < 0 || c >= train.Dimensions)
                    throw new ConfigException($"data.modalities.{name}: channel {c} is out of range: {train.Path} has {train.Dimensions} dimensions (0..{train.Dimensions - 1})");
            if (channels.Distinct().Count() != channels.Count) throw new ConfigException($"data.modalities.{name}: a channel is listed twice");
            result.Add(new(name, channels));
        }
        return result;
    }

    private static string Resolve(string file, string baseDir, string field)
    {
        string full = Path.GetFullPath(file, Path.GetFullPath(baseDir));
        if (File.Exists(full)) return full;
        string hint = Path.GetFileName(full).StartsWith("BasicMotions", StringComparison.OrdinalIgnoreCase) ? "; " + BasicMotionsSource : "";
        throw new ConfigException($"{field}: file not found: {full}{hint}");
    }
}
