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
        // null for a field that is not nullable (e.g. `mix: ` or an empty YAML anchor) is a type error, not a null in the record
        RespectNullableAnnotations = true,
        // outputs (config.json) keep keys and values as written: "a+b", not "a\u002Bb"
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>
    /// Largest config file or text accepted (1 MiB): a real experiment file is a few KiB; a larger one is refused
    /// before it is parsed.
    /// </summary>
    public const int MaxConfigBytes = 1 << 20;

    /// <summary>Loads a config file (YAML or JSON) and applies overrides.</summary>
    public static ExperimentConfig Load(string path, IEnumerable<string>? overrides = null)
    {
        if (Directory.Exists(path)) throw new ConfigException($"{path}: is a directory, not a config file");
        if (!File.Exists(path)) throw new ConfigException($"config file not found: {path}");
        long size = new FileInfo(path).Length;
        if (size > MaxConfigBytes) throw new ConfigException($"{path}: the config file is {size} bytes; at most {MaxConfigBytes} are accepted (is it the right file?)");
        string text = File.ReadAllText(path);
        if (text.Split('\n').All(l => l.Trim().Length == 0 || l.TrimStart().StartsWith('#')))
            throw new ConfigException($"{path}: the config file is empty; see configs/quickstart.yaml for a complete example");
        return FromTree(Parse(text, path), overrides, path, Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".");
    }

    /// <summary>Builds a config from text (YAML/JSON) without a file; used by tests and embedded defaults.</summary>
    public static ExperimentConfig FromText(string text, IEnumerable<string>? overrides = null, string source = "<text>")
    {
        if (text.Length > MaxConfigBytes) throw new ConfigException($"{source}: the config text is {text.Length} characters; at most {MaxConfigBytes} are accepted");
        return FromTree(Parse(text, source) , overrides, source, Directory.GetCurrentDirectory());
    }

    private static ExperimentConfig FromTree(JsonNode? tree, IEnumerable<string>? overrides, string source, string baseDir)
    {
        if (tree is not (null or JsonObject)) throw new ConfigException($"{source}: the top level must be a mapping of keys");
        var obj = tree as JsonObject ?? new JsonObject();
        var origins = new Dictionary<string, string>(StringComparer.Ordinal);
        ApplyOverrides(obj, overrides ?? [], origins);
        var cfg = Bind(obj, source, origins);
        ConfigValidator.Validate(cfg, baseDir);
        return cfg;
    }

    /// <summary>Parses config text; every YAML problem becomes a <see cref="ConfigException"/> naming <paramref name="source"/> and the line.</summary>
    private static JsonNode? Parse(string text, string source)
    {
        try { return ParseYaml(text); }
        catch (YamlException e) { throw new ConfigException($"{source}: invalid YAML at line {e.Start.Line}: {YamlMessage(e)}"); }
        catch (ConfigException e) { throw new ConfigException($"{source}: {e.Message}"); }
    }

    private static string YamlMessage(YamlException e)
    {
        // YamlDotNet prefixes "(Line: 1, Col: 2, Idx: 1) - (Line: ...): "; the line is already in our message
        string m = e.Message;
        int i = m.LastIndexOf("): ", StringComparison.Ordinal);
        return i >= 0 && m.StartsWith('(') ? m[(i + 3)..] : m;
    }

    /// <summary>Applies "a.b.c=value" overrides; the value is parsed as a YAML scalar or flow sequence/mapping.</summary>
    public static void ApplyOverrides(JsonObject root, IEnumerable<string> overrides) => ApplyOverrides(root, overrides, null);

    /// <summary>
    /// Applies overrides and records, for each dotted path set, the <c>--set</c> argument that set it (so errors in
    /// that value name the argument, not the file).
    /// </summary>
    public static void ApplyOverrides(JsonObject root, IEnumerable<string> overrides, IDictionary<string, string>? origins)
    {
        foreach (string ov in overrides)
        {
            int eq = ov.IndexOf('=');
            if (eq <= 0) throw new ConfigException($"--set '{ov}': expected key=value, e.g. --set rounds=20");
            string key = ov[..eq].Trim();
            string raw = ov[(eq + 1)..];
            string[] parts = key.Split('.');
            if (parts.Any(p => p.Trim().Length == 0)) throw new ConfigException($"--set '{ov}': '{key}' is not a dotted path of config keys (e.g. model.latent_dim)");
            JsonNode? value;
            try { value = raw.Length == 0 ? JsonValue.Create("") : ParseYaml(raw); }
            catch (YamlException e) { throw new ConfigException($"--set '{ov}': the value is not valid YAML: {YamlMessage(e)}"); }
            catch (ConfigException e) { throw new ConfigException($"--set '{ov}': {e.Message}"); }
            origins?.Remove(key);
            if (origins is not null) origins[key] = ov;
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
    public static ExperimentConfig Bind(JsonObject obj, string source) => Bind(obj, source, null);

    /// <summary>
    /// Binds a JSON tree to the config record; unknown keys and wrong types name the field, what it accepts in words, and
    /// where the value came from: the <c>--set</c> argument in <paramref name="origins"/> that set it, else <paramref name="source"/>.
    /// </summary>
    public static ExperimentConfig Bind(JsonObject obj, string source, IReadOnlyDictionary<string, string>? origins)
    {
        SplitChannelGroups(obj, source);
        try
        {
            var cfg = obj.Deserialize<ExperimentConfig>(JsonOptions) ?? new ExperimentConfig();
            if (ConfigNulls.Find(cfg) is { } empty)
                throw new ConfigException($"{Origin(empty, source, origins)}: '{empty}' has no value (an empty entry, or a key without a value?)");
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
                throw new ConfigException($"{Origin(full, source, origins)}: unknown config key '{full}'");
            }
            string dotted = string.Join(".", ConfigTypeWords.Segments(field).Where(s => s != "[]"));
            string where = Origin(dotted, source, origins);
            if (ConfigTypeWords.TypeAt(typeof(ExperimentConfig), e.Path ?? "$") is { } t)
            {
                string got = ValueAt(obj, e.Path ?? "$") is { } v ? $" (got {Shorten(v.ToJsonString())})" : "";
                throw new ConfigException($"{where}: '{field}' must be {ConfigTypeWords.Describe(t)}{got}");
            }
            throw new ConfigException($"{where}: invalid value for '{field}': {FirstSentence(msg)}");
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or FormatException or OverflowException or NotSupportedException)
        {
            throw new ConfigException($"{source}: the config cannot be read: {e.Message}");
        }
    }

    /// <summary>The <c>--set</c> argument that set <paramref name="dotted"/> or one of its parents, else <paramref name="source"/>.</summary>
    private static string Origin(string dotted, string source, IReadOnlyDictionary<string, string>? origins)
    {
        if (origins is null) return source;
        for (string p = dotted; p.Length > 0; p = p.Contains('.') ? p[..p.LastIndexOf('.')] : "")
            if (origins.TryGetValue(p, out var ov)) return $"--set '{ov}'";
        // an override below the failing field (e.g. --set model=3 then a nested key) still names the argument
        var below = origins.Where(kv => kv.Key.StartsWith(dotted + ".", StringComparison.Ordinal)).Select(kv => kv.Value).FirstOrDefault();
        return below is null ? source : $"--set '{below}'";
    }

    private static JsonNode? ValueAt(JsonNode root, string jsonPath)
    {
        JsonNode? cur = root;
        string p = jsonPath.StartsWith('$') ? jsonPath[1..] : jsonPath;
        foreach (var m in System.Text.RegularExpressions.Regex.Matches(p, @"\.([^.\[]+)|\['([^']*)'\]|\[(\d+)\]").Cast<System.Text.RegularExpressions.Match>())
        {
            if (cur is null) return null;
            if (m.Groups[3].Success) cur = cur is JsonArray a && int.TryParse(m.Groups[3].Value, out int i) && i < a.Count ? a[i] : null;
            else cur = cur is JsonObject o ? o[m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value] : null;
        }
        return cur;
    }

    private static string Shorten(string s) => s.Length <= 60 ? s : s[..57] + "...";

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
        try { stream.Load(new StringReader(text)); }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or FormatException or OverflowException)
        {
            // YamlDotNet reports some malformed documents (e.g. a directive without a document) with non-YAML exceptions
            throw new ConfigException($"invalid YAML: {e.Message}");
        }
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
                    if (k is not YamlScalarNode ks)
                        throw new ConfigException($"line {k.Start.Line}: a key must be a plain name, not a {(k is YamlMappingNode ? "mapping" : "list")}");
                    string key = ks.Value ?? "";
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
                // a number too large for a double (1e400) stays text: the field's type error then says what it accepts
                if (double.TryParse(val, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && double.IsFinite(d)) return JsonValue.Create(d);
                return JsonValue.Create(val);
            default:
                return null;
        }
    }

    /// <summary>Serializes a config (the resolved form written into every run directory).</summary>
    public static string ToJson(ExperimentConfig cfg) => JsonSerializer.Serialize(cfg, JsonOptions);
}
