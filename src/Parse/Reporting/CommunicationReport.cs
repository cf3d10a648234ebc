using System.Text.Json.Nodes;
using Parse.Config;
using Parse.Simulation;

namespace Parse.Reporting;

/// <summary>Communication measures of a run: bytes to a target accuracy, privacy spent, accuracy against bytes sent.</summary>
public static class CommunicationReport
{
    /// <summary>
    /// Per agent type: the first evaluated round at which the type's mean accuracy reached <paramref name="fraction"/> of
    /// its final mean accuracy, and the bytes each agent of the type had sent by then (mean and max over its agents).
    /// </summary>
    public static JsonObject BytesToTarget(SimulationResult r, double fraction)
    {
        var byType = new JsonObject();
        foreach (var g in r.Metrics.GroupBy(m => m.Type).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var rounds = g.GroupBy(m => m.Round).OrderBy(x => x.Key).ToList();
            if (rounds.Count == 0) continue;
            double final = rounds[^1].Average(m => m.Accuracy), target = fraction * final;
            var hit = rounds.First(x => x.Average(m => m.Accuracy) >= target - 1e-12);
            byType[g.Key] = new JsonObject
            {
                ["final_accuracy"] = Math.Round(final, 6),
                ["target_accuracy"] = Math.Round(target, 6),
                ["round"] = hit.Key,
                ["bytes_per_agent_mean"] = Math.Round(hit.Average(m => (double)m.BytesSent), 1),
                ["bytes_per_agent_max"] = hit.Max(m => m.BytesSent),
            };
        }
        return new JsonObject { ["fraction"] = fraction, ["by_agent_type"] = byType };
    }

    /// <summary>The privacy section of summary.json: settings (noise_multiplier null when a target epsilon derives it per agent) and epsilon per agent type (mean, max); null when privacy is off.</summary>
    public static JsonObject? Privacy(ExperimentConfig cfg, SimulationResult r)
    {
        var p = cfg.Privacy;
        if (p.Clip <= 0) return null;
        var byType = new JsonObject();
        foreach (var g in r.PrivacyEpsilon.GroupBy(x => x.Type).OrderBy(g => g.Key, StringComparer.Ordinal))
            byType[g.Key] = new JsonObject { ["mean"] = Math.Round(g.Average(x => x.Epsilon), 4), ["max"] = Math.Round(g.Max(x => x.Epsilon), 4) };
        return new JsonObject
        {
            ["clip"] = p.Clip,
            // with a target epsilon each agent derives its own multiplier (privacy.target_epsilon)
            ["noise_multiplier"] = p.TargetEpsilon > 0 ? null : p.NoiseMultiplier,
            ["target_epsilon"] = p.TargetEpsilon > 0 ? p.TargetEpsilon : null,
            ["delta"] = p.Delta,
            ["roles"] = new JsonArray(p.Roles.Select(x => (JsonNode)x).ToArray()),
            ["groups"] = new JsonArray(p.Groups.Select(x => (JsonNode)x).ToArray()),
            ["epsilon"] = new JsonObject
            {
                ["by_agent_type"] = byType,
                ["max"] = r.PrivacyEpsilon.Count == 0 ? 0 : Math.Round(r.PrivacyEpsilon.Max(x => x.Epsilon), 4),
            },
        };
    }

    /// <summary>
    /// accuracy_vs_bytes.png: mean accuracy of each agent type against the mean cumulative MiB its agents sent, in all
    /// ("TYPE") and by parameter role ("TYPE / ROLE": the same accuracy against that role's bytes only).
    /// </summary>
    public static void PlotAccuracyVsBytes(string path, ExperimentConfig cfg, SimulationResult r)
    {
        var series = new Dictionary<string, (double[] X, double[] Y)>();
        foreach (var g in r.Metrics.GroupBy(m => m.Type))
        {
            var rounds = g.GroupBy(m => m.Round).OrderBy(x => x.Key).ToList();
            var acc = rounds.Select(x => x.Average(m => m.Accuracy)).ToArray();
            series[g.Key] = (rounds.Select(x => x.Average(m => (double)m.BytesSent) / 1048576).ToArray(), acc);
            foreach (var role in g.SelectMany(m => m.BytesSentByRole?.Keys ?? []).Distinct())
                series[$"{g.Key} / {role}"] = (rounds.Select(x => x.Average(m => (double)(m.BytesSentByRole?.GetValueOrDefault(role) ?? 0)) / 1048576).ToArray(), acc);
        }
        if (series.Count == 0) return;
        Plots.Lines(path, $"{cfg.Name}: accuracy vs bytes sent (payload: {(cfg.Payload.Processors.Count == 0 ? "float32" : string.Join("+", cfg.Payload.Processors))})",
            "accuracy", series, xLabel: "MiB sent per agent (cumulative)");
    }
}
