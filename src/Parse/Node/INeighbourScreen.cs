using Parse.Federation.Mixing;
using Parse.Model;

namespace Parse.Node;

/// <summary>
/// A test the agent core applies to every neighbour's values of a group before any mixing rule sees them
/// (<c>mixing.screen</c>). A contribution that fails it is left out of that group's round, like a refused payload,
/// and counted with the rejection reason <c>Screened</c>. Implementations: <see cref="LossScreen"/> (<c>loss</c>) and
/// <see cref="SignScreen"/> (<c>sign</c>).
/// </summary>
internal interface INeighbourScreen : IDisposable
{
    /// <summary>A new round begins (the agent trained since the last one).</summary>
    void BeginRound();

    /// <summary>
    /// True when <paramref name="contribution"/>'s values of <paramref name="group"/> (the agent's own values, not yet
    /// mixed, are the group's parameters) may be mixed. When false, <paramref name="why"/> says what was measured
    /// and the threshold, for the run's events.
    /// </summary>
    bool Keeps(ParameterGroup group, int ownDegree, Contribution contribution, out string why);
}

/// <summary>Creates the screen named by <c>mixing.screen</c>.</summary>
internal static class NeighbourScreens
{
    /// <summary>The screen of <paramref name="agent"/> for <c>mixing.screen</c>, or null for <c>none</c>.</summary>
    public static INeighbourScreen? Create(Simulation.Agent agent, Config.ExperimentConfig cfg) => cfg.Mixing.Screen switch
    {
        "loss" => new LossScreen(agent, cfg.Mixing, cfg.Seed),
        "sign" => new SignScreen(cfg.Mixing.ScreenSignTolerance),
        _ => null,
    };
}
