using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Parse.Config;

/// <summary>
/// A short hash of a resolved experiment config (file plus <c>--set</c> overrides, defaults filled in): what a
/// checkpoint was trained under. The <c>cluster</c> section (checkpoint interval, linger, timeouts of the runtime) and
/// <c>name</c> are left out: they may change between a crash and a restart without changing what is learned.
/// </summary>
public static class ConfigFingerprint
{
    /// <summary>Sections that do not take part in the fingerprint.</summary>
    public static readonly IReadOnlyList<string> Excluded = ["cluster", "name"];

    /// <summary>Lowercase hex SHA-256 (first 16 bytes) of the config's canonical JSON without <see cref="Excluded"/>.</summary>
    public static string Of(ExperimentConfig cfg)
    {
        var tree = JsonSerializer.SerializeToNode(cfg, ConfigLoader.JsonOptions)!.AsObject();
        foreach (var key in Excluded) tree.Remove(key);
        string canonical = Canonical(tree);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)).AsSpan(0, 16));
    }

    private static string Canonical(JsonNode? node) => node switch
    {
        JsonObject o => "{" + string.Join(",", o.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => JsonSerializer.Serialize(kv.Key) + ":" + Canonical(kv.Value))) + "}",
        JsonArray a => "[" + string.Join(",", a.Select(Canonical)) + "]",
        null => "null",
        _ => node.ToJsonString(),
    };
}
