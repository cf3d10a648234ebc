using System.Text.Json.Nodes;
using Parse.Cluster.Runtime;
using Parse.Federation.Overlays;
using Parse.Federation.Topology;
using Parse.Simulation;

namespace Parse.Cluster.Launch;

/// <summary>
/// Merges the per-agent reports of a cluster run into one <see cref="SimulationResult"/> (so <c>RunWriter</c> writes
/// the same run directory as <c>parse run</c>) plus a <c>cluster.json</c> with what only the cluster runtime has:
/// staleness, deadlines, rejections per peer, membership events and round latency.
/// </summary>
public static class RunMerger
{
    /// <summary>Reads <c>agent-ID.json</c> for every agent id below <paramref name="agents"/> from <paramref name="dirs"/>.</summary>
    public static List<AgentReport> ReadReports(IEnumerable<string> dirs, int agents)
    {
        var found = new Dictionary<int, AgentReport>();
        foreach (var d in dirs)
            for (int i = 0; i < agents; i++)
            {
                string p = Path.Combine(d, AgentReport.FileName(i));
                if (File.Exists(p)) found[i] = AgentReport.Read(p);
            }
        var missing = Enumerable.Range(0, agents).Where(i => !found.ContainsKey(i)).ToList();
        if (missing.Count > 0) throw new InvalidOperationException($"no report from agent(s) {string.Join(',', missing)} (see the node logs)");
        return found.OrderBy(kv => kv.Key).Select(kv => kv.Value).ToList();
    }

    /// <summary>Builds the result; overlays are reassembled from the neighbour lists the agents reported.</summary>
    public static SimulationResult Merge(IReadOnlyList<AgentReport> reports, Graph baseGraph, int rounds, double wallSeconds,
        Parse.Node.LearnerPlan? plan = null, IReadOnlyList<int>? attackers = null, Graph? linkBase = null)
    {
        var (types, finalAcc) = plan is null
            ? (reports.Select(r => r.Type).ToList(), reports.Select(r => r.FinalAccuracy).ToList())
            : plan.ExpandToAgents(reports.Select(r => r.FinalAccuracy).ToList());
        var dropped = SimulationResult.SliceDropByType(reports.Select(r => (r.Type, (IReadOnlyDictionary<string, double>)r.AccuracyWithoutHead)));
        long mixed = reports.Sum(r => r.Mixed);
        var byRole = new SortedDictionary<string, long>(StringComparer.Ordinal);
        var rejected = new SortedDictionary<string, long>(StringComparer.Ordinal);
        var byLink = new Dictionary<(int, int), long>();
        foreach (var r in reports)
        {
            foreach (var (k, v) in r.BytesByRole) byRole[k] = byRole.GetValueOrDefault(k) + v;
            foreach (var (k, v) in r.Rejected) rejected[k] = rejected.GetValueOrDefault(k) + v;
            foreach (var (to, v) in r.BytesSentTo) byLink[(r.Agent, to)] = v;
        }
        var ceilings = reports.Where(r => r.Ceiling is not null).GroupBy(r => r.Type).ToDictionary(g => g.Key, g => g.First().Ceiling!.Value);
        return new SimulationResult
        {
            Metrics = reports.SelectMany(r => r.Metrics).OrderBy(m => m.Round).ThenBy(m => m.Agent).ToList(),
            Overlays = Overlays(reports, baseGraph).Select(OverlayStats.Of).ToList(),
            AgentTypes = types,
            FinalAccuracy = finalAcc,
            CeilingByType = ceilings.Count == 0 ? null : ceilings,
            BytesSentTotal = reports.Sum(r => r.BytesSent),
            BytesByRole = byRole,
            BytesByLink = byLink,
            Links = LinkSummary.Of(linkBase ?? baseGraph, byLink),
            Rejected = rejected,
            WallSeconds = wallSeconds,
            TrainSeconds = reports.Sum(r => r.TrainSeconds),
            AgentSteps = reports.Sum(r => r.AgentSteps),
            Samples = reports.Sum(r => r.Samples),
            PeakWorkingSetBytes = reports.Max(r => r.PeakWorkingSetBytes),
            Rounds = rounds,
            AccuracyWithoutHead = dropped,
            Attackers = attackers ?? [],
            PrivacyEpsilon = reports.Where(r => r.PrivacyEpsilon is not null).Select(r => (r.Type, r.PrivacyEpsilon!.Value)).ToList(),
            Timing = new TimingSummary(reports.Max(r => r.MaxStaleness),
                mixed == 0 ? 0 : reports.Sum(r => r.MeanStaleness * r.Mixed) / mixed,
                reports.Sum(r => r.DeadlineRounds), reports.Sum(r => r.Missing), reports.Average(r => r.MeanRoundSeconds)),
        };
    }

