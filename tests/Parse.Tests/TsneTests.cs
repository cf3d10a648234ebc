using Parse.Reporting;
using Parse.Util;
using TorchSharp;

namespace Parse.Tests;

public class TsneTests
{
    /// <summary>8 clusters on orthogonal axes in 8-D (centres 6 apart per axis, unit noise), 20 points each.</summary>
    private static (double[][] X, int[] Labels) Clusters(int seed)
    {
        var rng = new Random(seed);
        var x = new List<double[]>();
        var labels = new List<int>();
        for (int c = 0; c < 8; c++)
            for (int i = 0; i < 20; i++)
            {
                var row = new double[8];
                for (int k = 0; k < 8; k++) row[k] = rng.NextGaussian() + (k == c ? 6 : 0);
                x.Add(row);
                labels.Add(c);
            }
        return (x.ToArray(), labels.ToArray());
    }

    /// <summary>Share of points whose nearest other point in the layout has the same label.</summary>
    private static double NearestNeighbourAgreement(double[] x, double[] y, int[] labels)
    {
        int agree = 0;
        for (int i = 0; i < x.Length; i++)
        {
            int best = -1;
            double bestD = double.PositiveInfinity;
            for (int j = 0; j < x.Length; j++)
            {
                if (j == i) continue;
                double d = (x[i] - x[j]) * (x[i] - x[j]) + (y[i] - y[j]) * (y[i] - y[j]);
                if (d < bestD) { bestD = d; best = j; }
            }
            if (labels[best] == labels[i]) agree++;
        }
        return agree / (double)x.Length;
    }

    [Fact]
    public void Bandwidths_match_the_perplexity()
    {
        var (x, _) = Clusters(1);
        int n = x.Length;
        foreach (double perplexity in new[] { 5.0, 30.0 })
        {
            var p = Tsne.ConditionalAffinities(Tsne.SquaredDistances(x), n, perplexity);
            for (int i = 0; i < n; i += 17)
            {
                double h = 0, sum = 0;
                for (int j = 0; j < n; j++)
                {
                    double v = p[i * n + j];
                    sum += v;
                    if (v > 0) h -= v * Math.Log(v);
                }
                Assert.Equal(1.0, sum, 1e-9);
                Assert.Equal(0, p[i * n + i]);
                Assert.Equal(perplexity, Math.Exp(h), perplexity * 1e-3);
            }
        }
        var joint = Tsne.JointAffinities(Tsne.SquaredDistances(x), 30);
        Assert.Equal(1.0, joint.Sum(), 1e-6);
        Assert.Equal(joint[3 * n + 50], joint[50 * n + 3]);
    }

    [Fact]
    public void Separates_clusters_that_a_linear_projection_mixes()
    {
        var (x, labels) = Clusters(2);
        var (tx, ty) = Tsne.Embed(x, new TsneOptions(Perplexity: 15, Seed: 3));
        double tsne = NearestNeighbourAgreement(tx, ty, labels);

        using var t = torch.tensor(x.SelectMany(r => r).ToArray(), x.Length, 8);
        var (px, py) = SliceEmbeddings.Pca2(t);
        double pca = NearestNeighbourAgreement(px, py, labels);

        Assert.True(tsne >= 0.95, $"t-SNE 1-NN agreement {tsne:F3}");
        Assert.True(pca <= tsne - 0.2, $"PCA {pca:F3} vs t-SNE {tsne:F3}: 8 orthogonal clusters cannot all be separated by a 2-D projection");
    }

    [Fact]
    public void Same_seed_same_layout_and_bad_perplexity_is_named()
    {
        var (x, _) = Clusters(4);
        var small = x.Take(40).ToArray();
        var a = Tsne.Embed(small, new TsneOptions(Perplexity: 8, Iterations: 100, ExaggerationIterations: 50, Seed: 7));
        var b = Tsne.Embed(small, new TsneOptions(Perplexity: 8, Iterations: 100, ExaggerationIterations: 50, Seed: 7));
        Assert.Equal(a.X, b.X);
        Assert.Equal(a.Y, b.Y);
        Assert.All(a.X.Concat(a.Y), v => Assert.True(double.IsFinite(v)));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Tsne.Embed(small, new TsneOptions(Perplexity: 40)));
        Assert.Contains("perplexity", e.Message);
    }
}
