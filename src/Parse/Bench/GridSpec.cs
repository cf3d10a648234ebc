using System.Text.Json.Nodes;
using Parse.Config;

namespace Parse.Bench;

/// <summary>One value of a grid axis: a display name and the config overrides it applies.</summary>
public sealed record AxisValue(string Name, IReadOnlyList<string> Overrides);

/// <summary>A grid axis: a config path with a list of values, or named bundles of overrides.</summary>
public sealed record Axis(string Name, IReadOnlyList<AxisValue> Values);

/// <summary>One cell of the grid: its coordinates and the overrides that produce its config.</summary>
public sealed record GridCell(IReadOnlyList<(string Axis, string Value)> Coordinates, IReadOnlyList<string> Overrides)
{
    /// <summary>Directory-safe identifier, stable across runs (used to resume).</summary>
    public string Id => string.Join("__", Coordinates.Select(c => Safe(c.Axis) + "=" + Safe(c.Value)));

    private static string Safe(string s) => new(s.Select(ch => char.IsLetterOrDigit(ch) || ch is '-' or '_' or '.' or '+' ? ch : '_').ToArray());

    public string Get(string axis) => Coordinates.First(c => c.Axis == axis).Value;
}

/// <summary>
/// A benchmark grid file:
/// <code>
/// name: main
/// base: ../configs/quickstart.yaml      # experiment file, relative to the grid file
/// set: [rounds=60]                      # overrides applied to every cell
/// axes:
///   method:                             # named bundles of overrides
///     parse: { strategy: parse }
///     dsgd-task: { strategy: dsgd-task, model.fission: false }
///   topology.kind: [ring, random-gossip]  # a config path with values
///   seed: [1, 2, 3]
/// baseline: { axis: method, value: local }   # reference for per-agent gains (optional)
/// </code>
/// </summary>
public sealed class GridSpec
{
    public required string Name { get; init; }
    public required string BasePath { get; init; }
    public required IReadOnlyList<string> Set { get; init; }
    public required IReadOnlyList<Axis> Axes { get; init; }
    public (string Axis, string Value)? Baseline { get; init; }
    public string SeedAxis => Axes.Any(a => a.Name == "seed") ? "seed" : "";

    public static GridSpec Load(string path)
    {
        if (!File.Exists(path)) throw new ConfigException($"grid file not found: {path}");
        JsonObject root;
        try { root = ConfigLoader.ParseYaml(File.ReadAllText(path)) as JsonObject ?? throw new ConfigException($"{path}: expected a mapping"); }
        catch (YamlDotNet.Core.YamlException e) { throw new ConfigException($"{path}: invalid YAML at line {e.Start.Line}: {e.Message}"); }
        foreach (var (k, _) in root)
            if (k is not ("name" or "base" or "set" or "axes" or "baseline"))
                throw new ConfigException($"{path}: unknown grid key '{k}' (expected name, base, set, axes, baseline)");
        string dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        string basePath = root["base"]?.GetValue<string>() ?? throw new ConfigException($"{path}: 'base' (the experiment file) is required");
        basePath = Path.IsPathRooted(basePath) ? basePath : Path.GetFullPath(Path.Combine(dir, basePath));
        if (!File.Exists(basePath)) throw new ConfigException($"{path}: base experiment file not found: {basePath}");
        var set = (root["set"] as JsonArray)?.Select(n => n!.ToString()).ToList() ?? [];
        var axes = new List<Axis>();
        if (root["axes"] is not JsonObject axesNode || axesNode.Count == 0) throw new ConfigException($"{path}: 'axes' must map at least one axis");
        foreach (var (name, node) in axesNode)
        {
            var values = new List<AxisValue>();
            switch (node)
            {
                case JsonArray list:
                    foreach (var v in list) values.Add(new AxisValue(Scalar(v), [$"{name}={Scalar(v)}"]));
                    break;
                case JsonObject bundles:
                    foreach (var (vname, b) in bundles)
                    {
                        if (b is not JsonObject o) throw new ConfigException($"{path}: axes.{name}.{vname} must be a mapping of config paths to values");
                        values.Add(new AxisValue(vname, o.Select(kv => $"{kv.Key}={Scalar(kv.Value)}").ToList()));
                    }
                    break;
                default:
                    throw new ConfigException($"{path}: axes.{name} must be a list of values or a mapping of named override bundles");
            }
            if (values.Count == 0) throw new ConfigException($"{path}: axes.{name} has no values");
            if (values.GroupBy(v => v.Name).FirstOrDefault(g => g.Count() > 1) is { } twice)
                throw new ConfigException($"{path}: axes.{name} lists the value '{twice.Key}' {twice.Count()} times; each cell must be distinct (a repeated seed would be counted as another run)");
            axes.Add(new Axis(name, values));
        }
        (string, string)? baseline = null;
        if (root["baseline"] is JsonObject bl)
            baseline = (bl["axis"]?.ToString() ?? throw new ConfigException($"{path}: baseline.axis is required"),
                        bl["value"]?.ToString() ?? throw new ConfigException($"{path}: baseline.value is required"));
        else if (root["baseline"] is JsonValue named)
        {
            // "baseline: local": the value of that name on the one axis that has it
            string v = named.ToString();
            var holders = axes.Where(a => a.Name != "seed" && a.Values.Any(x => x.Name == v)).ToList();
            if (holders.Count != 1)
                throw new ConfigException($"{path}: baseline '{v}' must name a value of exactly one axis (found on {holders.Count}); " +
                                          "or write baseline: {{ axis: AXIS, value: VALUE }}");
            baseline = (holders[0].Name, v);
        }
        else
            foreach (var a in axes)
                foreach (var v in a.Values)
                    if (v.Overrides.Contains("strategy=local")) baseline ??= (a.Name, v.Name);
        if (baseline is { } b2 && !axes.Any(a => a.Name == b2.Item1 && a.Values.Any(v => v.Name == b2.Item2)))
            throw new ConfigException($"{path}: baseline {b2.Item1}={b2.Item2} is not a value of the grid");
        var grid = new GridSpec
        {
            Name = root["name"]?.ToString() ?? Path.GetFileNameWithoutExtension(path),
            BasePath = basePath, Set = set, Axes = axes, Baseline = baseline,
        };
        // cells are stored in folders named after their coordinates with unsafe characters replaced: two values that
        // differ only there would write into the same folder and overwrite each other's results
        if (grid.Cells().GroupBy(c => c.Id).FirstOrDefault(g => g.Count() > 1) is { } clash)
            throw new ConfigException($"{path}: the cells {string.Join(" and ", clash.Select(c => "'" + string.Join(", ", c.Coordinates.Select(x => $"{x.Axis}={x.Value}")) + "'"))} " +
                                      $"would share the result folder cells/{clash.Key}; rename one of the values");
        return grid;
    }

    private static string Scalar(JsonNode? n) => n switch
    {
        null => "null",
        JsonArray a => "[" + string.Join(",", a.Select(Scalar)) + "]",
        _ => n.ToString(),
    };

    /// <summary>Every cell, in a stable order (first axis varies slowest).</summary>
    public IReadOnlyList<GridCell> Cells()
    {
        IEnumerable<List<(Axis, AxisValue)>> acc = [[]];
        foreach (var axis in Axes)
            acc = acc.SelectMany(prefix => axis.Values.Select(v => new List<(Axis, AxisValue)>(prefix) { (axis, v) }));
        return acc.Select(c => new GridCell(
            c.Select(x => (x.Item1.Name, x.Item2.Name)).ToList(),
            Set.Concat(c.SelectMany(x => x.Item2.Overrides)).ToList())).ToList();
    }
}
