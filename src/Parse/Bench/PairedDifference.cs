using Parse.Util;

namespace Parse.Bench;

/// <summary>
/// Mean of paired differences (method minus baseline, one per seed) with a two-sided confidence interval from the t
/// distribution with n - 1 degrees of freedom. With one pair the interval is undefined (NaN bounds).
/// </summary>
public sealed record PairedDifference(int N, double Mean, double Std, double Low, double High)
{
    /// <summary>Summarizes <paramref name="differences"/> with a <paramref name="confidence"/> interval (default 95%).</summary>
    public static PairedDifference Of(IReadOnlyList<double> differences, double confidence = 0.95)
    {
        int n = differences.Count;
        if (n == 0) return new PairedDifference(0, double.NaN, double.NaN, double.NaN, double.NaN);
        double mean = differences.Average();
        if (n == 1) return new PairedDifference(1, mean, double.NaN, double.NaN, double.NaN);
        double sd = Math.Sqrt(differences.Sum(d => (d - mean) * (d - mean)) / (n - 1));
        double half = StudentT.Quantile(1 - (1 - confidence) / 2, n - 1) * sd / Math.Sqrt(n);
        return new PairedDifference(n, mean, sd, mean - half, mean + half);
    }

    /// <summary>True when the whole interval lies above zero.</summary>
    public bool SignificantGain => N > 1 && Low > 0;
    /// <summary>True when the whole interval lies below zero.</summary>
    public bool SignificantLoss => N > 1 && High < 0;
}

/// <summary>Five-number summary of a sample (linear interpolation between order statistics).</summary>
public sealed record Distribution(int N, double Min, double Q1, double Median, double Q3, double Max, int Positive)
{
    /// <summary>Summarizes <paramref name="values"/>.</summary>
    public static Distribution Of(IEnumerable<double> values)
    {
        var xs = values.OrderBy(x => x).ToArray();
        if (xs.Length == 0) return new Distribution(0, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, 0);
        double Q(double p)
        {
            double pos = p * (xs.Length - 1);
            int i = (int)Math.Floor(pos);
            return i + 1 < xs.Length ? xs[i] + (pos - i) * (xs[i + 1] - xs[i]) : xs[i];
        }
        return new Distribution(xs.Length, xs[0], Q(0.25), Q(0.5), Q(0.75), xs[^1], xs.Count(x => x > 0));
    }
}
