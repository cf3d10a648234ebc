namespace Parse.Util;

/// <summary>Small numeric helpers: Gaussian sampling, the normal CDF, Gamma/Dirichlet sampling.</summary>
public static class RandomExtensions
{
    /// <summary>Standard normal sample (Box-Muller).</summary>
    public static double NextGaussian(this Random rng)
    {
        double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>Gamma(shape, 1) sample (Marsaglia-Tsang; boosted for shape &lt; 1).</summary>
    public static double NextGamma(this Random rng, double shape)
    {
        if (shape < 1)
            return rng.NextGamma(shape + 1) * Math.Pow(1.0 - rng.NextDouble(), 1.0 / shape);
        double d = shape - 1.0 / 3, c = 1 / Math.Sqrt(9 * d);
        while (true)
        {
            double x, v;
            do { x = rng.NextGaussian(); v = 1 + c * x; } while (v <= 0);
            v = v * v * v;
            double u = 1.0 - rng.NextDouble();
            if (Math.Log(u) < 0.5 * x * x + d - d * v + d * Math.Log(v)) return d * v;
        }
    }

    /// <summary>Dirichlet(alpha,...,alpha) sample of dimension k.</summary>
    public static double[] NextDirichlet(this Random rng, int k, double alpha)
    {
        var g = new double[k];
        double s = 0;
        for (int i = 0; i < k; i++) { g[i] = rng.NextGamma(alpha); s += g[i]; }
        if (s <= 0) { g[rng.Next(k)] = 1; s = 1; }
        for (int i = 0; i < k; i++) g[i] /= s;
        return g;
    }

    /// <summary>In-place Fisher-Yates shuffle.</summary>
    public static void Shuffle<T>(this Random rng, IList<T> list)
    {
        for (int i = list.Count - 1; i > 0; i--)
        {
            int j = rng.Next(i + 1);
            (list[i], list[j]) = (list[j], list[i]);
        }
    }
}

/// <summary>Standard normal distribution function.</summary>
public static class NormalDistribution
{
    /// <summary>Phi(x), accurate to ~1e-7 (Abramowitz-Stegun 7.1.26 on erf).</summary>
    public static double Cdf(double x) => 0.5 * (1 + Erf(x / Math.Sqrt(2)));

    private static double Erf(double x)
    {
        double sign = Math.Sign(x);
        x = Math.Abs(x);
        // W. J. Cody-style rational approximation is overkill here; A&S 7.1.26 has |error| < 1.5e-7.
        const double a1 = 0.254829592, a2 = -0.284496736, a3 = 1.421413741, a4 = -1.453152027, a5 = 1.061405429, p = 0.3275911;
        double t = 1 / (1 + p * x);
        double y = 1 - (((((a5 * t + a4) * t) + a3) * t + a2) * t + a1) * t * Math.Exp(-x * x);
        return sign * y;
    }
}
