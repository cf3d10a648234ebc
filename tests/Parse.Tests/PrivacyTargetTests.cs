using Parse.Federation.Payload;
using Parse.Simulation;

namespace Parse.Tests;

/// <summary><c>privacy.target_epsilon</c>: the noise multiplier derived from a target epsilon.</summary>
public class PrivacyTargetTests
{
    [Theory]
    [InlineData(1.0, 80)]
    [InlineData(4.0, 400)]
    [InlineData(8.0, 1)]
    public void The_derived_noise_spends_the_target_epsilon_and_no_more(double epsilon, int releases)
    {
        double sigma = RdpAccountant.NoiseFor(epsilon, 1e-5, releases);
        var a = new RdpAccountant();
        a.AddGaussian(sigma, releases);
        Assert.InRange(a.Epsilon(1e-5), epsilon * 0.999, epsilon);
        // a little less noise would overspend
        var b = new RdpAccountant();
        b.AddGaussian(sigma * 0.99, releases);
        Assert.True(b.Epsilon(1e-5) > epsilon);
    }

    [Fact]
    public void A_smaller_target_or_more_releases_needs_more_noise()
    {
        Assert.True(RdpAccountant.NoiseFor(1, 1e-5, 100) > RdpAccountant.NoiseFor(8, 1e-5, 100));
        Assert.True(RdpAccountant.NoiseFor(4, 1e-5, 400) > RdpAccountant.NoiseFor(4, 1e-5, 100));
    }

    /// <summary>Every agent ends the run within the target, whatever the number of groups its type protects.</summary>
    [Fact]
    public void Every_agent_ends_within_the_target_epsilon()
    {
        var cfg = TestConfigs.Load("privacy.clip=0.5", "privacy.target_epsilon=2", "privacy.roles=[synergy,redundant]");
        using var sim = new Simulator(cfg, ".");
        var r = sim.Run();
        Assert.NotEmpty(r.PrivacyEpsilon);
        Assert.All(r.PrivacyEpsilon, x => Assert.InRange(x.Epsilon, 0.5, 2.0 + 1e-9));
        // agents that publish every planned release spend the target almost exactly
        Assert.Contains(r.PrivacyEpsilon, x => x.Epsilon > 1.9);
        var privacy = Parse.Reporting.RunWriter.Summary(cfg, r)["privacy"]!;
        Assert.Equal(2.0, privacy["target_epsilon"]!.GetValue<double>());
        Assert.Null(privacy["noise_multiplier"]);
    }

    [Fact]
    public void A_negative_target_names_the_field()
    {
        var e = Assert.Throws<Parse.Config.ConfigException>(() => TestConfigs.Load("privacy.clip=1", "privacy.target_epsilon=-1"));
        Assert.Contains("privacy.target_epsilon", e.Message);
    }
}
