using Parse.Federation.Sharing;
using Parse.Model;

namespace Parse.Sample.Extending;

/// <summary>
/// Strategy "parse-no-redundant-head": PARSE, except that the redundant head stays local. Every other group
/// (trunks, projections including the redundant ones, unique and synergy heads, fusion) is shared as in PARSE.
/// </summary>
public sealed class NoRedundantHeadStrategy : ISharingStrategy
{
    /// <summary>Name under which the sample registers the strategy.</summary>
    public const string StrategyName = "parse-no-redundant-head";

    /// <inheritdoc />
    public string Name => StrategyName;

    /// <inheritdoc />
    public bool Shares(ParameterGroup group, int round) =>
        !(group.Role == GroupRole.Redundant && group.Name.StartsWith("head/", StringComparison.Ordinal));
}
