using Parse.Util;

namespace Parse.Reporting;

/// <summary>Settings of <see cref="Tsne"/>.</summary>
/// <param name="Perplexity">Effective number of neighbours of each point (van der Maaten and Hinton use 5-50).</param>
/// <param name="Iterations">Gradient steps in all.</param>
/// <param name="ExaggerationIterations">Steps at the start with the input affinities multiplied by <paramref name="Exaggeration"/>.</param>
/// <param name="Exaggeration">Early exaggeration factor (pulls clusters together before they are placed).</param>
/// <param name="LearningRate">Step size; <c>null</c> picks max(n / exaggeration / 4, 50), the usual automatic choice.</param>
/// <param name="Seed">Seed of the random initial layout.</param>
public sealed record TsneOptions(
    double Perplexity = 30,
    int Iterations = 750,
    int ExaggerationIterations = 250,
    double Exaggeration = 12,
    double? LearningRate = null,
    int Seed = 1);

/// <summary>
/// Exact t-SNE (van der Maaten and Hinton, JMLR 2008) for a few hundred to a few thousand points: Gaussian input
/// affinities with a per-point bandwidth found by bisection to match the perplexity, symmetrized; Student-t (one
/// degree of freedom) affinities in 2-D; gradient descent with momentum (0.5, then 0.8), per-coordinate gains and
/// early exaggeration. Cost O(n^2) per step in time and memory, so it is meant for the slice plots, not for big data.
/// </summary>
public static class Tsne
{
    /// <summary>Embeds the rows of <paramref name="x"/> (n points, d features) in two dimensions.</summary>
    public static (double[] X, double[] Y) Embed(double[][] x, TsneOptions? options = null)
    {
        var o = options ?? new TsneOptions();
        int n = x.Length;
        if (n == 0) return ([], []);
        if (n == 1) return ([0], [0]);
        if (o.Perplexity <= 0 || o.Perplexity >= n)
            throw new ArgumentOutOfRangeException(nameof(options), $"t-SNE perplexity must be in (0, {n}) for {n} points; got {o.Perplexity}");

        var p = JointAffinities(SquaredDistances(x), o.Perplexity);
        double lr = o.LearningRate ?? Math.Max(n / o.Exaggeration / 4, 50);
        var rng = new Random(o.Seed);
        var y = new double[n, 2];
        for (int i = 0; i < n; i++)
            for (int k = 0; k < 2; k++) y[i, k] = 1e-4 * rng.NextGaussian();
        var velocity = new double[n, 2];
        var gains = new double[n, 2];
        for (int i = 0; i < n; i++) gains[i, 0] = gains[i, 1] = 1;
        var q = new double[n * n];
        var grad = new double[n, 2];

        for (int it = 0; it < o.Iterations; it++)
        {
            double exaggeration = it < o.ExaggerationIterations ? o.Exaggeration : 1;
            double momentum = it < o.ExaggerationIterations ? 0.5 : 0.8;
            // Student-t kernel 1 / (1 + |yi - yj|^2) and its sum
            double z = 0;
            for (int i = 0; i < n; i++)
            {
                q[i * n + i] = 0;
                for (int j = i + 1; j < n; j++)
                {
                    double dx = y[i, 0] - y[j, 0], dy = y[i, 1] - y[j, 1];
                    double k = 1 / (1 + dx * dx + dy * dy);
                    q[i * n + j] = q[j * n + i] = k;
                    z += 2 * k;
                }
            }
            // dC/dyi = 4 sum_j (exaggeration * pij - kij / z) kij (yi - yj)
            for (int i = 0; i < n; i++)
            {
                double g0 = 0, g1 = 0;
                for (int j = 0; j < n; j++)
                {
                    if (j == i) continue;
                    double k = q[i * n + j];
                    double m = (exaggeration * p[i * n + j] - k / z) * k;
                    g0 += m * (y[i, 0] - y[j, 0]);
                    g1 += m * (y[i, 1] - y[j, 1]);
                }
                grad[i, 0] = 4 * g0;
                grad[i, 1] = 4 * g1;
            }
            for (int i = 0; i < n; i++)
                for (int c = 0; c < 2; c++)
                {
                    // delta-bar-delta gains: grow where the gradient keeps its sign against the velocity, shrink otherwise
                    gains[i, c] = Math.Sign(grad[i, c]) != Math.Sign(velocity[i, c]) ? gains[i, c] + 0.2 : Math.Max(0.01, gains[i, c] * 0.8);
                    velocity[i, c] = momentum * velocity[i, c] - lr * gains[i, c] * grad[i, c];
                    y[i, c] += velocity[i, c];
                }
            // keep the layout centred
            for (int c = 0; c < 2; c++)
            {
                double mean = 0;
                for (int i = 0; i < n; i++) mean += y[i, c];
                mean /= n;
                for (int i = 0; i < n; i++) y[i, c] -= mean;
            }
        }
        var outX = new double[n];
        var outY = new double[n];
        for (int i = 0; i < n; i++) { outX[i] = y[i, 0]; outY[i] = y[i, 1]; }
        return (outX, outY);
    }

