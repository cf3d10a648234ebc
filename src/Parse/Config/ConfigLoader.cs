using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Parse.Config;

/// <summary>
/// Reads YAML or JSON experiment files, applies <c>--set key=value</c> overrides by dotted path,
/// and binds the result to <see cref="ExperimentConfig"/>, rejecting unknown keys by name.
/// </summary>
public static class ConfigLoader
{
    /// <summary>Serializer options used for configs and outputs (snake_case, unknown keys are errors).</summary>
    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        // outputs (config.json) keep keys and values as written: "a+b", not "a\u002Bb"
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Loads a config file (YAML or JSON) and applies overrides.</summary>
    public static ExperimentConfig Load(string path, IEnumerable<string>? overrides = null)
    {
        if (!File.Exists(path)) throw new ConfigException($"config file not found: {path}");
        string text = File.ReadAllText(path);
        if (text.Split('\n').All(l => l.Trim().Length == 0 || l.TrimStart().StartsWith('#')))
            throw new ConfigException($"{path}: the config file is empty; see configs/quickstart.yaml for a complete example");
        JsonNode tree;
        try { tree = ParseYaml(text) ?? new JsonObject(); }
        catch (YamlException e) { throw new ConfigException($"{path}: invalid YAML at line {e.Start.Line}: {e.Message}"); }
        if (tree is not JsonObject obj) throw new ConfigException($"{path}: the top level must be a mapping of keys");
        ApplyOverrides(obj, overrides ?? []);
        var cfg = Bind(obj, path);
        ConfigValidator.Validate(cfg, Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".");
        return cfg;
    }

    /// <summary>Builds a config from text (YAML/JSON) without a file; used by tests and embedded defaults.</summary>
    public static ExperimentConfig FromText(string text, IEnumerable<string>? overrides = null, string source = "<text>")
    {
        var obj = ParseYaml(text) as JsonObject ?? new JsonObject();
        ApplyOverrides(obj, overrides ?? []);
        var cfg = Bind(obj, source);
        ConfigValidator.Validate(cfg, Directory.GetCurrentDirectory());
        return cfg;
    }

    /// <summary>Applies "a.b.c=value" overrides; the value is parsed as a YAML scalar or flow sequence/mapping.</summary>
    public static void ApplyOverrides(JsonObject root, IEnumerable<string> overrides)
    {
        foreach (string ov in overrides)
        {
            int eq = ov.IndexOf('=');
            if (eq <= 0) throw new ConfigException($"--set '{ov}': expected key=value, e.g. --set rounds=20");
            string key = ov[..eq].Trim();
            string raw = ov[(eq + 1)..];
            JsonNode? value = raw.Length == 0 ? JsonValue.Create("") : ParseYaml(raw);
            string[] parts = key.Split('.');
            JsonObject cur = root;
            for (int i = 0; i < parts.Length - 1; i++)
            {
                if (cur[parts[i]] is JsonObject child) { cur = child; continue; }
                var made = new JsonObject();
                cur[parts[i]] = made;
                cur = made;
            }
            cur[parts[^1]] = value;
        }
    }

    /// <summary>
    /// A strategy's own architecture is its default: the DSGD baselines run on the monolithic shared-embedding model
    /// unless <c>model.fission</c> is set explicitly (then they run on the three-slice model, the fair same-architecture
    /// ablation). The choice is stated in <see cref="ExperimentConfig.Notices"/>.
    /// </summary>
    private static ExperimentConfig ApplyStrategyDefaults(ExperimentConfig cfg, JsonObject obj)
    {
        bool fissionSet = obj["model"] is JsonObject m && m.ContainsKey("fission");
        if (!cfg.Strategy.StartsWith("dsgd-", StringComparison.Ordinal) || fissionSet) return cfg;
        return cfg with
        {
            Model = cfg.Model with { Fission = false },
            Notices = [.. cfg.Notices, $"strategy {cfg.Strategy}: runs on the monolithic shared-embedding model (its own architecture); set model.fission=true for the same-architecture three-slice ablation"],
        };
    }

