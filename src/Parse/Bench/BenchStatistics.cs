using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Parse.Bench;

/// <summary>
/// The statistics sections of a bench's results.md: per agent type, paired differences of every row to the grid's
/// baseline (one difference per seed, same other coordinates) with 95% t intervals, the distribution of per-agent
/// gains pooled over seeds, and bytes per agent to reach a common target accuracy.
/// </summary>
public static class BenchStatistics
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Share of the best row's final accuracy (per agent type) that defines the bytes-to-target target.</summary>
    public const double TargetFraction = 0.95;

    /// <summary>One evaluated round of one cell: per agent its type, accuracy and cumulative bytes sent.</summary>
    private sealed record Eval(int Round, string Type, double Accuracy, double BytesSent);

    /// <summary>Writes the sections into <paramref name="md"/>; returns paired.csv and bytes_to_target.csv contents.</summary>
    public static (string PairedCsv, string TargetCsv) Write(GridSpec grid, string outDir, IReadOnlyList<GridCell> cells,
        IReadOnlyDictionary<string, JsonObject> summaries, IReadOnlyList<string> groupAxes, IReadOnlyList<string> types, StringBuilder md)
    {
        var rows = cells.Where(c => summaries.ContainsKey(c.Id))
            .GroupBy(c => string.Join("|", groupAxes.Select(a => c.Get(a)))).Select(g => g.ToList()).ToList();
        string paired = WritePaired(grid, cells, summaries, groupAxes, types, rows, outDir, md);
        string target = WriteBytesToTarget(outDir, summaries, groupAxes, types, rows, md);
        WriteProbes(outDir, groupAxes, rows, md);
        WriteCka(outDir, groupAxes, rows, md);
        return (paired, target);
    }

    /// <summary>Slice x factor probe table of the multimodal agents (cells run with <c>eval.probes: true</c>), mean over agents and seeds.</summary>
    private static void WriteProbes(string outDir, IReadOnlyList<string> groupAxes, List<List<GridCell>> rows, StringBuilder md)
    {
        var lines = new List<(string Row, string Slice, string Factor, double Acc)>();
        foreach (var row in rows)
        {
            string label = string.Join(" ", groupAxes.Select(a => row[0].Get(a)));
            foreach (var c in row)
                foreach (var r in ReadRows(Path.Combine(BenchRunner.CellDir(outDir, c), "probes.csv")))
                    if (r["type"].Contains('+'))
                        lines.Add((label, r["type"] + " " + r["slice"], r["factor"], double.Parse(r["accuracy"], Inv)));
        }
        if (lines.Count == 0) return;
        var factors = lines.Select(l => l.Factor).Distinct().ToList();
        md.AppendLine().AppendLine("## Slice probes (multimodal agents)").AppendLine();
        md.AppendLine("Linear-probe accuracy of each slice for each label factor (chance 0.5), mean over the multimodal agents and seeds; " +
                      "see a run's report.md \"Slice probes\".").AppendLine();
        md.AppendLine("| " + string.Join(" ", groupAxes) + " | slice | " + string.Join(" | ", factors) + " |");
        md.AppendLine("|---|---|" + string.Concat(Enumerable.Repeat("---:|", factors.Count)));
        foreach (var g in lines.GroupBy(l => (l.Row, l.Slice)))
            md.AppendLine($"| {g.Key.Row} | {g.Key.Slice} | " + string.Join(" | ", factors.Select(f =>
                g.Where(l => l.Factor == f).Select(l => l.Acc).DefaultIfEmpty(double.NaN).Average().ToString("F2", Inv))) + " |");
    }

    /// <summary>Slice CKA over the evaluated rounds (cells run with <c>eval.cka: true</c>), mean over seeds, per row, slice kind and pair set.</summary>
    private static void WriteCka(string outDir, IReadOnlyList<string> groupAxes, List<List<GridCell>> rows, StringBuilder md)
    {
        var lines = new List<(string Row, string Slice, string Pairs, int Round, string Cell, double Cka)>();
        foreach (var row in rows)
        {
            string label = string.Join(" ", groupAxes.Select(a => row[0].Get(a)));
            foreach (var c in row)
                foreach (var r in ReadRows(Path.Combine(BenchRunner.CellDir(outDir, c), "cka.csv")))
                    lines.Add((label, r["slice"], r["pairs"], int.Parse(r["round"], Inv), c.Id, double.Parse(r["mean"], Inv)));
        }
        if (lines.Count == 0) return;
        var rounds = lines.Select(l => l.Round).Distinct().Order().ToList();
        md.AppendLine().AppendLine("## Slice CKA").AppendLine();
        md.AppendLine("Linear CKA between slices of one kind of different (agent, modality) pairs on the same test samples, per pair set, " +
                      "mean over the pairs and then over the seeds that measured it (cells run with `eval.cka: true`); see a run's report.md " +
                      "\"Slice CKA\".").AppendLine();
        md.AppendLine("| " + string.Join(" ", groupAxes) + " | slice | pairs | seeds | " + string.Join(" | ", rounds.Select(r => $"round {r}")) + " |");
        md.AppendLine("|---|---|---|---:|" + string.Concat(Enumerable.Repeat("---:|", rounds.Count)));
        foreach (var g in lines.GroupBy(l => (l.Row, l.Slice, l.Pairs)))
            md.AppendLine($"| {g.Key.Row} | {g.Key.Slice} | {g.Key.Pairs} | {g.Select(l => l.Cell).Distinct().Count()} | " + string.Join(" | ", rounds.Select(r =>
                g.Where(l => l.Round == r).Select(l => l.Cka).DefaultIfEmpty(double.NaN).Average() is var v && double.IsNaN(v) ? "–" : v.ToString("F3", Inv))) + " |");
    }

    private static string WritePaired(GridSpec grid, IReadOnlyList<GridCell> cells, IReadOnlyDictionary<string, JsonObject> summaries,
        IReadOnlyList<string> groupAxes, IReadOnlyList<string> types, List<List<GridCell>> rows, string outDir, StringBuilder md)
    {
        var csv = new StringBuilder();
        csv.AppendLine(string.Join(",", groupAxes) + ",type,baseline,pairs,diff_mean,diff_std,ci95_low,ci95_high,agents,agents_gaining,gain_min,gain_q1,gain_median,gain_q3,gain_max");
        if (grid.Baseline is not { } bl) return csv.ToString();
        md.AppendLine().AppendLine(Inv, $"## Paired differences to `{bl.Axis}={bl.Value}`").AppendLine();
        md.AppendLine("Per agent type: mean over seeds of (row − baseline) in the type's mean accuracy, each seed paired with the baseline " +
                      "cell of the same seed and other coordinates; 95% confidence interval from the t distribution with pairs − 1 degrees " +
                      "of freedom (**bold** when the interval excludes 0). Per-agent gains (the agent's accuracy minus the same agent's " +
                      "under the baseline) are pooled over seeds: min / median / max and the share of agents that gain.").AppendLine();
        md.AppendLine("| " + string.Join(" | ", groupAxes) + " | type | pairs | Δ mean [95% CI] | agents gaining | per-agent gain min / median / max |");
        md.AppendLine("|" + string.Concat(Enumerable.Repeat("---|", groupAxes.Count + 1)) + "---:|---:|---:|---:|");
        var typeCache = new Dictionary<string, IReadOnlyList<string>>();
        IReadOnlyList<string> TypesOf(GridCell c)
        {
            if (!typeCache.TryGetValue(c.Id, out var t))
                typeCache[c.Id] = t = AgentTypes(Path.Combine(BenchRunner.CellDir(outDir, c), "metrics.csv"));
            return t;
        }
        foreach (var row in rows)
        {
            if (row[0].Get(bl.Axis) == bl.Value) continue;
            foreach (var type in types)
            {
                var diffs = new List<double>();
                var gains = new List<double>();
                foreach (var c in row)
                {
                    var refCoords = c.Coordinates.Select(x => x.Axis == bl.Axis ? (x.Axis, bl.Value) : x).ToList();
                    var refCell = cells.FirstOrDefault(r => r.Coordinates.SequenceEqual(refCoords));
                    if (refCell is null || !summaries.TryGetValue(refCell.Id, out var rs)) continue;
                    var s = summaries[c.Id];
                    double? mine = s["accuracy"]?["by_agent_type"]?[type]?.GetValue<double>();
                    double? theirs = rs["accuracy"]?["by_agent_type"]?[type]?.GetValue<double>();
                    if (mine is null || theirs is null) continue;
                    diffs.Add(mine.Value - theirs.Value);
                    var a = s["accuracy"]?["per_agent"]?.AsArray().Select(x => x!.GetValue<double>()).ToList();
                    var b = rs["accuracy"]?["per_agent"]?.AsArray().Select(x => x!.GetValue<double>()).ToList();
                    var ta = TypesOf(c);
                    if (a is null || b is null || a.Count != b.Count || ta.Count != a.Count) continue;
                    for (int i = 0; i < a.Count; i++) if (ta[i] == type) gains.Add(a[i] - b[i]);
                }
                if (diffs.Count == 0) continue;
                var p = PairedDifference.Of(diffs);
                var d = Distribution.Of(gains);
                string ci = p.N > 1 ? $"{p.Mean:+0.000;-0.000} [{p.Low:+0.000;-0.000}, {p.High:+0.000;-0.000}]" : $"{p.Mean:+0.000;-0.000}";
                if (p.SignificantGain || p.SignificantLoss) ci = $"**{ci}**";
                string agents = d.N == 0 ? "–" : $"{d.Positive}/{d.N}";
                string dist = d.N == 0 ? "–" : $"{d.Min:+0.000;-0.000} / {d.Median:+0.000;-0.000} / {d.Max:+0.000;-0.000}";
                md.AppendLine("| " + string.Join(" | ", groupAxes.Select(ax => row[0].Get(ax))) + $" | {type} | {p.N} | {ci} | {agents} | {dist} |");
                static string F(double x) => double.IsNaN(x) ? "" : x.ToString("F4", Inv);
                csv.AppendLine(string.Join(",", groupAxes.Select(ax => row[0].Get(ax))) + $",{type},{bl.Value},{p.N},{F(p.Mean)},{F(p.Std)},{F(p.Low)},{F(p.High)}," +
                               $"{d.N},{d.Positive},{F(d.Min)},{F(d.Q1)},{F(d.Median)},{F(d.Q3)},{F(d.Max)}");
            }
        }
        return csv.ToString();
    }

    private static string WriteBytesToTarget(string outDir, IReadOnlyDictionary<string, JsonObject> summaries, IReadOnlyList<string> groupAxes,
        IReadOnlyList<string> types, List<List<GridCell>> rows, StringBuilder md)
    {
        var csv = new StringBuilder();
        csv.AppendLine(string.Join(",", groupAxes) + ",type,target_accuracy,seeds,seeds_reached,round_mean,bytes_per_agent_mean");
        var evals = rows.SelectMany(r => r).ToDictionary(c => c.Id, c => ReadEvals(Path.Combine(BenchRunner.CellDir(outDir, c), "metrics.csv")));
        // target per type: a share of the best row's final accuracy (mean over seeds), the same for every row; the
        // centralized upper bound exchanges nothing and pools all data, so it is not a candidate (it would set a target
        // no decentralized row can reach)
        var targets = new Dictionary<string, double>();
        var candidates = rows.Where(r => !IsCentralized(r, summaries)).ToList();
        foreach (var t in types)
        {
            var finals = candidates.Select(r => r.Select(c => summaries[c.Id]["accuracy"]?["by_agent_type"]?[t]?.GetValue<double>())
                .Where(x => x.HasValue).Select(x => x!.Value).DefaultIfEmpty(double.NaN).Average()).Where(x => !double.IsNaN(x)).ToList();
            if (finals.Count > 0) targets[t] = TargetFraction * finals.Max();
        }
        if (targets.Count == 0) return csv.ToString();
        md.AppendLine().AppendLine("## Bytes to reach a target accuracy").AppendLine();
        md.AppendLine(string.Create(Inv, $"Target per agent type: {TargetFraction:P0} of the best row's final accuracy (") +
                      string.Join(", ", targets.Select(kv => string.Create(Inv, $"{kv.Key} {kv.Value:F3}"))) + "), the same for every row" +
                      (candidates.Count < rows.Count ? " (centralized rows are not candidates for the best row: an upper bound that exchanges nothing)" : "") +
                      ". Per seed: the first " +
                      "evaluated round at which the type's mean accuracy reaches it, and the mean bytes each agent of the type had sent " +
                      "by then; averaged over the seeds that reached it (\"–\" = no seed did).").AppendLine();
        md.AppendLine("| " + string.Join(" | ", groupAxes) + " | " + string.Join(" | ", types.Select(t => t + " (seeds, round, MiB/agent)")) + " |");
        md.AppendLine("|" + string.Concat(Enumerable.Repeat("---|", groupAxes.Count)) + string.Concat(Enumerable.Repeat("---:|", types.Count)));
        foreach (var row in rows)
        {
            var parts = new List<string>();
            foreach (var t in types)
            {
                if (!targets.TryGetValue(t, out double target)) { parts.Add("–"); continue; }
                var reached = new List<(int Round, double Bytes)>();
                foreach (var c in row)
                {
                    var byRound = evals[c.Id].Where(e => e.Type == t).GroupBy(e => e.Round).OrderBy(g => g.Key);
                    foreach (var g in byRound)
                        if (g.Average(e => e.Accuracy) >= target) { reached.Add((g.Key, g.Average(e => e.BytesSent))); break; }
                }
                string cellMd = reached.Count == 0 ? $"0/{row.Count}, –"
                    : $"{reached.Count}/{row.Count}, {reached.Average(r => r.Round):F0}, {reached.Average(r => r.Bytes) / 1048576.0:F2}";
                parts.Add(cellMd);
                csv.AppendLine(string.Join(",", groupAxes.Select(a => row[0].Get(a))) + $",{t},{target.ToString("F4", Inv)},{row.Count},{reached.Count}," +
                               (reached.Count == 0 ? "," : $"{reached.Average(r => r.Round).ToString("F1", Inv)},{reached.Average(r => r.Bytes).ToString("F0", Inv)}"));
            }
            md.AppendLine("| " + string.Join(" | ", groupAxes.Select(a => row[0].Get(a))) + " | " + string.Join(" | ", parts) + " |");
        }
        return csv.ToString();
    }

    /// <summary>Whether a row's cells ran the centralized upper bound (by their summary's <c>strategy</c>).</summary>
    private static bool IsCentralized(List<GridCell> row, IReadOnlyDictionary<string, JsonObject> summaries) =>
        row.All(c => summaries[c.Id]["strategy"]?.GetValue<string>() == "centralized");

    /// <summary>Agent types by agent index, from a run's metrics.csv.</summary>
    private static IReadOnlyList<string> AgentTypes(string metricsCsv)
    {
        var byAgent = new SortedDictionary<int, string>();
        foreach (var e in ReadRows(metricsCsv))
            if (int.TryParse(e.GetValueOrDefault("agent"), NumberStyles.Integer, Inv, out int a)) byAgent[a] = e.GetValueOrDefault("type") ?? "";
        return byAgent.Count == 0 || byAgent.Keys.Last() != byAgent.Count - 1 ? [] : byAgent.Values.ToList();
    }

    private static List<Eval> ReadEvals(string metricsCsv) => ReadRows(metricsCsv)
        .Select(r => new Eval(int.Parse(r["round"], Inv), r["type"], double.Parse(r["accuracy"], Inv),
            double.TryParse(r.GetValueOrDefault("bytes_sent"), NumberStyles.Float, Inv, out double b) ? b : 0)).ToList();

    /// <summary>Rows of a run's CSV (header names to values; a missing file gives none).</summary>
    internal static IEnumerable<Dictionary<string, string>> ReadRows(string path)
    {
        if (!File.Exists(path)) yield break;
        using var reader = new StreamReader(path);
        var header = reader.ReadLine()?.Split(',');
        if (header is null) yield break;
        while (reader.ReadLine() is { } line)
        {
            var f = line.Split(',');
            yield return header.Select((h, i) => (h, v: i < f.Length ? f[i] : "")).ToDictionary(x => x.h, x => x.v);
        }
    }
}
