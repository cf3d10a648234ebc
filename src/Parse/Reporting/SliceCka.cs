using System.Globalization;
using System.Text;
using Parse.Data;
using Parse.Simulation;
using Parse.Util;
using TorchSharp;

namespace Parse.Reporting;

/// <summary>
/// Linear CKA between slices of the same kind over a round's agents (<c>eval.cka: true</c>): Slices of one kind from
/// every (agent, modality) on the same test samples, compared in three sets of pairs: across modalities within one
/// agent, across modalities between agents, and within one modality between agents.
/// </summary>
/// <param name="Round">Evaluated round.</param>
/// <param name="Slice">Slice kind: redundant or unique.</param>
/// <param name="Pairs">cross-modal/same-agent, cross-modal/across-agents or same-modality/across-agents.</param>
/// <param name="Mean">Mean CKA over the pairs.</param>
/// <param name="Min">Smallest CKA of a pair.</param>
/// <param name="Max">Largest CKA of a pair.</param>
/// <param name="Count">Pairs compared.</param>
public sealed record SliceCkaRow(int Round, string Slice, string Pairs, double Mean, double Min, double Max, int Count);

/// <summary>
/// Measures and writes slice CKA (see <see cref="SliceCkaRow"/>). The paper's alignment claim is that redundant slices of
/// different modalities come to represent the same information, across agents too: then the cross-modal CKA of the
/// redundant slices rises over the rounds above that of the unique slices and above local training's.
/// </summary>
public static class SliceCka
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>The three pair sets, in report order.</summary>
    public static readonly IReadOnlyList<string> PairSets = ["cross-modal/same-agent", "cross-modal/across-agents", "same-modality/across-agents"];

    /// <summary>
    /// CKA rows of one round for <paramref name="agents"/> (three-slice models only; monolithic models contribute nothing)
    /// on the first <paramref name="samples"/> test samples. Does not change any parameter, optimizer state or batch sequence.
    /// </summary>
    public static List<SliceCkaRow> Measure(int round, IReadOnlyList<Agent> agents, MultimodalData test, int samples = 500)
    {
        int n = (int)Math.Min(samples, test.Count);
        var rows = new List<SliceCkaRow>();
        if (n < 2) return rows;
        var entries = new List<(int Agent, string Modality, string Slice, LinearCka.Prepared Z)>();
        foreach (var agent in agents)
        {
            if (agent.Model.Groups.All(g => g.Role is Model.GroupRole.Task or Model.GroupRole.Embedding)) continue;
            using var scope = torch.NewDisposeScope();
            using var noGrad = torch.no_grad();
            agent.Group.Model.eval();   // training sets train() at the start of each local pass
            var output = agent.Model.Forward(agent.Modalities.ToDictionary(m => m, m => test.Views[m].narrow(0, 0, n)));
            foreach (var (m, s) in output.Slices)
                foreach (var (kind, z) in new[] { ("redundant", s.Redundant), ("unique", s.Unique) })
                {
                    var flat = z.detach().reshape(n, -1).contiguous().to_type(torch.ScalarType.Float32);
                    entries.Add((agent.Id, m, kind, LinearCka.Prepare(flat.data<float>().ToArray(), n, (int)flat.shape[1])));
                }
        }
        foreach (var kind in new[] { "redundant", "unique" })
        {
            var mine = entries.Where(e => e.Slice == kind).ToList();
            var bySet = PairSets.ToDictionary(p => p, _ => new List<double>());
            for (int i = 0; i < mine.Count; i++)
                for (int j = i + 1; j < mine.Count; j++)
                {
                    var (a, b) = (mine[i], mine[j]);
                    string? set = a.Agent == b.Agent
                        ? (a.Modality != b.Modality ? PairSets[0] : null)
                        : (a.Modality != b.Modality ? PairSets[1] : PairSets[2]);
                    if (set is null) continue;
                    double cka = LinearCka.Of(a.Z, b.Z);
                    if (!double.IsNaN(cka)) bySet[set].Add(cka);
                }
            foreach (var set in PairSets)
                if (bySet[set].Count > 0)
                    rows.Add(new SliceCkaRow(round, kind, set, bySet[set].Average(), bySet[set].Min(), bySet[set].Max(), bySet[set].Count));
        }
        return rows;
    }

    /// <summary>Writes cka.csv and cka.png into <paramref name="dir"/> and appends a "Slice CKA" section to report.md there.</summary>
    public static void Write(string dir, IReadOnlyList<SliceCkaRow> rows)
    {
        if (rows.Count == 0) return;
        var csv = new StringBuilder("round,slice,pairs,mean,min,max,count\n");
        foreach (var r in rows) csv.AppendLine(string.Create(Inv, $"{r.Round},{r.Slice},{r.Pairs},{r.Mean:F4},{r.Min:F4},{r.Max:F4},{r.Count}"));
        AtomicFile.WriteAllText(Path.Combine(dir, "cka.csv"), csv.ToString());
        var series = rows.GroupBy(r => $"{r.Slice}, {r.Pairs}").OrderBy(g => g.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => (g.Select(r => (double)r.Round).ToArray(), g.Select(r => r.Mean).ToArray()));
        Plots.Lines(Path.Combine(dir, "cka.png"), "Linear CKA between slices (mean over pairs)", "CKA", series);
        var md = new StringBuilder("## Slice CKA\n\n");
        md.AppendLine("Linear CKA between slices of the same kind on the same test samples, mean over the pairs of (agent, modality) " +
                      "slices in each set (min-max in brackets). 1 = the same representation up to rotation and scale; independent " +
                      "representations score near 0. Cross-modal pairs compare a slice of one modality's encoder with the same kind of " +
                      "slice of another modality's encoder.").AppendLine();
        var last = rows.Max(r => r.Round);
        md.AppendLine("| round | slice | " + string.Join(" | ", PairSets) + " |");
        md.AppendLine("|---:|---|" + string.Concat(Enumerable.Repeat("---:|", PairSets.Count)));
        foreach (var g in rows.GroupBy(r => (r.Round, r.Slice)).OrderBy(g => g.Key.Slice, StringComparer.Ordinal).ThenBy(g => g.Key.Round))
            md.AppendLine($"| {g.Key.Round} | {g.Key.Slice} | " + string.Join(" | ", PairSets.Select(p => g.FirstOrDefault(r => r.Pairs == p) is { } r
                ? string.Create(Inv, $"{r.Mean:F3} [{r.Min:F2}, {r.Max:F2}]") : "–")) + " |");
        md.AppendLine().AppendLine($"Pairs at round {last}: " + string.Join(", ", rows.Where(r => r.Round == last && r.Slice == "redundant")
            .Select(r => $"{r.Pairs} {r.Count}")) + ".").AppendLine().AppendLine("![slice CKA](cka.png)");
        string report = Path.Combine(dir, "report.md");
        if (File.Exists(report)) AtomicFile.WriteAllText(report, File.ReadAllText(report).TrimEnd() + "\n\n" + md);
    }
}
