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

/// <summary>Builds the list of agents (their modality sets, in graph position order) from <see cref="AgentsConfig"/>.</summary>
public static class AgentPopulation
{
    /// <summary>Default types: each modality alone, then all of them together.</summary>
    public static List<string> DefaultTypes(IReadOnlyList<string> modalities) =>
        modalities.Select(m => m).Append(string.Join('+', modalities)).ToList();

    /// <summary>Modality set of every agent, indexed by agent id (= position on the base graph).</summary>
    public static IReadOnlyList<IReadOnlyList<string>> Build(AgentsConfig cfg, IReadOnlyList<string> modalities, int seed)
    {
        var types = cfg.Types ?? DefaultTypes(modalities);
        var parsed = new List<IReadOnlyList<string>>();
        for (int i = 0; i < types.Count; i++)
        {
            var set = AgentTypes.Parse(types[i]);
            if (set.Count == 0) throw new ConfigException($"agents.types[{i}]: an agent type must hold at least one modality");
            foreach (var m in set)
                if (!modalities.Contains(m))
                    throw new ConfigException($"agents.types[{i}]: unknown modality '{m}' (data has: {string.Join(", ", modalities)})");
            parsed.Add(set);
        }
        int[] counts = Counts(cfg, parsed.Count);
        var order = Place(counts, cfg.Placement, seed);
        return order.Select(t => parsed[t]).ToList();
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
