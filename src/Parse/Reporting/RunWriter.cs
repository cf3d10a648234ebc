using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Parse.Config;
using Parse.Simulation;

namespace Parse.Reporting;

/// <summary>Writes a finished simulation into a run directory: config, metrics (JSONL, CSV), summary, overlays, links, report.</summary>
public static class RunWriter
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Builds the summary object (stable field names that scripts rely on).</summary>
    public static JsonObject Summary(ExperimentConfig cfg, SimulationResult r)
    {
        var byType = new JsonObject();
        foreach (var (t, a) in r.AccuracyByType) byType[t] = Math.Round(a, 6);
        var stdByType = new JsonObject();
        foreach (var (t, s) in r.AccuracyStdByType) stdByType[t] = Math.Round(s, 6);
        var counts = new JsonObject();
        foreach (var g in r.AgentTypes.GroupBy(t => t).OrderBy(g => g.Key, StringComparer.Ordinal)) counts[g.Key] = g.Count();
        var ceiling = new JsonObject();
        if (r.CeilingByType is not null) foreach (var (t, c) in r.CeilingByType) ceiling[t] = Math.Round(c, 6);
        var roles = new JsonObject();
        foreach (var (k, v) in r.BytesByRole) roles[k] = v;
        var rejected = new JsonObject();
        foreach (var (k, v) in r.Rejected) rejected[k] = v;
        var links = r.BytesByLink.Values.ToList();
        return new JsonObject
        {
            ["name"] = cfg.Name,
            ["strategy"] = cfg.Strategy,
            ["rounds"] = cfg.Rounds,
            ["seed"] = cfg.Seed,
            ["data"] = cfg.Data.Name,
            ["topology"] = cfg.Topology.Kind,
            ["agents"] = r.AgentTypes.Count,
            ["agents_by_type"] = counts,
            ["accuracy"] = new JsonObject
            {
                ["overall"] = Math.Round(r.FinalAccuracy.Where((_, i) => !r.Attackers.Contains(i)).DefaultIfEmpty(0).Average(), 6),
                ["by_agent_type"] = byType,
                ["std_by_agent_type"] = stdByType,
                ["per_agent"] = new JsonArray(r.FinalAccuracy.Select(a => (JsonNode)Math.Round(a, 6)).ToArray()),
                // attackers are not in the figures above (honest agents only)
                ["attackers"] = r.Attackers.Count == 0 ? null : new JsonObject
                {
                    ["kind"] = cfg.Attack.Kind,
                    ["ids"] = new JsonArray(r.Attackers.Select(i => (JsonNode)i).ToArray()),
                    ["by_agent_type"] = new JsonObject(r.AttackerAccuracyByType.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)Math.Round(kv.Value, 6)))),
                },
            },
            ["ceiling"] = new JsonObject { ["by_agent_type"] = ceiling },
            ["accuracy_without_head"] = new JsonObject(r.AccuracyWithoutHead.Select(kv => KeyValuePair.Create(kv.Key,
                (JsonNode?)new JsonObject(kv.Value.Select(t => KeyValuePair.Create(t.Key, (JsonNode?)Math.Round(t.Value, 6))))))),
            ["bytes_sent_total"] = r.BytesSentTotal,
            ["bytes_by_role"] = roles,
            ["bytes_per_link_per_round"] = new JsonObject
            {
                ["mean"] = links.Count == 0 ? 0 : Math.Round(links.Average() / r.Rounds, 1),
                ["max"] = links.Count == 0 ? 0 : Math.Round(links.Max() / (double)r.Rounds, 1),
                // each role's share of the mean (the split the bench's communication table reports)
                ["by_role"] = new JsonObject(r.BytesByRole.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)(links.Count == 0 || r.BytesSentTotal == 0 ? 0
                    : Math.Round(links.Average() / r.Rounds * kv.Value / r.BytesSentTotal, 1))))),
            },
            ["rejected_payloads"] = rejected,
            // mixing.screen: loss (null when off)
            ["screening"] = r.Screening is not { } sc ? null : new JsonObject
            {
                ["checked"] = sc.Checked, ["dropped"] = sc.Dropped,
                ["checked_from_attackers"] = sc.CheckedFromAttackers, ["dropped_from_attackers"] = sc.DroppedFromAttackers,
                ["seconds"] = Math.Round(sc.Seconds, 3),
            },
            ["links"] = r.Links is not { } lk ? null : new JsonObject
            {
                ["base"] = lk.BaseLinks, ["used"] = lk.UsedLinks, ["used_outside_base"] = lk.UsedOutsideBase,
            },
            ["gradient_conflict"] = new JsonObject
            {
                ["final"] = r.Conflict.Count == 0 || double.IsNaN(r.Conflict[^1].Mean) ? null : Math.Round(r.Conflict[^1].Mean, 6),
                ["mean"] = r.Conflict.Where(c => !double.IsNaN(c.Mean)).Select(c => c.Mean).DefaultIfEmpty(double.NaN).Average() is var m && !double.IsNaN(m) ? Math.Round(m, 6) : null,
            },
            ["overlays"] = new JsonArray(r.Overlays.Select(o => (JsonNode)new JsonObject
            {
                ["key"] = o.Key, ["size"] = o.Size, ["edges"] = o.Edges, ["bridges"] = o.Bridges,
                ["min_degree"] = o.MinDegree, ["mean_degree"] = Math.Round(o.MeanDegree, 3), ["max_degree"] = o.MaxDegree,
                ["connected"] = o.Connected, ["spectral_gap"] = Math.Round(o.SpectralGap, 6),
            }).ToArray()),
            ["timing"] = r.Timing is not { } tm ? null : new JsonObject
            {
                ["max_staleness"] = tm.MaxStaleness,
                ["mean_staleness"] = Math.Round(tm.MeanStaleness, 4),
                ["deadline_rounds"] = tm.DeadlineRounds,
                ["missing_payloads"] = tm.MissingPayloads,
                ["mean_round_seconds"] = Math.Round(tm.MeanRoundSeconds, 4),
            },
            ["wall_seconds"] = Math.Round(r.WallSeconds, 3),
            ["throughput"] = new JsonObject
            {
                ["agent_steps"] = r.AgentSteps,
                ["agent_steps_per_second"] = Math.Round(r.AgentSteps / Math.Max(1e-9, r.TrainSeconds), 1),
                ["samples_per_second"] = Math.Round(r.Samples / Math.Max(1e-9, r.TrainSeconds), 1),
                ["train_seconds"] = Math.Round(r.TrainSeconds, 3),
                ["exchange_seconds"] = Math.Round(r.ExchangeSeconds, 3),
                ["eval_seconds"] = Math.Round(r.EvalSeconds, 3),
            },
            ["peak_working_set_mb"] = Math.Round(r.PeakWorkingSetBytes / 1048576.0, 1),
            ["bytes_to_target"] = CommunicationReport.BytesToTarget(r, cfg.Eval.TargetFraction),
            ["privacy"] = CommunicationReport.Privacy(cfg, r),
        };
    }

    /// <summary>One metrics.jsonl line: <c>run</c>, <c>strategy</c>, <c>seed</c>, then the agent's metrics of one evaluated round.</summary>
    public static JsonObject MetricJson(AgentRoundMetrics m, string run, ExperimentConfig cfg)
    {
        var o = MetricJsonCore(m, run, cfg);
        if (m.AllSensorsAccuracy is { } all) o["all_sensors_accuracy"] = Math.Round(all, 6);
        if (m.Unavailable is { } down) o["unavailable"] = down;
        return o;
    }

    private static JsonObject MetricJsonCore(AgentRoundMetrics m, string run, ExperimentConfig cfg) => new()
    {
        ["run"] = run, ["strategy"] = cfg.Strategy, ["seed"] = cfg.Seed,
        ["round"] = m.Round, ["agent"] = m.Agent, ["type"] = m.Type, ["accuracy"] = Math.Round(m.Accuracy, 6),
        ["test_loss"] = Math.Round(m.TestLoss, 6), ["train_loss"] = Math.Round(m.TrainLoss, 6),
        ["bytes_sent"] = m.BytesSent, ["bytes_received"] = m.BytesReceived,
        ["head_accuracy"] = new JsonObject(m.HeadAccuracy.OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)Math.Round(kv.Value, 6)))),
    };

    /// <summary>Writes every output file into <paramref name="dir"/> (a staging directory).</summary>
    public static void Write(RunDirectory dir, ExperimentConfig cfg, SimulationResult r)
    {
        System.IO.File.WriteAllText(dir.File("config.json"), ConfigLoader.ToJson(cfg));
        string run = dir.Name;
        string key = $"{CsvField(run)},{CsvField(cfg.Strategy)},{cfg.Seed.ToString(Inv)}";
        var jsonl = new StringBuilder();
        var csv = new StringBuilder();
        var heads = r.Metrics.SelectMany(m => m.HeadAccuracy.Keys).Distinct().OrderBy(h => h, StringComparer.Ordinal).ToList();
        bool dynamics = r.Metrics.Any(m => m.Unavailable is not null);
        csv.AppendLine("run,strategy,seed,round,agent,type,accuracy,test_loss,train_loss,bytes_sent,bytes_received" + string.Concat(heads.Select(h => "," + CsvField("acc_" + h.Replace('/', '_'))))
            + (dynamics ? ",all_sensors_accuracy,unavailable" : ""));
        foreach (var m in r.Metrics)
        {
            jsonl.AppendLine(MetricJson(m, run, cfg).ToJsonString(RunJson.Line));
            csv.Append(Inv, $"{key},{m.Round},{m.Agent},{CsvField(m.Type)},{m.Accuracy:F6},{m.TestLoss:F6},{m.TrainLoss:F6},{m.BytesSent},{m.BytesReceived}");
            foreach (var h in heads) csv.Append(',').Append(m.HeadAccuracy.TryGetValue(h, out double v) ? v.ToString("F6", Inv) : "");
            if (dynamics) csv.Append(',').Append(m.AllSensorsAccuracy?.ToString("F6", Inv) ?? "").Append(',').Append(CsvField(m.Unavailable ?? ""));
            csv.AppendLine();
        }
        // replaces the file appended to during the run (same rows, complete) in one rename
        AtomicFile.WriteAllText(dir.File("metrics.jsonl"), jsonl.ToString());
        System.IO.File.WriteAllText(dir.File("metrics.csv"), csv.ToString());
        var links = new StringBuilder("run,strategy,seed,from,to,bytes\n");
        foreach (var ((a, b), v) in r.BytesByLink.OrderBy(kv => kv.Key)) links.Append(Inv, $"{key},{a},{b},{v}\n");
        System.IO.File.WriteAllText(dir.File("links.csv"), links.ToString());
        var conflict = new StringBuilder("run,strategy,seed,round,key,cosine\n");
        foreach (var (round, mean, byKey) in r.Conflict)
        {
            if (!double.IsNaN(mean)) conflict.Append(Inv, $"{key},{round},ALL,{mean:F6}\n");
            foreach (var (k, v) in byKey) conflict.Append(Inv, $"{key},{round},{CsvField(k.Split('|')[0])},{v:F6}\n");
        }
        System.IO.File.WriteAllText(dir.File("conflict.csv"), conflict.ToString());
        AccuracyPlots(dir.StagingPath, cfg, r);
        TensorBoardLog.WriteAll(dir.StagingPath, r);
        var summary = Summary(cfg, r);
        if (DynamicsReport.Write(dir, cfg, r) is { } newcomers) summary["newcomers"] = newcomers;
        CommunicationReport.PlotAccuracyVsBytes(dir.File("accuracy_vs_bytes.png"), cfg, r);
        System.IO.File.WriteAllText(dir.File("report.md"), Report(cfg, r) + Figures(dir.StagingPath));
        HtmlReport.Write(dir.File("report.md"), dir.File("report.html"), $"Run report: {cfg.Name}");
        // summary.json last: its presence marks a complete run
        System.IO.File.WriteAllText(dir.File("summary.json"), summary.ToJsonString(RunJson.Indented));
    }

    /// <summary>The report's figures section: the accuracy PNGs present in <paramref name="dir"/> (per agent type, then accuracy vs bytes).</summary>
    public static string Figures(string dir)
    {
        var pngs = Directory.GetFiles(dir, "accuracy_*.png").Select(Path.GetFileName).OfType<string>()
            .OrderBy(f => f == "accuracy_vs_bytes.png").ThenBy(f => f, StringComparer.Ordinal).ToList();
        if (pngs.Count == 0) return "";
        var sb = new StringBuilder("\n## Figures\n\n");
        foreach (var f in pngs) sb.Append(Inv, $"![{Path.GetFileNameWithoutExtension(f).Replace('_', ' ')}]({f})\n\n");
        return sb.ToString();
    }

    /// <summary>File name of the accuracy-vs-round figure of an agent type: <c>accuracy_TYPE.png</c> (non-alphanumerics as '_').</summary>
    public static string AccuracyPlotName(string type) => $"accuracy_{new string(type.Select(ch => char.IsLetterOrDigit(ch) ? ch : '_').ToArray())}.png";

    /// <summary>One PNG per agent type: test accuracy over the evaluated rounds (mean, min and max over its honest agents).</summary>
    public static void AccuracyPlots(string dir, ExperimentConfig cfg, SimulationResult r)
    {
        foreach (var byType in r.Metrics.Where(m => !r.Attackers.Contains(m.Agent)).GroupBy(m => m.Type).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var rounds = byType.GroupBy(m => m.Round).OrderBy(g => g.Key).ToList();
            double[] x = rounds.Select(g => (double)g.Key).ToArray();
            var series = new Dictionary<string, (double[], double[])> { ["mean"] = (x, rounds.Select(g => g.Average(m => m.Accuracy)).ToArray()) };
            if (byType.Select(m => m.Agent).Distinct().Count() > 1)
            {
                series["min"] = (x, rounds.Select(g => g.Min(m => m.Accuracy)).ToArray());
                series["max"] = (x, rounds.Select(g => g.Max(m => m.Accuracy)).ToArray());
            }
            Plots.Lines(Path.Combine(dir, AccuracyPlotName(byType.Key)),
                $"{cfg.Name}: test accuracy of '{byType.Key}' agents ({cfg.Strategy}, seed {cfg.Seed})", "accuracy", series);
        }
    }

    /// <summary>A CSV field, quoted when it holds a comma, quote or line break.</summary>
    public static string CsvField(string s) =>
        s.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;

    /// <summary>Text for a Markdown table cell: '|' is escaped so keys holding it do not split the cell.</summary>
    public static string MdCell(string s) => s.Replace("|", "\\|").Replace("\r", " ").Replace("\n", " ");

    /// <summary>Markdown report: per-type accuracy next to the Bayes ceiling, communication, overlays.</summary>
    public static string Report(ExperimentConfig cfg, SimulationResult r)
    {
        var sb = new StringBuilder();
        sb.AppendLine(Inv, $"# Run report: {cfg.Name}");
        sb.AppendLine();
        sb.AppendLine(Inv, $"strategy `{cfg.Strategy}`, data `{cfg.Data.Name}`, topology `{cfg.Topology.Kind}`, {r.AgentTypes.Count} agents (mix {cfg.Agents.Mix}), {cfg.Rounds} rounds, seed {cfg.Seed}.");
        sb.AppendLine();
        sb.AppendLine("## Final test accuracy per agent type");
        sb.AppendLine();
        sb.AppendLine("| agent type | agents | accuracy (mean ± std over agents) | Bayes ceiling | gap to ceiling |");
        sb.AppendLine("|---|---:|---:|---:|---:|");
        var std = r.AccuracyStdByType;
        foreach (var (t, a) in r.AccuracyByType)
        {
            int n = r.AgentTypes.Count(x => x == t);
            string ceil = r.CeilingByType?.TryGetValue(t, out double c) == true ? c.ToString("F3", Inv) : "n/a";
            string gap = r.CeilingByType?.TryGetValue(t, out double c2) == true ? (c2 - a).ToString("F3", Inv) : "n/a";
            sb.AppendLine(Inv, $"| {MdCell(t)} | {n} | {a:F3} ± {std[t]:F3} | {ceil} | {gap} |");
        }
        sb.AppendLine(Inv, $"| all | {r.AgentTypes.Count} | {r.FinalAccuracy.Average():F3} | | |");
        sb.AppendLine();
        if (r.AccuracyWithoutHead.Count > 0)
        {
            sb.AppendLine("### Slice-drop at inference (head left out of the ensemble)");
            sb.AppendLine();
            sb.AppendLine("| dropped head | " + string.Join(" | ", r.AccuracyByType.Keys.Select(MdCell)) + " |");
            sb.AppendLine("|---|" + string.Concat(r.AccuracyByType.Keys.Select(_ => "---:|")));
            foreach (var (head, byType) in r.AccuracyWithoutHead)
                sb.AppendLine($"| {MdCell(head)} | " + string.Join(" | ", r.AccuracyByType.Keys.Select(t => byType.TryGetValue(t, out double v) ? v.ToString("F3", Inv) : "–")) + " |");
            sb.AppendLine();
        }
        sb.AppendLine("## Communication");
        sb.AppendLine();
        sb.AppendLine(Inv, $"Total bytes sent: {r.BytesSentTotal:N0} ({r.BytesSentTotal / 1048576.0:F2} MiB).");
        sb.AppendLine();
        if (r.BytesByRole.Count > 0)
        {
            sb.AppendLine("| parameter role | bytes sent |");
            sb.AppendLine("|---|---:|");
            foreach (var (k, v) in r.BytesByRole) sb.AppendLine(Inv, $"| {MdCell(k)} | {v:N0} |");
            sb.AppendLine();
        }
        if (r.Rejected.Count > 0)
            sb.AppendLine("Rejected payloads: " + string.Join(", ", r.Rejected.Select(kv => $"{kv.Key} {kv.Value}")) + "\n");
        sb.AppendLine("## Overlays (round 0)");
        sb.AppendLine();
        if (r.Overlays.Count == 0) sb.AppendLine("No group is shared by this strategy.");
        else
        {
            sb.AppendLine("| key | size | edges | bridges added | degree min/mean/max | connected | spectral gap |");
            sb.AppendLine("|---|---:|---:|---:|---|---|---:|");
            foreach (var o in r.Overlays)
                sb.AppendLine(Inv, $"| `{MdCell(o.Key)}` | {o.Size} | {o.Edges} | {o.Bridges} | {o.MinDegree:F0}/{o.MeanDegree:F2}/{o.MaxDegree:F0} | {(o.Connected ? "yes" : "no")} | {o.SpectralGap:F4} |");
        }
        sb.AppendLine();
        if (r.Links is { } links)
        {
            sb.AppendLine($"Links that carried traffic: {links.UsedLinks} ({links.UsedLinks - links.UsedOutsideBase} of the base graph's {links.BaseLinks}, " +
                $"plus {links.UsedOutsideBase} added by overlay repair). `overlay.repair: false` keeps to the base graph; `parse overlays --edges-out FILE` " +
                "writes the repaired graph for `topology.kind: file`, to give another method the same links.");
            sb.AppendLine();
        }
        sb.AppendLine("## Run");
        sb.AppendLine();
        sb.AppendLine(Inv, $"Wall time {r.WallSeconds:F1} s; {r.AgentSteps:N0} agent local steps ({r.AgentSteps / Math.Max(1e-9, r.TrainSeconds):F0} steps/s during training); peak working set {r.PeakWorkingSetBytes / 1048576.0:F0} MiB.");
        return sb.ToString();
    }
}