    /// <summary>Binds a JSON tree to the config record; unknown keys and wrong types name the field.</summary>
    public static ExperimentConfig Bind(JsonObject obj, string source)
    {
        SplitChannelGroups(obj, source);
        try
        {
            var cfg = obj.Deserialize<ExperimentConfig>(JsonOptions) ?? new ExperimentConfig();
            return ApplyStrategyDefaults(cfg, obj);
        }
        catch (JsonException e)
        {
            string field = (e.Path ?? "$").TrimStart('$').TrimStart('.');
            string msg = e.Message;
            if (msg.Contains("could not be mapped", StringComparison.Ordinal))
            {
                // System.Text.Json reports the unknown property's name in the message: "The JSON property 'x' could not be mapped..."
                int a = msg.IndexOf('\''), b = a >= 0 ? msg.IndexOf('\'', a + 1) : -1;
                string prop = a >= 0 && b > a ? msg[(a + 1)..b] : "?";
                string full = field.EndsWith(prop, StringComparison.Ordinal) ? field : (field.Length > 0 ? field + "." + prop : prop);
                throw new ConfigException($"{source}: unknown config key '{full}'");
            }
            throw new ConfigException($"{source}: invalid value for '{field}': {FirstSentence(msg)}");
        }
    }

    /// <summary>
    /// The mapping form <c>data.modalities: {acc: [0,1,2], gyro: [3,4,5]}</c> (channel groups of a time-series data
    /// set) becomes the modality list <c>[acc, gyro]</c> plus the table <c>data.channels</c>.
    /// </summary>
    private static void SplitChannelGroups(JsonObject obj, string source)
    {
        if (obj["data"] is not JsonObject data || data["modalities"] is not JsonObject groups) return;
        if (data.ContainsKey("channels"))
            throw new ConfigException($"{source}: data.modalities as a mapping of channel groups and data.channels both set; use one of them");
        data["channels"] = groups.DeepClone();
        data["modalities"] = new JsonArray(groups.Select(kv => (JsonNode?)JsonValue.Create(kv.Key)).ToArray());
    }

    private static string FirstSentence(string s)
    {
        int i = s.IndexOf(". ", StringComparison.Ordinal);
        return i > 0 ? s[..(i + 1)] : s;
    }

    /// <summary>Parses YAML (a superset of JSON) into a JSON tree, inferring scalar types for plain scalars.</summary>
    public static JsonNode? ParseYaml(string text)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(text));
        if (stream.Documents.Count == 0) return null;
        int budget = MaxNodes;
        return Convert(stream.Documents[0].RootNode, ref budget);
    }

    /// <summary>
    /// Most values a config may expand to. YAML aliases can repeat a subtree exponentially (a few hundred bytes
    /// expanding to billions of nodes); a real experiment file has a few hundred.
    /// </summary>
    public const int MaxNodes = 100_000;

    private static JsonNode? Convert(YamlNode node, ref int budget)
    {
        if (--budget < 0)
            throw new ConfigException($"the config expands to more than {MaxNodes} values (YAML aliases repeating a subtree?); refusing to expand it");
        switch (node)
        {
            case YamlMappingNode map:
                var o = new JsonObject();
                foreach (var (k, v) in map.Children)
                {
                    string key = ((YamlScalarNode)k).Value ?? "";
                    if (o.ContainsKey(key)) throw new ConfigException($"duplicate config key '{key}' (line {k.Start.Line})");
                    o[key] = Convert(v, ref budget);
                }
                return o;
            case YamlSequenceNode seq:
                var a = new JsonArray();
                foreach (var c in seq.Children) a.Add(Convert(c, ref budget));
                return a;
            case YamlScalarNode s:
                string val = s.Value ?? "";
                if (s.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted or ScalarStyle.Literal or ScalarStyle.Folded)
                    return JsonValue.Create(val);
                if (val is "" or "~" or "null" or "Null" or "NULL") return null;
                if (val is "true" or "True" or "TRUE") return JsonValue.Create(true);
                if (val is "false" or "False" or "FALSE") return JsonValue.Create(false);
                if (long.TryParse(val, NumberStyles.Integer, CultureInfo.InvariantCulture, out long l)) return JsonValue.Create(l);
                if (double.TryParse(val, NumberStyles.Float, CultureInfo.InvariantCulture, out double d)) return JsonValue.Create(d);
                return JsonValue.Create(val);
            default:
                return null;
        }
    }

    /// <summary>Serializes a config (the resolved form written into every run directory).</summary>
    public static string ToJson(ExperimentConfig cfg) => JsonSerializer.Serialize(cfg, JsonOptions);
}
