using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Parse.Config;
using Parse.Reporting;
using Parse.Simulation;

namespace Parse.Bench;

/// <summary>Progress of a grid run.</summary>
/// <param name="Changed">The cell had a result from a different resolved config (e.g. other <c>--set</c> values) and was rerun.</param>
public sealed record BenchProgress(int Done, int Total, GridCell Cell, bool Skipped, double Seconds, bool Changed = false);

/// <summary>
/// Runs every cell of a grid into <c>OUT/cells/ID</c> (each an ordinary, atomically written run directory).
/// A cell whose <c>summary.json</c> exists and whose stored resolved config (<c>config.json</c>) is the one this run
/// would use is skipped, so an interrupted bench resumes where it stopped; a cell whose config changed (other
/// <c>--set</c> values, an edited base file) is rerun, never reused under the new label.
/// Then aggregates all cells into <c>results.md</c> and <c>results.csv</c>.
/// </summary>
public static class BenchRunner
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static string CellDir(string outDir, GridCell cell) => Path.Combine(outDir, "cells", cell.Id);

    /// <summary>Validates every cell's config before running any, so a bad axis value fails fast.</summary>
    public static IReadOnlyList<(GridCell Cell, ExperimentConfig Config)> Resolve(GridSpec grid)
    {
        var list = new List<(GridCell, ExperimentConfig)>();
        foreach (var cell in grid.Cells())
        {
            try { list.Add((cell, ConfigLoader.Load(grid.BasePath, cell.Overrides))); }
            catch (ConfigException e) { throw new ConfigException($"grid cell {cell.Id}: {e.Message}"); }
        }
        return list;
    }

    /// <summary>SHA-256 (hex) of a resolved config as written to a run's <c>config.json</c>: the key of a bench cell's result.</summary>
    public static string ConfigHash(ExperimentConfig cfg) => Hash(ConfigLoader.ToJson(cfg));

    /// <summary>Hash of the resolved config stored in a finished cell (its <c>config.json</c>, written as <see cref="ConfigLoader.ToJson"/>), or null.</summary>
    private static string? StoredConfigHash(string cellDir)
    {
        string path = Path.Combine(cellDir, "config.json");
        try { return File.Exists(path) ? Hash(File.ReadAllText(path)) : null; }
        catch (IOException) { return null; }   // unreadable: rerun the cell
    }

    private static string Hash(string text) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    public static void Run(GridSpec grid, string outDir, IProgress<BenchProgress>? progress = null, CancellationToken ct = default,
        Func<ExperimentConfig, ExperimentConfig>? adjust = null)
    {
        var cells = Resolve(grid);
        Directory.CreateDirectory(outDir);
        int done = 0;
        string baseDir = Path.GetDirectoryName(grid.BasePath)!;
        foreach (var (cell, cfg0) in cells)
        {
            ct.ThrowIfCancellationRequested();
            string dir = CellDir(outDir, cell);
            var t = System.Diagnostics.Stopwatch.StartNew();
            var cfg = (adjust is null ? cfg0 : adjust(cfg0)) with { Name = cell.Id };
            bool done0 = File.Exists(Path.Combine(dir, "summary.json"));
            bool skip = done0 && StoredConfigHash(dir) == ConfigHash(cfg);
            if (!skip) ExperimentRunner.Run(cfg, dir, baseDir, overwrite: true, ct: ct);
            progress?.Report(new BenchProgress(++done, cells.Count, cell, skip, t.Elapsed.TotalSeconds, Changed: done0 && !skip));
        }
        Aggregate(grid, outDir);
    }

    /// <summary>Accuracy per agent type over rounds, gradient conflict over rounds and bytes per link (PNG).</summary>
    private static void WritePlots(GridSpec grid, string outDir, IReadOnlyList<(string Label, List<GridCell> Cells)> rows, IReadOnlyList<string> types, StringBuilder md)
    {
        md.AppendLine().AppendLine("## Figures").AppendLine();
        foreach (var t in types)
        {
            var series = new Dictionary<string, (double[], double[])>();
            foreach (var (label, cells) in rows)
            {
                var perRound = cells.SelectMany(c => BenchStatistics.ReadRows(Path.Combine(CellDir(outDir, c), "metrics.csv")))
                    .Where(r => r["type"] == t)
                    .GroupBy(r => int.Parse(r["round"], Inv)).OrderBy(g => g.Key)
                    .Select(g => (g.Key, g.Average(r => double.Parse(r["accuracy"], Inv)))).ToList();
                if (perRound.Count > 0) series[label] = (perRound.Select(x => (double)x.Key).ToArray(), perRound.Select(x => x.Item2).ToArray());
            }
            string file = $"accuracy_{new string(t.Select(ch => char.IsLetterOrDigit(ch) ? ch : '_').ToArray())}.png";
            Plots.Lines(Path.Combine(outDir, file), $"test accuracy of '{t}' agents (mean over agents and seeds)", "accuracy", series);
            md.AppendLine(Inv, $"![accuracy {t}]({file})");
        }
        // the same accuracies against the MiB each agent had sent: the accuracy-vs-bytes curve of every row
        foreach (var t in types)
        {
            var series = new Dictionary<string, (double[], double[])>();
            foreach (var (label, cells) in rows)
            {
                var perRound = cells.SelectMany(c => BenchStatistics.ReadRows(Path.Combine(CellDir(outDir, c), "metrics.csv")))
                    .Where(r => r["type"] == t && r.ContainsKey("bytes_sent"))
                    .GroupBy(r => int.Parse(r["round"], Inv)).OrderBy(g => g.Key)
                    .Select(g => (g.Average(r => double.Parse(r["bytes_sent"], Inv)) / 1048576, g.Average(r => double.Parse(r["accuracy"], Inv)))).ToList();
                if (perRound.Count > 0) series[label] = (perRound.Select(x => x.Item1).ToArray(), perRound.Select(x => x.Item2).ToArray());
            }
            string file = $"accuracy_vs_bytes_{new string(t.Select(ch => char.IsLetterOrDigit(ch) ? ch : '_').ToArray())}.png";
            Plots.Lines(Path.Combine(outDir, file), $"test accuracy of '{t}' agents vs MiB each had sent (mean over agents and seeds)", "accuracy", series,
                xLabel: "MiB sent per agent (cumulative)");
            md.AppendLine(Inv, $"![accuracy vs bytes {t}]({file})");
        }
        var conflict = new Dictionary<string, (double[], double[])>();
        foreach (var (label, cells) in rows)
        {
            var perRound = cells.SelectMany(c => BenchStatistics.ReadRows(Path.Combine(CellDir(outDir, c), "conflict.csv")))
                .Where(r => r["key"] == "ALL").GroupBy(r => int.Parse(r["round"], Inv)).OrderBy(g => g.Key)
                .Select(g => (g.Key, g.Average(r => double.Parse(r["cosine"], Inv)))).ToList();
            if (perRound.Count > 0) conflict[label] = (perRound.Select(x => (double)x.Key).ToArray(), perRound.Select(x => x.Item2).ToArray());
        }
        if (conflict.Count > 0)
        {
            Plots.Lines(Path.Combine(outDir, "gradient_conflict.png"), "gradient cosine, unimodal vs multimodal agents, on shared parameters", "cosine", conflict);
            md.AppendLine("![gradient conflict](gradient_conflict.png)");
        }
        var bytes = rows.Select(r => (r.Label, r.Cells.Select(c => Path.Combine(CellDir(outDir, c), "summary.json")).Where(File.Exists)
            .Select(f => JsonNode.Parse(File.ReadAllText(f))!["bytes_per_link_per_round"]!["mean"]!.GetValue<double>()).DefaultIfEmpty(0).Average())).ToList();
        Plots.Bars(Path.Combine(outDir, "bytes_per_link.png"), "mean bytes per directed link per round", "bytes", bytes);
        md.AppendLine("![bytes per link](bytes_per_link.png)");
    }

    /// <summary>
    /// Bytes per directed link per round, split by parameter-group role (trunk, unique, redundant, synergy, head, ...):
    /// each role's share of the bytes sent times the mean over links that carried traffic, averaged over seeds.
    /// </summary>
    private static void WriteCommunication(IReadOnlyList<string> groupAxes, IReadOnlyList<(GridCell First, List<JsonObject> Cells)> rows,
        StringBuilder md, out string csv)
    {
        var roles = rows.SelectMany(r => r.Cells).SelectMany(s => s["bytes_by_role"]?.AsObject().Select(kv => kv.Key) ?? [])
            .Distinct().OrderBy(r => r, StringComparer.Ordinal).ToList();
        var csvOut = new StringBuilder();
        csvOut.AppendLine(string.Join(",", groupAxes) + "," + string.Join(",", roles.Select(r => "bytes_" + r)) + ",bytes_total,links_max,bytes_per_agent_round,links_used,links_added_by_repair");
        md.AppendLine().AppendLine("## Communication: bytes per directed link per round, by parameter group").AppendLine();
        md.AppendLine("Mean over links that carried traffic and over seeds; each group's share of all bytes sent times the mean per link. " +
                      "\"max link\" is the busiest link (bytes per round). On time-varying graphs (random gossip) a link is used in few rounds, " +
                      "so \"per agent-round\" (all bytes / rounds / agents) is the comparable figure. KiB = 1,024 bytes. \"links used\": undirected links that " +
                      "carried traffic, with, in brackets, how many of them overlay repair added to the base graph (mean over seeds).").AppendLine();
        md.AppendLine("| " + string.Join(" | ", groupAxes.Select(RunWriter.MdCell)) + " | " + string.Join(" | ", roles.Select(RunWriter.MdCell)) + " | total | max link | per agent-round | links used (+repair) |");
        md.AppendLine("|" + string.Concat(Enumerable.Repeat("---|", groupAxes.Count)) + string.Concat(Enumerable.Repeat("---:|", roles.Count + 4)));
        foreach (var (first, cells) in rows)
        {
            double PerLink(JsonObject s, string? role)
            {
                double mean = s["bytes_per_link_per_round"]?["mean"]?.GetValue<double>() ?? 0;
                if (role is null) return mean;
                double total = s["bytes_sent_total"]?.GetValue<long>() ?? 0;
                double mine = s["bytes_by_role"]?[role]?.GetValue<long>() ?? 0;
                return total <= 0 ? 0 : mean * mine / total;
            }
            var byRole = roles.Select(r => cells.Average(s => PerLink(s, r))).ToList();
            double all = cells.Average(s => PerLink(s, null));
            double max = cells.Average(s => s["bytes_per_link_per_round"]?["max"]?.GetValue<double>() ?? 0);
            double perAgentRound = cells.Average(s => (s["bytes_sent_total"]?.GetValue<long>() ?? 0) /
                (double)Math.Max(1, (s["rounds"]?.GetValue<int>() ?? 1) * (s["agents"]?.GetValue<int>() ?? 1)));
            var withLinks = cells.Where(s => s["links"] is JsonObject).ToList();
            double used = withLinks.Count == 0 ? double.NaN : withLinks.Average(s => s["links"]!["used"]!.GetValue<int>());
            double added = withLinks.Count == 0 ? double.NaN : withLinks.Average(s => s["links"]!["used_outside_base"]!.GetValue<int>());
            string linksMd = double.IsNaN(used) ? "–" : $"{used.ToString("0.#", Inv)} (+{added.ToString("0.#", Inv)})";
            static string K(double bytes) => bytes == 0 ? "0" : (bytes / 1024).ToString("F1", Inv) + " KiB";
            md.AppendLine("| " + string.Join(" | ", groupAxes.Select(a => RunWriter.MdCell(first.Get(a)))) + " | " + string.Join(" | ", byRole.Select(K)) +
                          $" | {K(all)} | {K(max)} | {K(perAgentRound)} | {linksMd} |");
            csvOut.AppendLine(string.Join(",", groupAxes.Select(a => first.Get(a))) + "," + string.Join(",", byRole.Select(x => x.ToString("F1", Inv))) +
                              $",{all.ToString("F1", Inv)},{max.ToString("F1", Inv)},{perAgentRound.ToString("F1", Inv)}," +
                              (double.IsNaN(used) ? "," : $"{used.ToString("F1", Inv)},{added.ToString("F1", Inv)}"));
        }
        csv = csvOut.ToString();
    }

    /// <summary>Reads every finished cell and writes results.md / results.csv (mean +- std over seeds).</summary>
    public static string Aggregate(GridSpec grid, string outDir)
    {
        var cells = grid.Cells();
        var summaries = new Dictionary<string, JsonObject>();
        foreach (var c in cells)
        {
            string f = Path.Combine(CellDir(outDir, c), "summary.json");
            if (File.Exists(f)) summaries[c.Id] = JsonNode.Parse(File.ReadAllText(f))!.AsObject();
        }
        var groupAxes = grid.Axes.Where(a => a.Name != grid.SeedAxis).Select(a => a.Name).ToList();
        var types = summaries.Values.SelectMany(s => s["accuracy"]!["by_agent_type"]!.AsObject().Select(kv => kv.Key))
            .Distinct().OrderBy(t => t, StringComparer.Ordinal).ToList();
        var rows = cells.Where(c => summaries.ContainsKey(c.Id))
            .GroupBy(c => string.Join("|", groupAxes.Select(a => c.Get(a))))
            .ToList();
        var md = new StringBuilder();
        var csv = new StringBuilder();
        md.AppendLine(Inv, $"# Bench: {grid.Name}");
        md.AppendLine();
        md.AppendLine(Inv, $"Base experiment `{Path.GetFileName(grid.BasePath)}`; fixed overrides: {(grid.Set.Count == 0 ? "none" : string.Join(", ", grid.Set.Select(s => $"`{s}`")))}.");
        md.AppendLine(Inv, $"{summaries.Count} of {cells.Count} cells finished. Accuracy: mean ± std over seeds of the per-type mean over agents.");
        md.AppendLine();
        md.AppendLine("| " + string.Join(" | ", groupAxes.Select(RunWriter.MdCell)) + " | seeds | " + string.Join(" | ", types.Select(RunWriter.MdCell)) + " | overall | MiB sent | grad. conflict | agents gaining vs baseline | worst agent gain |");
        md.AppendLine("|" + string.Concat(Enumerable.Repeat("---|", groupAxes.Count + 1)) + string.Concat(Enumerable.Repeat("---:|", types.Count + 5)));
        csv.AppendLine(string.Join(",", groupAxes) + ",seeds," + string.Join(",", types.SelectMany(t => new[] { t + "_mean", t + "_std" })) + ",overall_mean,overall_std,mib_sent,conflict_mean,agents_gaining,agents_total,worst_gain");
        foreach (var g in rows)
        {
            var members = g.ToList();
            var first = members[0];
            var cellsOfRow = members.Select(c => summaries[c.Id]).ToList();
            string Stat(Func<JsonObject, double?> f, out double mean, out double std)
            {
                var xs = cellsOfRow.Select(f).Where(x => x.HasValue).Select(x => x!.Value).ToList();
                mean = xs.Count == 0 ? double.NaN : xs.Average();
                double m = mean;
                std = xs.Count <= 1 ? 0 : Math.Sqrt(xs.Sum(x => (x - m) * (x - m)) / (xs.Count - 1));
                return xs.Count == 0 ? "–" : $"{mean:F3} ± {std:F3}";
            }
            var cellsMd = new List<string>();
            var cellsCsv = new List<string>();
            foreach (var t in types)
            {
                cellsMd.Add(Stat(s => s["accuracy"]!["by_agent_type"]![t]?.GetValue<double>(), out double m, out double sd));
                cellsCsv.Add(double.IsNaN(m) ? "," : $"{m.ToString("F4", Inv)},{sd.ToString("F4", Inv)}");
            }
            string overall = Stat(s => s["accuracy"]!["overall"]!.GetValue<double>(), out double om, out double osd);
            double mib = cellsOfRow.Average(s => s["bytes_sent_total"]!.GetValue<long>()) / 1048576.0;
            string conflictMd = Stat(s => s["gradient_conflict"]?["final"]?.GetValue<double>(), out double cm, out _);
            // per-agent gains against the baseline cell with the same other coordinates (and seed)
            int gaining = 0, total = 0;
            double worst = double.PositiveInfinity;
            if (grid.Baseline is { } bl)
                foreach (var c in members)
                {
                    var refCoords = c.Coordinates.Select(x => x.Axis == bl.Axis ? (x.Axis, bl.Value) : x).ToList();
                    var refCell = cells.FirstOrDefault(r => r.Coordinates.SequenceEqual(refCoords));
                    if (refCell is null || !summaries.TryGetValue(refCell.Id, out var rs)) continue;
                    var mine = summaries[c.Id]["accuracy"]!["per_agent"]!.AsArray().Select(x => x!.GetValue<double>()).ToList();
                    var theirs = rs["accuracy"]!["per_agent"]!.AsArray().Select(x => x!.GetValue<double>()).ToList();
                    if (mine.Count != theirs.Count) continue;
                    for (int i = 0; i < mine.Count; i++)
                    {
                        double d = mine[i] - theirs[i];
                        total++;
                        if (d > 0) gaining++;
                        worst = Math.Min(worst, d);
                    }
                }
            string gainMd = total == 0 ? "–" : $"{gaining}/{total}";
            string worstMd = total == 0 ? "–" : worst.ToString("+0.000;-0.000", Inv);
            md.AppendLine("| " + string.Join(" | ", groupAxes.Select(a => RunWriter.MdCell(first.Get(a)))) + $" | {members.Count} | " + string.Join(" | ", cellsMd) +
                          $" | {overall} | {mib:F1} | {conflictMd} | {gainMd} | {worstMd} |");
            csv.AppendLine(string.Join(",", groupAxes.Select(a => first.Get(a))) + $",{members.Count}," + string.Join(",", cellsCsv) +
                           $",{om.ToString("F4", Inv)},{osd.ToString("F4", Inv)},{mib.ToString("F2", Inv)},{(double.IsNaN(cm) ? "" : cm.ToString("F4", Inv))},{gaining},{total},{(total == 0 ? "" : worst.ToString("F4", Inv))}");
        }
        if (grid.Baseline is { } b) md.AppendLine().AppendLine(Inv, $"Gains are per agent against the cell with {b.Axis}={b.Value} and otherwise equal coordinates (same seed).");
        var (pairedCsv, targetCsv) = BenchStatistics.Write(grid, outDir, cells, summaries, groupAxes, types, md);
        AtomicFile.WriteAllText(Path.Combine(outDir, "paired.csv"), pairedCsv);
        AtomicFile.WriteAllText(Path.Combine(outDir, "bytes_to_target.csv"), targetCsv);
        WriteCommunication(groupAxes, rows.Select(g => (g.First(), g.Select(c => summaries[c.Id]).ToList())).ToList(), md, csv: out string commCsv);
        AtomicFile.WriteAllText(Path.Combine(outDir, "communication.csv"), commCsv);
        WritePlots(grid, outDir, rows.Select(g => (string.Join(" ", groupAxes.Select(a => g.First().Get(a))), g.ToList())).ToList(), types, md);
        AtomicFile.WriteAllText(Path.Combine(outDir, "results.md"), md.ToString());
        HtmlReport.Write(Path.Combine(outDir, "results.md"), Path.Combine(outDir, "report.html"), $"Bench: {grid.Name}");
        AtomicFile.WriteAllText(Path.Combine(outDir, "results.csv"), csv.ToString());
        return md.ToString();
    }
}
