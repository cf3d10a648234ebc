using System.Globalization;
using Parse.Config;
using Parse.Util;

namespace Parse.Data;

/// <summary>Helpers for agent types (modality sets) and their canonical names.</summary>
public static class AgentTypes
{
    /// <summary>Canonical type name: modality names sorted ordinally and joined with '+'.</summary>
    public static string Name(IEnumerable<string> modalities) => string.Join('+', modalities.OrderBy(m => m, StringComparer.Ordinal));

    /// <summary>Parses "a+b" into a sorted modality list.</summary>
    public static IReadOnlyList<string> Parse(string type) =>
        type.Split('+', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).OrderBy(m => m, StringComparer.Ordinal).ToList();
}

/// <summary>
/// One agent type of <c>agents.types</c>, resolved: its reported name, its sorted modality set and the encoders it
/// chooses itself (empty: <c>model.encoders</c> for every modality).
/// </summary>
/// <param name="Name">Name reported per agent (default: the canonical modality set).</param>
/// <param name="Modalities">Held modalities, sorted.</param>
/// <param name="Encoders">Encoder overrides by modality name.</param>
/// <param name="Index">Position in <c>agents.types</c> (-1 for a type not from the config).</param>
public sealed record AgentType(string Name, IReadOnlyList<string> Modalities, IReadOnlyDictionary<string, EncoderConfig> Encoders, int Index = -1)
{
    /// <summary>
    /// The model section this type's agents are built with: <paramref name="model"/> with this type's encoders laid over
    /// <c>model.encoders</c>.
    /// </summary>
    public ModelConfig ModelFor(ModelConfig model)
    {
        if (Encoders.Count == 0) return model;
        var merged = new Dictionary<string, EncoderConfig>(model.Encoders);
        foreach (var (m, e) in Encoders) merged[m] = e;
        return model with { Encoders = merged };
    }

    /// <summary>Config path of the encoder settings of <paramref name="modality"/> for this type (for messages).</summary>
    public string EncoderField(string modality) =>
        Encoders.ContainsKey(modality) ? $"agents.types[{Index}].encoders.{modality}" : $"model.encoders.{modality}";

    /// <summary>A type with the default encoders for a modality set (named by it).</summary>
    public static AgentType Plain(IReadOnlyList<string> modalities) =>
        new(AgentTypes.Name(modalities), modalities.OrderBy(m => m, StringComparer.Ordinal).ToList(), new Dictionary<string, EncoderConfig>());
}

/// <summary>Builds the list of agents (their modality sets, in graph position order) from <see cref="AgentsConfig"/>.</summary>
public static class AgentPopulation
{
    /// <summary>Default types: each modality alone, then all of them together.</summary>
    public static List<string> DefaultTypes(IReadOnlyList<string> modalities) =>
        modalities.Select(m => m).Append(string.Join('+', modalities)).ToList();

    /// <summary>Modality set of every agent, indexed by agent id (= position on the base graph).</summary>
    public static IReadOnlyList<IReadOnlyList<string>> Build(AgentsConfig cfg, IReadOnlyList<string> modalities, int seed) =>
        Assign(cfg, modalities, seed).Select(t => t.Modalities).ToList();

