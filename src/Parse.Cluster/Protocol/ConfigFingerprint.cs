using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Parse.Config;

namespace Parse.Cluster.Protocol;

/// <summary>
/// SHA-256 of the resolved experiment config as every process must share it: the whole config (after <c>--set</c>)
/// except the <c>cluster</c> section, whose node-local settings (timeouts, linger, checkpoints, TLS files) may differ
/// between processes; of that section only the wire limits both ends must agree on (<c>chunk_bytes</c>,
/// <c>max_payload_bytes</c>, <c>max_rounds_ahead</c>) are included. Sent in the admission proof and bound into every
/// message MAC, so two processes with different configs refuse each other with a clear message.
/// </summary>
public static class ConfigFingerprint
{
    private static readonly JsonSerializerOptions Options = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>The 32-byte fingerprint of <paramref name="cfg"/>.</summary>
    public static byte[] Of(ExperimentConfig cfg)
    {
        var node = JsonSerializer.SerializeToNode(cfg, Options)!.AsObject();
        node.Remove("cluster");
        node["wire"] = new JsonObject
        {
            ["chunk_bytes"] = cfg.Cluster.ChunkBytes,
            ["max_payload_bytes"] = cfg.Cluster.MaxPayloadBytes,
            ["max_rounds_ahead"] = cfg.Cluster.Limits.MaxRoundsAhead,
        };
        return SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(Canonical(node)));
    }

    /// <summary>The first 12 hex digits, for messages.</summary>
    public static string Short(byte[] fingerprint) => Convert.ToHexStringLower(fingerprint)[..Math.Min(12, fingerprint.Length * 2)];

    // object keys sorted so the hash does not depend on property order
    private static JsonNode? Canonical(JsonNode? n) => n switch
    {
        JsonObject o => new JsonObject(o.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => KeyValuePair.Create(kv.Key, Canonical(kv.Value)))),
        JsonArray a => new JsonArray(a.Select(Canonical).ToArray()),
        null => null,
        _ => JsonNode.Parse(n.ToJsonString()),
    };
}