    /// <summary>Squared Euclidean distances between rows, as an n x n row-major array.</summary>
    public static double[] SquaredDistances(double[][] x)
    {
        int n = x.Length;
        var d = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
            {
                double s = 0;
                var a = x[i];
                var b = x[j];
                if (a.Length != b.Length) throw new ArgumentException($"t-SNE input rows {i} and {j} differ in length ({a.Length} vs {b.Length})", nameof(x));
                for (int k = 0; k < a.Length; k++) { double t = a[k] - b[k]; s += t * t; }
                d[i * n + j] = d[j * n + i] = s;
            }
        return d;
    }

    /// <summary>
    /// Conditional affinities p(j|i) = exp(-beta_i d_ij) / sum, each row's beta found by bisection so that the row's
    /// entropy is log(perplexity) (natural log), returned row-major; <see cref="JointAffinities"/> symmetrizes them.
    /// </summary>
    public static double[] ConditionalAffinities(double[] sqDist, int n, double perplexity)
    {
        var p = new double[n * n];
        double target = Math.Log(perplexity);
        for (int i = 0; i < n; i++)
        {
            double beta = 1, lo = double.NegativeInfinity, hi = double.PositiveInfinity;
            // distances relative to the nearest neighbour so that exp() does not underflow for far-apart data
            double dMin = double.PositiveInfinity;
            for (int j = 0; j < n; j++) if (j != i) dMin = Math.Min(dMin, sqDist[i * n + j]);
            double mean = 0;
            for (int j = 0; j < n; j++) if (j != i) mean += sqDist[i * n + j] - dMin;
            mean /= n - 1;
            if (mean > 0) beta = 1 / mean;
            for (int step = 0; step < 200; step++)
            {
                double sum = 0, weighted = 0;
                for (int j = 0; j < n; j++)
                {
                    if (j == i) { p[i * n + j] = 0; continue; }
                    double d = sqDist[i * n + j] - dMin;
                    double e = Math.Exp(-beta * d);
                    p[i * n + j] = e;
                    sum += e;
                    weighted += d * e;
                }
                // H = log(sum) + beta * E[d]
                double h = Math.Log(sum) + beta * weighted / sum;
                for (int j = 0; j < n; j++) p[i * n + j] /= sum;
                double diff = h - target;
                if (Math.Abs(diff) < 1e-5) break;
                if (diff > 0) { lo = beta; beta = double.IsPositiveInfinity(hi) ? beta * 2 : (beta + hi) / 2; }
                else { hi = beta; beta = double.IsNegativeInfinity(lo) ? beta / 2 : (beta + lo) / 2; }
            }
        }
        return p;
    }

    /// <summary>Symmetric joint affinities p_ij = (p(j|i) + p(i|j)) / 2n, floored at 1e-12.</summary>
    public static double[] JointAffinities(double[] sqDist, double perplexity)
    {
        int n = (int)Math.Round(Math.Sqrt(sqDist.Length));
        var c = ConditionalAffinities(sqDist, n, perplexity);
        var p = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                p[i * n + j] = i == j ? 0 : Math.Max((c[i * n + j] + c[j * n + i]) / (2.0 * n), 1e-12);
        return p;
    }
}