    /// <summary>The types of <c>agents.types</c> (or the default ones), checked; messages name <c>agents.types[i]</c>.</summary>
    public static IReadOnlyList<AgentType> Types(AgentsConfig cfg, IReadOnlyList<string> modalities)
    {
        var specs = cfg.Types ?? DefaultTypes(modalities).Select(t => (AgentTypeSpec)t).ToList();
        var parsed = new List<AgentType>();
        for (int i = 0; i < specs.Count; i++)
        {
            var spec = specs[i] ?? throw new ConfigException($"agents.types[{i}]: empty entry");
            var set = AgentTypes.Parse(spec.Modalities);
            if (set.Count == 0) throw new ConfigException($"agents.types[{i}]: an agent type must hold at least one modality");
            foreach (var m in set)
                if (!modalities.Contains(m))
                    throw new ConfigException($"agents.types[{i}]: unknown modality '{m}' (data has: {string.Join(", ", modalities)})");
            string name = spec.Name ?? AgentTypes.Name(set);
            if (name.Length == 0 || name.Any(ch => ch is '/' or '|' or ',' or ':' || char.IsWhiteSpace(ch)))
                throw new ConfigException($"agents.types[{i}].name: '{name}' must be non-empty without '/', '|', ',', ':' or white space");
            int same = parsed.FindIndex(p => p.Name == name);
            if (same >= 0)
                throw new ConfigException($"agents.types[{i}]: type name '{name}' is also agents.types[{same}]; give one of them a name " +
                                          $"(e.g. {{ modalities: {spec.Modalities}, name: {name}-gru, encoders: ... }})");
            foreach (var m in spec.Encoders?.Keys ?? Enumerable.Empty<string>())
                if (!set.Contains(m))
                    throw new ConfigException($"agents.types[{i}].encoders.{m}: type '{name}' does not hold modality '{m}' (it holds: {string.Join(", ", set)})");
            parsed.Add(new AgentType(name, set, spec.Encoders ?? new Dictionary<string, EncoderConfig>(), i));
        }
        return parsed;
    }

    /// <summary>The type of every agent, indexed by agent id (= position on the base graph).</summary>
    public static IReadOnlyList<AgentType> Assign(AgentsConfig cfg, IReadOnlyList<string> modalities, int seed)
    {
        var types = Types(cfg, modalities);
        int[] counts = Counts(cfg, types.Count);
        var order = Place(counts, cfg.Placement, seed);
        return order.Select(t => types[t]).ToList();
    }

    /// <summary>Agent counts per type from the mix string and the optional total.</summary>
    public static int[] Counts(AgentsConfig cfg, int typeCount)
    {
        var fields = cfg.Mix.Split(':', StringSplitOptions.TrimEntries);
        if (fields.Length != typeCount)
            throw new ConfigException($"agents.mix: '{cfg.Mix}' has {fields.Length} entries but there are {typeCount} agent types " +
                                      "(set agents.types to list them)");
        var w = new double[fields.Length];
        for (int i = 0; i < fields.Length; i++)
        {
            if (!double.TryParse(fields[i], NumberStyles.Float, CultureInfo.InvariantCulture, out w[i]) || w[i] < 0)
                throw new ConfigException($"agents.mix: entry {i + 1} '{fields[i]}' is not a non-negative number");
        }
        double total = w.Sum();
        if (total <= 0) throw new ConfigException("agents.mix: at least one agent type needs a positive count");
        if (cfg.Count is null)
        {
            if (w.Any(x => x != Math.Floor(x))) throw new ConfigException("agents.mix: counts must be integers when agents.count is not set");
            return w.Select(x => (int)x).ToArray();
        }
        int n = cfg.Count.Value;
        if (n < 1) throw new ConfigException($"agents.count must be >= 1 (got {n})");
        // largest remainder apportionment
        var exact = w.Select(x => x / total * n).ToArray();
        var counts = exact.Select(x => (int)Math.Floor(x)).ToArray();
        int left = n - counts.Sum();
        foreach (int i in Enumerable.Range(0, w.Length).OrderByDescending(i => exact[i] - counts[i]).ThenBy(i => i).Take(left)) counts[i]++;
        return counts;
    }

    private static List<int> Place(int[] counts, string placement, int seed)
    {
        var order = new List<int>();
        switch (placement)
        {
            case "blocked":
                for (int t = 0; t < counts.Length; t++) order.AddRange(Enumerable.Repeat(t, counts[t]));
                break;
            case "interleaved":
                var left = (int[])counts.Clone();
                while (left.Sum() > 0)
                    for (int t = 0; t < left.Length; t++)
                        if (left[t] > 0) { order.Add(t); left[t]--; }
                break;
            case "random":
                for (int t = 0; t < counts.Length; t++) order.AddRange(Enumerable.Repeat(t, counts[t]));
                new Random(Seeds.Derive(seed, "placement")).Shuffle(order);
                break;
            default:
                throw new ConfigException($"agents.placement: unknown placement '{placement}' (expected interleaved, blocked or random)");
        }
        return order;
    }
}
