using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Parse.Config;

/// <summary>
/// Hashes of a resolved experiment config (file plus <c>--set</c> overrides, defaults filled in), the one definition of
/// "the same experiment" for checkpoints and for the cluster's message authentication. The <c>cluster</c> section
/// (checkpoint interval, linger, timeouts, TLS files: node-local runtime settings) and <c>name</c> are left out: they
/// may differ between processes, or change between a crash and a restart, without changing what is learned.
/// <list type="bullet">
/// <item><see cref="Of"/>: what a checkpoint was trained under (16 bytes, hex).</item>
/// <item><see cref="ForWire"/>: what every process of a cluster run must share, bound into the admission proof and every
/// message MAC (32 bytes): the same hash plus the wire limits both ends of a connection must agree on
/// (<c>cluster.chunk_bytes</c>, <c>cluster.max_payload_bytes</c>, <c>cluster.limits.max_rounds_ahead</c>).</item>
/// </list>
/// </summary>
public static class ConfigFingerprint
{
    /// <summary>Sections that do not take part in the fingerprint.</summary>
    public static readonly IReadOnlyList<string> Excluded = ["cluster", "name"];

    /// <summary>Lowercase hex of the first 16 bytes of <see cref="Hash"/>: the fingerprint stored in checkpoints.</summary>
    public static string Of(ExperimentConfig cfg) => Convert.ToHexStringLower(Hash(cfg).AsSpan(0, 16));

    /// <summary>The 32-byte fingerprint every process of a cluster run must share (the config and the wire limits).</summary>
    public static byte[] ForWire(ExperimentConfig cfg) => Hash(cfg, new JsonObject
    {
        ["wire"] = new JsonObject
        {
            ["chunk_bytes"] = cfg.Cluster.ChunkBytes,
            ["max_payload_bytes"] = cfg.Cluster.MaxPayloadBytes,
            ["max_rounds_ahead"] = cfg.Cluster.Limits.MaxRoundsAhead,
        },
    });

    /// <summary>
    /// SHA-256 of the config's canonical JSON (object keys sorted) without <see cref="Excluded"/>, with the top-level
    /// entries of <paramref name="extra"/> added.
    /// </summary>
    public static byte[] Hash(ExperimentConfig cfg, JsonObject? extra = null)
    {
        var tree = JsonSerializer.SerializeToNode(cfg, ConfigLoader.JsonOptions)!.AsObject();
        foreach (var key in Excluded) tree.Remove(key);
        if (extra is not null)
            foreach (var (key, value) in extra) tree[key] = value?.DeepClone();
        return SHA256.HashData(Encoding.UTF8.GetBytes(Canonical(tree)));
    }

    /// <summary>The first 12 hex digits of a fingerprint, for messages.</summary>
    public static string Short(byte[] fingerprint) => Convert.ToHexStringLower(fingerprint)[..Math.Min(12, fingerprint.Length * 2)];

    private static string Canonical(JsonNode? node) => node switch
    {
        JsonObject o => "{" + string.Join(",", o.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => JsonSerializer.Serialize(kv.Key) + ":" + Canonical(kv.Value))) + "}",
        JsonArray a => "[" + string.Join(",", a.Select(Canonical)) + "]",
        null => "null",
        _ => node.ToJsonString(),
    };
}
