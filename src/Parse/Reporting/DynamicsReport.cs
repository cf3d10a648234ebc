using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Parse.Config;
using Parse.Node;
using Parse.Simulation;

namespace Parse.Reporting;

/// <summary>A newcomer's catch-up: how many rounds after joining it reached its type's accuracy.</summary>
/// <param name="Agent">The newcomer.</param>
/// <param name="Type">Its agent type.</param>
/// <param name="JoinRound">Its first round.</param>
/// <param name="FirstAccuracy">Its accuracy at its first evaluation.</param>
/// <param name="TypeAccuracyAtJoin">Mean accuracy of the type's incumbents at that evaluation.</param>
/// <param name="RoundsToTypeAccuracy">
/// Rounds it took part in until an evaluation found it at <c>eval.target_fraction</c> of the incumbents' mean accuracy
/// of that round (1 = after its first round); null if it never did.
/// </param>
public sealed record NewcomerCatchUp(int Agent, string Type, int JoinRound, double FirstAccuracy, double TypeAccuracyAtJoin, int? RoundsToTypeAccuracy);

/// <summary>Run outputs of modality dynamics and churn (docs/dynamics.md): the newcomers' catch-up.</summary>
public static class DynamicsReport
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Every newcomer's catch-up (empty without churn joins). Incumbents: agents of the type present from round 1.</summary>
    public static IReadOnlyList<NewcomerCatchUp> Newcomers(ExperimentConfig cfg, SimulationResult r)
    {
        var schedule = cfg.Strategy == "centralized" ? null : DynamicsSchedule.Of(cfg);
        if (schedule is null) return [];
        var newcomers = schedule.Newcomers.ToDictionary(x => x.Agent, x => x.Round);
        var result = new List<NewcomerCatchUp>();
        var byRound = r.Metrics.Where(m => !r.Attackers.Contains(m.Agent)).ToLookup(m => (m.Round, m.Type));
        foreach (var (agent, join) in newcomers.OrderBy(kv => kv.Key))
        {
            var mine = r.Metrics.Where(m => m.Agent == agent && m.Round >= join).OrderBy(m => m.Round).ToList();
            if (mine.Count == 0) continue;
            double Incumbents(AgentRoundMetrics m)
            {
                var others = byRound[(m.Round, m.Type)].Where(o => !newcomers.ContainsKey(o.Agent)).ToList();
                return others.Count == 0 ? double.NaN : others.Average(o => o.Accuracy);
            }
            int? rounds = null;
            foreach (var m in mine)
                if (m.Accuracy >= cfg.Eval.TargetFraction * Incumbents(m)) { rounds = m.Round - join + 1; break; }
            result.Add(new NewcomerCatchUp(agent, mine[0].Type, join, mine[0].Accuracy, Incumbents(mine[0]), rounds));
        }
        return result;
    }

    /// <summary>Writes <c>newcomers.csv</c> and returns its summary.json block, or null without newcomers.</summary>
    public static JsonObject? Write(RunDirectory dir, ExperimentConfig cfg, SimulationResult r)
    {
        var list = Newcomers(cfg, r);
        if (list.Count == 0) return null;
        var csv = new StringBuilder("agent,type,join_round,warm_start,first_accuracy,type_accuracy_at_join,rounds_to_type_accuracy\n");
        foreach (var n in list)
            csv.Append(Inv, $"{n.Agent},{n.Type},{n.JoinRound},{(cfg.Churn.WarmStart ? "true" : "false")},{n.FirstAccuracy:F6},{n.TypeAccuracyAtJoin:F6},{n.RoundsToTypeAccuracy?.ToString(Inv) ?? ""}\n");
        System.IO.File.WriteAllText(dir.File("newcomers.csv"), csv.ToString());
        return new JsonObject
        {
            ["warm_start"] = cfg.Churn.WarmStart,
            ["target_fraction"] = cfg.Eval.TargetFraction,
            ["agents"] = new JsonArray(list.Select(n => (JsonNode)new JsonObject
            {
                ["agent"] = n.Agent, ["type"] = n.Type, ["join_round"] = n.JoinRound,
                ["first_accuracy"] = Math.Round(n.FirstAccuracy, 6),
                ["type_accuracy_at_join"] = double.IsNaN(n.TypeAccuracyAtJoin) ? null : Math.Round(n.TypeAccuracyAtJoin, 6),
                ["rounds_to_type_accuracy"] = n.RoundsToTypeAccuracy,
            }).ToArray()),
        };
    }
}