    /// <summary>Per-key overlays as the agents saw them at the end.</summary>
    public static List<Overlay> Overlays(IReadOnlyList<AgentReport> reports, Graph baseGraph)
    {
        var result = new List<Overlay>();
        foreach (var key in reports.SelectMany(r => r.OverlayNeighbours.Keys).Distinct().Order(StringComparer.Ordinal))
        {
            var members = reports.Where(r => r.OverlayNeighbours.ContainsKey(key)).Select(r => r.Agent).ToList();
            var g = new Graph(baseGraph.N);
            foreach (var r in reports)
                if (r.OverlayNeighbours.TryGetValue(key, out var ns))
                    foreach (int j in ns.Where(j => j >= 0 && j < g.N && j != r.Agent && !g.HasEdge(r.Agent, j))) g.AddEdge(r.Agent, j);
            int bridges = g.Edges().Count(e => !baseGraph.HasEdge(e.A, e.B));
            result.Add(new Overlay(key, members, g, bridges));
        }
        return result;
    }

    /// <summary>The cluster-only summary written as <c>cluster.json</c>.</summary>
    public static JsonObject ClusterSummary(IReadOnlyList<AgentReport> reports, JsonObject? processes)
    {
        var agents = new JsonArray();
        foreach (var r in reports)
        {
            var rej = new JsonObject();
            foreach (var (k, v) in r.Rejected.OrderBy(kv => kv.Key)) rej[k] = v;
            var rejFrom = new JsonObject();
            foreach (var (k, v) in r.RejectedFrom.OrderBy(kv => kv.Key)) rejFrom[k.ToString()] = v;
            agents.Add(new JsonObject
            {
                ["agent"] = r.Agent, ["type"] = r.Type, ["rounds_completed"] = r.RoundsCompleted, ["resumed_from_round"] = r.ResumedFromRound,
                ["accuracy"] = Math.Round(r.FinalAccuracy, 6), ["mixed"] = r.Mixed, ["missing"] = r.Missing,
                ["deadline_rounds"] = r.DeadlineRounds, ["max_staleness"] = r.MaxStaleness, ["mean_staleness"] = Math.Round(r.MeanStaleness, 4),
                ["mean_round_seconds"] = Math.Round(r.MeanRoundSeconds, 4), ["mean_wait_seconds"] = Math.Round(r.MeanWaitSeconds, 4),
                ["bytes_sent"] = r.BytesSent, ["rejected"] = rej, ["rejected_from"] = rejFrom,
                ["discovery_lies_refused"] = r.DiscoveryLiesRefused,
                ["events"] = new JsonArray(r.Events.Select(e => (JsonNode)e).ToArray()),
                ["security"] = new JsonObject(r.Security.OrderBy(kv => kv.Key).Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
                ["quarantined"] = new JsonArray(r.Quarantined.Select(q => (JsonNode)q).ToArray()),
            });
        }
        int rounds = Math.Max(1, reports.Max(r => r.RoundsCompleted));
        return new JsonObject
        {
            ["processes"] = processes,
            ["max_staleness"] = reports.Max(r => r.MaxStaleness),
            ["mean_round_seconds"] = Math.Round(reports.Average(r => r.MeanRoundSeconds), 4),
            ["mean_wait_seconds"] = Math.Round(reports.Average(r => r.MeanWaitSeconds), 4),
            ["bytes_sent_per_round"] = Math.Round(reports.Sum(r => r.BytesSent) / (double)rounds, 1),
            ["missing_payloads"] = reports.Sum(r => r.Missing),
            ["deadline_rounds"] = reports.Sum(r => r.DeadlineRounds),
            ["discovery_lies_refused"] = reports.Sum(r => r.DiscoveryLiesRefused),
            // messages refused before reaching an agent (bad MAC, replay, forged sender, out of window, undecodable), summed
            ["refused_messages"] = new JsonObject(reports.SelectMany(r => r.Security).GroupBy(kv => kv.Key).OrderBy(g => g.Key)
                .Select(g => KeyValuePair.Create(g.Key, (JsonNode?)g.Sum(kv => kv.Value)))),
            ["quarantined"] = new JsonArray(reports.SelectMany(r => r.Quarantined).Distinct().Order().Select(q => (JsonNode)q).ToArray()),
            ["agents"] = agents,
        };
    }
}
