using System.Globalization;
using Parse.Config;

namespace Parse.Data;

/// <summary>
/// A time-series classification file in the sktime/UEA <c>.ts</c> text format, the format of every data set of the
/// UEA multivariate archive: <c>#</c> comment lines, <c>@</c> header lines (<c>@problemName</c>,
/// <c>@timeStamps</c>, <c>@missing</c>, <c>@univariate</c>, <c>@dimensions</c>, <c>@equalLength</c>,
/// <c>@seriesLength</c>, <c>@classLabel true L1 L2 ...</c>), then <c>@data</c> and one case per line: the dimensions
/// separated by <c>:</c>, each a comma-separated series, the class label last. A missing value is <c>?</c> (or
/// <c>NaN</c>) and is read as NaN. Series of one case may differ in length only when <c>@equalLength</c> is false.
/// Every problem is reported as a <see cref="ConfigException"/> naming the file and the line.
/// </summary>
public sealed class TsFile
{
    private TsFile(string path, string? problem, string[] classes, int dimensions, float[][][] series, string[] labels)
    {
        Path = path;
        Problem = problem;
        Classes = classes;
        Dimensions = dimensions;
        Series = series;
        Labels = labels;
    }

    /// <summary>The file read.</summary>
    public string Path { get; }
    /// <summary><c>@problemName</c>, if given.</summary>
    public string? Problem { get; }
    /// <summary>Class labels in the order of <c>@classLabel</c>.</summary>
    public string[] Classes { get; }
    /// <summary>Number of dimensions (channels) of every case.</summary>
    public int Dimensions { get; }
    /// <summary>Per case, per dimension, the series (NaN where missing).</summary>
    public float[][][] Series { get; }
    /// <summary>Class label of every case.</summary>
    public string[] Labels { get; }
    /// <summary>Number of cases.</summary>
    public int Count => Labels.Length;

    /// <summary>Reads a <c>.ts</c> file; malformed content throws a <see cref="ConfigException"/> naming file and line.</summary>
    public static TsFile Read(string path)
    {
        if (!File.Exists(path)) throw new ConfigException($"{path}: file not found");
        using var reader = new StreamReader(path);
        return Parse(reader, path);
    }

    /// <summary>Parses <c>.ts</c> text; <paramref name="source"/> names it in messages.</summary>
    public static TsFile Parse(TextReader reader, string source)
    {
        string? problem = null;
        string[]? classes = null;
        int? dimensions = null;
        bool univariate = false, equalLength = true, inData = false;
        int? seriesLength = null;
        var series = new List<float[][]>();
        var labels = new List<string>();
        int lineNo = 0;
        string Where() => $"{source}:{lineNo}";
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            lineNo++;
            string text = line.Trim();
            if (text.Length == 0 || text.StartsWith('#')) continue;
            if (!inData)
            {
                if (!text.StartsWith('@')) throw new ConfigException($"{Where()}: expected a header line (@...) or @data before the data, got '{Clip(text)}'");
                var parts = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                string key = parts[0].ToLowerInvariant();
                string? arg = parts.Length > 1 ? parts[1] : null;
                switch (key)
                {
                    case "@problemname": problem = arg; break;
                    case "@timestamps":
                        if (Bool(arg, key)) throw new ConfigException($"{Where()}: @timeStamps true (series of (time,value) pairs) is not supported; convert the file to plain values");
                        break;
                    case "@missing": Bool(arg, key); break;
                    case "@univariate": univariate = Bool(arg, key); break;
                    case "@dimensions": dimensions = PositiveInt(arg, key); break;
                    case "@equallength": equalLength = Bool(arg, key); break;
                    case "@serieslength": seriesLength = PositiveInt(arg, key); break;
                    case "@classlabel":
                        if (!Bool(arg, key)) throw new ConfigException($"{Where()}: @classLabel false: the file has no class labels (regression data is not supported)");
                        classes = parts.Skip(2).ToArray();
                        if (classes.Length == 0) throw new ConfigException($"{Where()}: @classLabel true must list the class labels");
                        if (classes.Distinct().Count() != classes.Length) throw new ConfigException($"{Where()}: @classLabel lists a label twice");
                        break;
                    case "@targetlabel": throw new ConfigException($"{Where()}: @targetLabel (regression) is not supported; the reader needs @classLabel");
                    case "@data":
                        if (classes is null) throw new ConfigException($"{Where()}: @data before @classLabel: the class labels must be declared in the header");
                        if (univariate) dimensions ??= 1;
                        if (univariate && dimensions != 1) throw new ConfigException($"{Where()}: @univariate true but @dimensions {dimensions}");
                        inData = true;
                        break;
                    default: break;   // other headers (e.g. @dimension names of some writers) are ignored
                }
                continue;
            }
            var fields = text.Split(':');
            int dims = dimensions ?? fields.Length - 1;
            if (dims < 1 || fields.Length != dims + 1)
                throw new ConfigException($"{Where()}: expected {dims} dimension(s) and a label separated by ':', found {fields.Length} field(s)");
            dimensions = dims;
            string label = fields[^1].Trim();
            if (!classes!.Contains(label))
                throw new ConfigException($"{Where()}: class label '{Clip(label)}' is not one of @classLabel ({string.Join(", ", classes!)})");
            var caseSeries = new float[dims][];
            for (int d = 0; d < dims; d++)
            {
                var values = fields[d].Split(',');
                var row = new float[values.Length];
                for (int t = 0; t < values.Length; t++)
                {
                    string v = values[t].Trim();
                    if (v is "?" or "NaN" or "nan") row[t] = float.NaN;
                    else if (!float.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out row[t]) || !float.IsFinite(row[t]))
                        throw new ConfigException($"{Where()}: dimension {d}, value {t + 1}: '{Clip(v)}' is not a number (missing values are '?')");
                }
                if (row.Length == 0 || (row.Length == 1 && values[0].Trim().Length == 0))
                    throw new ConfigException($"{Where()}: dimension {d} is empty");
                if (equalLength && seriesLength is { } len && row.Length != len)
                    throw new ConfigException($"{Where()}: dimension {d} has {row.Length} values but @seriesLength is {len} (@equalLength true)");
                if (equalLength && d > 0 && row.Length != caseSeries[0].Length)
                    throw new ConfigException($"{Where()}: dimension {d} has {row.Length} values but dimension 0 has {caseSeries[0].Length} (@equalLength true)");
                caseSeries[d] = row;
            }
            series.Add(caseSeries);
            labels.Add(label);
        }
        if (!inData) throw new ConfigException($"{source}: no @data line: not a .ts file");
        if (series.Count == 0) throw new ConfigException($"{source}: no cases after @data");
        return new TsFile(source, problem, classes!, dimensions!.Value, series.ToArray(), labels.ToArray());

        bool Bool(string? arg, string key) => arg?.ToLowerInvariant() switch
        {
            "true" => true,
            "false" => false,
            _ => throw new ConfigException($"{Where()}: {key} needs true or false (got '{arg}')"),
        };

        int PositiveInt(string? arg, string key) =>
            int.TryParse(arg, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n >= 1 ? n
                : throw new ConfigException($"{Where()}: {key} needs a positive integer (got '{arg}')");
    }

    private static string Clip(string s) => s.Length <= 40 ? s : s[..40] + "...";
}
