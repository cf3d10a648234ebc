namespace Parse.Reporting;

/// <summary>
/// Linear centered kernel alignment (Kornblith et al., 2019) between two representations of the same samples:
/// <c>||Yc' Xc||_F^2 / (||Xc' Xc||_F ||Yc' Yc||_F)</c> with column-centered <c>Xc</c> [n, d1] and <c>Yc</c> [n, d2].
/// 1 for representations equal up to a rotation, an isotropic scaling and a translation; near 0 for independent ones
/// (about <c>d1 d2 / n</c> by chance). Not invariant to arbitrary invertible linear maps.
/// </summary>
public static class LinearCka
{
    /// <summary>A representation prepared for CKA: centered columns and its own Gram norm <c>||Xc' Xc||_F</c>.</summary>
    public sealed class Prepared
    {
        internal Prepared(double[,] centered, double selfNorm) { Centered = centered; SelfNorm = selfNorm; }
        internal double[,] Centered { get; }
        internal double SelfNorm { get; }
        /// <summary>Samples (rows).</summary>
        public int Samples => Centered.GetLength(0);
    }

    /// <summary>Centers <paramref name="x"/> (row-major [n, d]) and computes its Gram norm once, for many comparisons.</summary>
    public static Prepared Prepare(float[] x, int n, int d)
    {
        if (n < 2 || d < 1 || x.Length != n * d) throw new ArgumentException($"a representation of {x.Length} values is not [{n}, {d}] with n >= 2");
        var c = new double[n, d];
        for (int j = 0; j < d; j++)
        {
            double mean = 0;
            for (int i = 0; i < n; i++) mean += x[i * d + j];
            mean /= n;
            for (int i = 0; i < n; i++) c[i, j] = x[i * d + j] - mean;
        }
        return new Prepared(c, Math.Sqrt(CrossNormSquared(c, c)));
    }

    /// <summary>Linear CKA of two prepared representations of the same samples; NaN if either is constant.</summary>
    public static double Of(Prepared x, Prepared y)
    {
        if (x.Samples != y.Samples) throw new ArgumentException($"CKA needs the same samples: {x.Samples} vs {y.Samples} rows");
        if (x.SelfNorm == 0 || y.SelfNorm == 0) return double.NaN;
        return CrossNormSquared(x.Centered, y.Centered) / (x.SelfNorm * y.SelfNorm);
    }

    /// <summary>Linear CKA of two row-major representations [n, dx] and [n, dy] of the same n samples.</summary>
    public static double Of(float[] x, int dx, float[] y, int dy, int n) => Of(Prepare(x, n, dx), Prepare(y, n, dy));

    /// <summary><c>||A' B||_F^2</c> for A [n, p], B [n, q].</summary>
    private static double CrossNormSquared(double[,] a, double[,] b)
    {
        int n = a.GetLength(0), p = a.GetLength(1), q = b.GetLength(1);
        double sum = 0;
        for (int j = 0; j < p; j++)
            for (int k = 0; k < q; k++)
            {
                double dot = 0;
                for (int i = 0; i < n; i++) dot += a[i, j] * b[i, k];
                sum += dot * dot;
            }
        return sum;
    }
}
