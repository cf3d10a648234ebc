using Parse.Bench;
using Parse.Util;

namespace Parse.Tests;

public class StatisticsTests
{
    [Theory]
    // two-sided 95% critical values from standard t tables
    [InlineData(1, 12.7062)]
    [InlineData(2, 4.3027)]
    [InlineData(4, 2.7764)]
    [InlineData(9, 2.2622)]
    [InlineData(29, 2.0452)]
    [InlineData(1000, 1.9623)]
    public void T_quantile_matches_the_tables(int df, double expected) =>
        Assert.Equal(expected, StudentT.Quantile(0.975, df), 3);

    [Fact]
    public void T_cdf_is_symmetric_and_matches_cauchy_for_one_degree_of_freedom()
    {
        foreach (double t in new[] { -3.0, -0.5, 0, 0.7, 2.5 })
        {
            Assert.Equal(0.5 + Math.Atan(t) / Math.PI, StudentT.Cdf(t, 1), 9);
            Assert.Equal(1 - StudentT.Cdf(-t, 7), StudentT.Cdf(t, 7), 12);
        }
        Assert.Equal(-StudentT.Quantile(0.975, 5), StudentT.Quantile(0.025, 5), 9);
        Assert.Equal(Math.Log(24), StudentT.LogGamma(5), 10);
        Assert.Equal(0.5 * Math.Log(Math.PI), StudentT.LogGamma(0.5), 10);
    }

    [Fact]
    public void Paired_difference_interval_is_mean_plus_minus_t_times_standard_error()
    {
        // differences 1..5: mean 3, sd sqrt(2.5), se = sqrt(0.5); t(0.975, 4) = 2.776445
        var p = PairedDifference.Of([1, 2, 3, 4, 5]);
        Assert.Equal(5, p.N);
        Assert.Equal(3, p.Mean, 12);
        Assert.Equal(Math.Sqrt(2.5), p.Std, 12);
        Assert.Equal(3 - 2.776445 * Math.Sqrt(0.5), p.Low, 5);
        Assert.Equal(3 + 2.776445 * Math.Sqrt(0.5), p.High, 5);
        Assert.True(p.SignificantGain);
        Assert.False(PairedDifference.Of([-1, 1, 0.5]).SignificantGain);
        Assert.True(PairedDifference.Of([-0.02, -0.03, -0.025]).SignificantLoss);
        Assert.True(double.IsNaN(PairedDifference.Of([0.1]).Low));
    }

    [Fact]
    public void Distribution_gives_quartiles_by_interpolation()
    {
        var d = Distribution.Of([4, -1, 3, 2, 0]);
        Assert.Equal((5, -1.0, 0.0, 2.0, 3.0, 4.0, 3), (d.N, d.Min, d.Q1, d.Median, d.Q3, d.Max, d.Positive));
        Assert.Equal(2.5, Distribution.Of([1, 2, 3, 4]).Median, 12);
    }
}
