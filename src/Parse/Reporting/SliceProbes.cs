using System.Globalization;
using System.Text;
using Parse.Config;
using Parse.Simulation;
using Parse.Util;
using TorchSharp;
using static TorchSharp.torch;

namespace Parse.Reporting;

/// <summary>One linear probe: how well a slice of an agent predicts one label factor on held-out test samples.</summary>
public sealed record SliceProbe(int Agent, string Type, string Slice, string Factor, double Accuracy);

/// <summary>
/// Slice diagnostics on synthetic-pid (<c>eval.probes: true</c>): after training, a logistic-regression probe of every
/// slice (unique, redundant, synergistic, per modality) of every agent for every label factor (each redundant bit, each
/// modality's unique bit, the synergistic XOR bit), fitted on the first half of the test samples and scored on the
/// second half. Chance is 0.5. Written to <c>probes.csv</c>, a <c>## Slice probes</c> section of report.md and
/// <c>probes.png</c> (slice x factor heatmap, mean over the multimodal agents).
/// </summary>
public static class SliceProbes
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Label factors of a synthetic-pid dataset: name and bit index in the class label.</summary>
    public static IReadOnlyList<(string Name, int Bit)> Factors(DataConfig d)
    {
        var f = new List<(string, int)>();
        int bit = 0;
        for (int r = 0; r < d.RedundantBits; r++) f.Add((d.RedundantBits == 1 ? "redundant" : $"redundant{r}", bit++));
        foreach (var m in d.Modalities)
            for (int u = 0; u < d.UniqueBits; u++) f.Add((d.UniqueBits == 1 ? $"unique/{m}" : $"unique/{m}{u}", bit++));
        for (int s = 0; s < d.SynergyBits; s++) f.Add((d.SynergyBits == 1 ? "synergy-xor" : $"synergy-xor{s}", bit++));
        return f;
    }

    /// <summary>Probes every slice of every agent of <paramref name="sim"/> (three-slice models only; else empty).</summary>
    public static List<SliceProbe> Compute(Simulator sim, DataConfig data, int samples = 2000, int steps = 300)
    {
        var result = new List<SliceProbe>();
        if (data.Name != "synthetic-pid") return result;
        var factors = Factors(data);
        var test = sim.Data.Test;
        int n = (int)Math.Min(samples, test.Count), half = n / 2;
        if (half < 8) return result;
        var y = new float[n * factors.Count];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < factors.Count; j++) y[i * factors.Count + j] = (test.Labels[i] >> factors[j].Bit) & 1;
        using var scope = torch.NewDisposeScope();
        var labels = torch.tensor(y, [n, factors.Count]);
        foreach (var agent in sim.Agents)
        {
            if (agent.Model.Groups.All(g => g.Role is Model.GroupRole.Task or Model.GroupRole.Embedding)) continue;
            using var inner = torch.NewDisposeScope();
            Model.AgentOutput output;
            using (torch.no_grad())
            {
                agent.Group.Model.eval();
                output = agent.Model.Forward(agent.Modalities.ToDictionary(m => m, m => test.Views[m].narrow(0, 0, n)));
            }
            foreach (var (m, s) in output.Slices)
                foreach (var (kind, z) in new[] { ("unique", s.Unique), ("redundant", s.Redundant), ("synergy", s.Synergy) })
                {
                    if (z is null) continue;
                    var acc = Fit(z.detach(), labels, half, steps);
                    for (int j = 0; j < factors.Count; j++)
                        result.Add(new SliceProbe(agent.Id, agent.TypeName, $"{kind}/{m}", factors[j].Name, acc[j]));
                }
        }
        return result;
    }

    /// <summary>
    /// Logistic regression of every column of <paramref name="labels"/> [n, F] on <paramref name="x"/> [n, d]: standardized
    /// features, full-batch Adam with a small ridge on the first <paramref name="half"/> rows; accuracy on the rest.
    /// </summary>
    public static double[] Fit(Tensor x, Tensor labels, int half, int steps = 300)
    {
        using var scope = torch.NewDisposeScope();
        long n = x.shape[0], d = x.shape[1], f = labels.shape[1];
        var train = x.narrow(0, 0, half);
        var mean = train.mean([0], keepdim: true);
        using var eps = 1e-6.ToScalar();   // held for the call (Util.ScalarOps)
        var std = train.std([0], keepdim: true).clamp_min(eps);
        var xs = x.sub(mean).div(std);
        var xTrain = xs.narrow(0, 0, half);
        var yTrain = labels.narrow(0, 0, half);
        var w = new TorchSharp.Modules.Parameter(torch.zeros([d, f]));
        var b = new TorchSharp.Modules.Parameter(torch.zeros([f]));
        var opt = optim.Adam([w, b], lr: 0.05);
        for (int i = 0; i < steps; i++)
        {
            using var step = torch.NewDisposeScope();
            opt.zero_grad();
            var logits = xTrain.matmul(w).Plus(b);
            var loss = nn.functional.binary_cross_entropy_with_logits(logits, yTrain).Plus(w.Squared().sum().Times(1e-3));
            loss.backward();
            opt.step();
        }
        using var noGrad = torch.no_grad();
        var rest = xs.narrow(0, half, n - half);
        var predicted = rest.matmul(w).Plus(b).gt(torch.zeros(1));
        using var halfScalar = 0.5f.ToScalar();
        var truth = labels.narrow(0, half, n - half).gt(torch.full(1, halfScalar));
        return predicted.eq(truth).to_type(ScalarType.Float64).mean([0]).data<double>().ToArray();
    }

    /// <summary>Writes probes.csv and probes.png into <paramref name="dir"/> and appends the report section to report.md there.</summary>
    public static void Write(string dir, IReadOnlyList<SliceProbe> probes)
    {
        if (probes.Count == 0) return;
        var csv = new StringBuilder("agent,type,slice,factor,accuracy\n");
        foreach (var p in probes) csv.AppendLine(string.Create(Inv, $"{p.Agent},{p.Type},{p.Slice},{p.Factor},{p.Accuracy:F4}"));
        AtomicFile.WriteAllText(Path.Combine(dir, "probes.csv"), csv.ToString());
        var (md, png) = Table(probes, "Slice probes", Path.Combine(dir, "probes.png"));
        string report = Path.Combine(dir, "report.md");
        if (File.Exists(report)) AtomicFile.WriteAllText(report, File.ReadAllText(report).TrimEnd() + "\n\n" + md);
        _ = png;
    }

    /// <summary>
    /// The slice x factor table (mean probe accuracy over agents, per agent type) as markdown under a <c>## TITLE</c> heading,
    /// and a heatmap of the multimodal agents' rows at <paramref name="pngPath"/> (null: none).
    /// </summary>
    public static (string Markdown, string? Png) Table(IReadOnlyList<SliceProbe> probes, string title, string? pngPath)
    {
        var factors = probes.Select(p => p.Factor).Distinct().ToList();
        var rows = probes.GroupBy(p => (p.Type, p.Slice)).OrderByDescending(g => g.Key.Type.Count(c => c == '+'))
            .ThenBy(g => g.Key.Type, StringComparer.Ordinal).ThenBy(g => g.Key.Slice, StringComparer.Ordinal).ToList();
        var md = new StringBuilder();
        md.AppendLine($"## {title}").AppendLine();
        md.AppendLine("Linear (logistic-regression) probe accuracy of each slice for each label factor, fitted on half of the test " +
                      "samples and scored on the other half; mean over the agents of the type. Chance 0.5. A slice that holds a factor " +
                      "linearly scores near 1 for it.").AppendLine();
        md.AppendLine("| agent type | slice | " + string.Join(" | ", factors) + " |");
        md.AppendLine("|---|---|" + string.Concat(Enumerable.Repeat("---:|", factors.Count)));
        foreach (var g in rows)
        {
            var cells = factors.Select(f => g.Where(p => p.Factor == f).Select(p => p.Accuracy).DefaultIfEmpty(double.NaN).Average());
            md.AppendLine($"| {g.Key.Type} | {g.Key.Slice} | " + string.Join(" | ", cells.Select(c => double.IsNaN(c) ? "–" : c.ToString("F2", Inv))) + " |");
        }
        string? png = null;
        var multi = rows.Where(g => g.Key.Type.Contains('+')).ToList();
        if (pngPath is not null && multi.Count > 0)
        {
            var values = new double[multi.Count, factors.Count];
            for (int i = 0; i < multi.Count; i++)
                for (int j = 0; j < factors.Count; j++)
                    values[i, j] = multi[i].Where(p => p.Factor == factors[j]).Select(p => p.Accuracy).DefaultIfEmpty(0.5).Average();
            Plots.Heatmap(pngPath, $"{title}: probe accuracy, multimodal agents (rows: slice, columns: factor)",
                multi.Select(g => $"{g.Key.Type} {g.Key.Slice}").ToArray(), factors.ToArray(), values);
            md.AppendLine().AppendLine($"![slice probes]({Path.GetFileName(pngPath)})");
            png = pngPath;
        }
        return (md.ToString(), png);
    }
}
