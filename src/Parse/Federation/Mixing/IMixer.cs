using static TorchSharp.torch;
using Parse.Util;

namespace Parse.Federation.Mixing;

/// <summary>One neighbour's accepted values of a parameter group, as handed to a mixer.</summary>
/// <param name="Sender">The neighbour.</param>
/// <param name="SenderDegree">The neighbour's degree on the group's overlay when it sent the values.</param>
/// <param name="Values">The values, one tensor per parameter of the group (read only).</param>
/// <param name="Staleness">How many rounds older than the current round the values are (0 = fresh).</param>
public sealed record Contribution(int Sender, int SenderDegree, IReadOnlyList<Tensor> Values, int Staleness);

/// <summary>
/// How an agent combines its own values of one parameter group with what its overlay neighbours sent
/// (<c>mixing.rule</c>). Called once per shared group per round by the agent core, in both runtimes, inside a
/// no-grad dispose scope; it must write the result into <c>own</c> in place.
/// </summary>
public interface IMixer
{
    /// <summary>Name used in <c>mixing.rule</c>.</summary>
    string Name { get; }

    /// <summary>Mixes <paramref name="received"/> (in ascending sender order) into <paramref name="own"/>.</summary>
    /// <param name="own">The agent's tensors of the group (views of its slice of the stacked parameters), updated in place.</param>
    /// <param name="ownDegree">The agent's degree on the group's overlay this round (live neighbours).</param>
    /// <param name="received">Accepted neighbour values; neighbours whose payload was refused or missing are absent.</param>
    void Mix(IReadOnlyList<Tensor> own, int ownDegree, IReadOnlyList<Contribution> received);
}

/// <summary>
/// Metropolis-Hastings gossip averaging: x_i &lt;- (1 - sum_j w_ij) x_i + sum_j w_ij x_j with
/// w_ij = 1 / (1 + max(d_i, d_j)). Symmetric and doubly stochastic when every payload arrives, so the average over
/// the overlay is preserved; a missing or refused neighbour's weight stays with the agent itself.
/// </summary>
public sealed class MetropolisMixer : IMixer
{
    /// <inheritdoc />
    public string Name => "metropolis";

    /// <inheritdoc />
    public void Mix(IReadOnlyList<Tensor> own, int ownDegree, IReadOnlyList<Contribution> received)
    {
        if (received.Count == 0) return;
        double self = 1;
        var acc = own.Select(p => zeros_like(p)).ToList();
        foreach (var c in received)
        {
            double w = MetropolisHastings.Weight(ownDegree, c.SenderDegree);
            self -= w;
            for (int k = 0; k < acc.Count; k++) acc[k].AddScaled_(c.Values[k], w);
        }
        for (int k = 0; k < acc.Count; k++) acc[k].AddScaled_(own[k], self);
        for (int k = 0; k < acc.Count; k++) own[k].copy_(acc[k]);
    }
}

/// <summary>Mixing rules by name (<c>mixing.rule</c>); see <see cref="Components.Mixers"/> to add your own.</summary>
public static class MixerRegistry
{
    /// <summary>The registry behind <see cref="Components.Mixers"/>, holding the built-in rules.</summary>
    internal static readonly ComponentRegistry<Func<Config.ExperimentConfig, IMixer>> Registry = Build();

    private static ComponentRegistry<Func<Config.ExperimentConfig, IMixer>> Build()
    {
        var r = new ComponentRegistry<Func<Config.ExperimentConfig, IMixer>>("mixing rule");
        r.Register("metropolis", _ => new MetropolisMixer(), "Metropolis-Hastings gossip averaging (symmetric, doubly stochastic)");
        r.Register("trimmed-mean", c => new TrimmedMeanMixer(c.Mixing.Trim), "coordinate-wise trimmed mean of own and neighbours' values (mixing.trim)");
        r.Register("median", _ => new MedianMixer(), "coordinate-wise median of own and neighbours' values");
        r.Register("krum", c => new KrumMixer(c.Mixing.F, multi: false), "the most central of own and neighbours' values (mixing.f)");
        r.Register("multi-krum", c => new KrumMixer(c.Mixing.F, multi: true), "mean of the n - f most central values (mixing.f)");
        r.Register("clipped-gossip", c => new ClippedGossipMixer(c.Mixing.Clip,
            c.Mixing.Radius == "own-history" ? ClipRadius.OwnHistory : ClipRadius.Median, c.Mixing.RadiusFactor, c.Mixing.Outliers == "drop"),
            "Metropolis-Hastings steps with neighbour differences clipped to mixing.clip (adaptive when unset: mixing.radius)");
        r.Register("choco", c => new ChocoMixer(c.Payload.ChocoGamma), "CHOCO-SGD consensus on public copies (with the choco payload processor)");
        return r;
    }

    /// <summary>Accepted <c>mixing.rule</c> values.</summary>
    public static IReadOnlyList<string> Names => Registry.Names;

    /// <summary>The mixer of <c>mixing.rule</c>.</summary>
    /// <remarks>
    /// With <c>mixing.fallback</c> set and a rule that needs a minimum number of candidates, a <see cref="FallbackMixer"/>
    /// mixing too small neighbourhoods by the fallback rule (built from the same config).
    /// </remarks>
    public static IMixer Create(Config.ExperimentConfig cfg)
    {
        var main = Registry.Resolve("mixing.rule", cfg.Mixing.Rule)(cfg);
        int min = MixerRequirements.MinCandidates(cfg.Mixing);
        if (cfg.Mixing.Fallback == "refuse" || min == 0 || main is not RowMixer row) return main;
        var fallback = Registry.Resolve("mixing.fallback", cfg.Mixing.Fallback)(cfg with { Mixing = cfg.Mixing with { Rule = cfg.Mixing.Fallback } });
        return new FallbackMixer(row, min, fallback);
    }
}
