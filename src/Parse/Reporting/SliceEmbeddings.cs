using Parse.Simulation;
using TorchSharp;
using static TorchSharp.torch;

namespace Parse.Reporting;

/// <summary>
/// 2-D PCA (and optionally t-SNE) of each slice of one multimodal agent on test samples, coloured by class
/// (<c>embeddings_SLICE.png</c>, <c>embeddings_tsne_SLICE.png</c>): shows which slice separates which classes.
/// </summary>
public static class SliceEmbeddings
{
    /// <summary>Writes the figures for the first agent with the most modalities; returns the files written.</summary>
    public static IReadOnlyList<string> Write(string dir, Simulator sim, int samples = 600, bool tsne = false, int seed = 1)
    {
        var agent = sim.Agents.OrderByDescending(a => a.Modalities.Count).ThenBy(a => a.Id).FirstOrDefault();
        if (agent is null || agent.Model.Groups.All(g => g.Role is Model.GroupRole.Task or Model.GroupRole.Embedding)) return [];
        var test = sim.Data.Test;
        long n = Math.Min(samples, test.Count);
        var written = new List<string>();
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        agent.Group.Model.eval();
        var inputs = agent.Modalities.ToDictionary(m => m, m => test.Views[m].narrow(0, 0, n));
        var output = agent.Model.Forward(inputs);
        int[] labels = test.Labels.Take((int)n).ToArray();
        var slices = new List<(string Name, Tensor Z)>();
        foreach (var (m, s) in output.Slices)
        {
            slices.Add(($"unique_{m}", s.Unique));
            slices.Add(($"redundant_{m}", s.Redundant));
            if (s.Synergy is not null) slices.Add(($"synergy_{m}", s.Synergy));
        }
        foreach (var (name, z) in slices)
        {
            var (x, y) = Pca2(z);
            string file = Path.Combine(dir, $"embeddings_{name}.png");
            Plots.Scatter2D(file, $"agent {agent.Id} ({agent.TypeName}): {name.Replace('_', ' ')} slice, PCA", x, y, labels);
            written.Add(file);
            if (tsne)
            {
                var rows = Rows(z);
                var (tx, ty) = Tsne.Embed(rows, new TsneOptions(Perplexity: Math.Min(30, (rows.Length - 1) / 3.0), Seed: seed));
                string tfile = Path.Combine(dir, $"embeddings_tsne_{name}.png");
                Plots.Scatter2D(tfile, $"agent {agent.Id} ({agent.TypeName}): {name.Replace('_', ' ')} slice, t-SNE", tx, ty, labels);
                written.Add(tfile);
            }
        }
        return written;
    }

    /// <summary>The rows of a 2-D tensor as double arrays.</summary>
    public static double[][] Rows(Tensor z)
    {
        using var scope = torch.NewDisposeScope();
        var flat = z.detach().to_type(ScalarType.Float64).contiguous();
        var all = flat.data<double>().ToArray();
        int n = (int)flat.shape[0], d = (int)flat.shape[1];
        return Enumerable.Range(0, n).Select(i => all.AsSpan(i * d, d).ToArray()).ToArray();
    }

    /// <summary>First two principal components of the rows of <paramref name="z"/>.</summary>
    public static (double[] X, double[] Y) Pca2(Tensor z)
    {
        using var scope = torch.NewDisposeScope();
        var c = z.to_type(ScalarType.Float64) - z.to_type(ScalarType.Float64).mean([0], keepdim: true);
        var (_, _, vh) = torch.linalg.svd(c, fullMatrices: false);
        var k = Math.Min(2, vh.shape[0]);
        var proj = c.matmul(vh.narrow(0, 0, k).t());
        double[] Col(int j) => j < k ? proj.select(1, j).data<double>().ToArray() : new double[z.shape[0]];
        return (Col(0), Col(1));
    }
}
