using Parse.Model;

namespace Parse.Federation.Sharing;

/// <summary>
/// Decides which parameter groups an agent sends (and therefore mixes) in a round. The overlay of each
/// shared key is the base graph among the agents that share that key, so a strategy only has to answer
/// "is this group shared now?". Adding a strategy = one class + one line in <see cref="StrategyRegistry"/>.
/// </summary>
public interface ISharingStrategy
{
    /// <summary>Name used in <c>strategy</c>.</summary>
    string Name { get; }

    /// <summary>True if <paramref name="group"/> of an agent is exchanged and mixed in <paramref name="round"/>.</summary>
    bool Shares(ParameterGroup group, int round);
}

/// <summary>PARSE: every slice-level group is shared, each over the overlay of its own key.</summary>
public sealed class ParseStrategy : ISharingStrategy
{
    public string Name => "parse";
    public bool Shares(ParameterGroup group, int round) => true;
}

/// <summary>Local training only: nothing is sent.</summary>
public sealed class LocalStrategy : ISharingStrategy
{
    public string Name => "local";
    public bool Shares(ParameterGroup group, int round) => false;
}

/// <summary>
/// Decentralized SGD baselines (reconstructed, see docs/strategies.md): share the heads (task), the modality
/// encoders (modality) or both (hybrid), each group over the overlay of its key. On the monolithic model
/// (<c>model.fission=false</c>, the default for these strategies' comparisons) the task head is one group held
/// by everyone; on the three-slice model the same rules apply to its heads and encoders.
/// </summary>
public sealed class DsgdStrategy(string name, bool heads, bool encoders) : ISharingStrategy
{
    public string Name => name;
    public bool Shares(ParameterGroup group, int round) => group.Part == GroupPart.Head ? heads : encoders;
}

/// <summary>Known strategies by name.</summary>
public static class StrategyRegistry
{
    private static readonly Dictionary<string, Func<ISharingStrategy>> Factories = new()
    {
        ["parse"] = () => new ParseStrategy(),
        ["local"] = () => new LocalStrategy(),
        ["dsgd-task"] = () => new DsgdStrategy("dsgd-task", heads: true, encoders: false),
        ["dsgd-modality"] = () => new DsgdStrategy("dsgd-modality", heads: false, encoders: true),
        ["dsgd-hybrid"] = () => new DsgdStrategy("dsgd-hybrid", heads: true, encoders: true),
    };

    /// <summary>Accepted <c>strategy</c> values.</summary>
    public static IReadOnlyCollection<string> Names => Factories.Keys;

    public static ISharingStrategy Create(string name) =>
        Factories.TryGetValue(name, out var f) ? f()
            : throw new Config.ConfigException($"strategy: unknown strategy '{name}' (expected one of: {string.Join(", ", Names)})");
}
