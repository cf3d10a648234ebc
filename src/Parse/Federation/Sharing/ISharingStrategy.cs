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

/// <summary>Known strategies by name.</summary>
public static class StrategyRegistry
{
    private static readonly Dictionary<string, Func<ISharingStrategy>> Factories = new()
    {
        ["parse"] = () => new ParseStrategy(),
        ["local"] = () => new LocalStrategy(),
    };

    /// <summary>Accepted <c>strategy</c> values.</summary>
    public static IReadOnlyCollection<string> Names => Factories.Keys;

    public static ISharingStrategy Create(string name) =>
        Factories.TryGetValue(name, out var f) ? f()
            : throw new Config.ConfigException($"strategy: unknown strategy '{name}' (expected one of: {string.Join(", ", Names)})");
}
