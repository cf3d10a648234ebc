using Parse.Model;

namespace Parse.Federation.Sharing;

/// <summary>
/// Decides which parameter groups an agent sends (and therefore mixes) in a round. The overlay of each
/// shared key is the base graph among the agents that share that key, so a strategy only has to answer
/// "is this group shared now?". Adding a strategy = one class + one registration in <see cref="Components.Strategies"/>.
/// </summary>
public interface ISharingStrategy
{
    /// <summary>Name used in <c>strategy</c>.</summary>
    string Name { get; }

    /// <summary>True if <paramref name="group"/> of an agent is exchanged and mixed in <paramref name="round"/>.</summary>
    bool Shares(ParameterGroup group, int round);

    /// <summary>
    /// True if local training updates <paramref name="group"/> of an agent holding <paramref name="modalities"/>
    /// modalities in <paramref name="round"/> (0-based); a group that is not trained keeps its values through the
    /// local steps (default: every group is trained).
    /// </summary>
    bool Trains(ParameterGroup group, int modalities, int round) => true;
}

/// <summary>
/// PARSE: every slice-level group is shared, each over the overlay of its own key. With
/// <paramref name="shareRedundantHead"/> false (ablation <c>no-shared-redundant-head</c>) the redundant head stays local.
/// </summary>
public sealed class ParseStrategy(bool shareRedundantHead = true) : ISharingStrategy
{
    public string Name => "parse";
    public bool Shares(ParameterGroup group, int round) =>
        shareRedundantHead || !(group.Role == GroupRole.Redundant && group.Part == GroupPart.Head);
}

/// <summary>Local training only: nothing is sent.</summary>
public sealed class LocalStrategy : ISharingStrategy
{
    public string Name => "local";
    public bool Shares(ParameterGroup group, int round) => false;
}

/// <summary>
/// Decentralized SGD baselines (reconstructed, see docs/strategies.md): share the heads (task), the modality
/// encoders (modality) or both (hybrid), each group over the overlay of its key. On the monolithic model
/// (<c>model.fission=false</c>, the default for these strategies' comparisons) the task head is one group held
/// by everyone; on the three-slice model the same rules apply to its heads and encoders.
/// </summary>
public sealed class DsgdStrategy(string name, bool heads, bool encoders) : ISharingStrategy
{
    public string Name => name;
    public bool Shares(ParameterGroup group, int round) => group.Part == GroupPart.Head ? heads : encoders;
}

/// <summary>
/// Harmony (Ouyang et al., MobiSys 2023) in DFL form, as its paper describes it (docs/strategies.md), on the
/// three-slice model. Stage 1 (the first <c>harmony.stage1_fraction</c> of the rounds): modality-wise federated learning
/// of the unimodal encoders, i.e. each modality's encoder (trunk, unique and redundant projections) and its unimodal
/// (unique) head are mixed among all holders of the modality. Stage 2: fusion learning among the multimodal agents on
/// FROZEN encoders: multimodal agents no longer update their encoders (trunk, unique and redundant projections) and
/// train and mix only the fusion part (synergistic projections, fusion, synergy head) among agents with the same
/// modality set; unimodal agents keep their stage-1 model (Harmony's unimodal clients take no part in stage 2). The
/// redundant head is never shared (Harmony has no cross-modal alignment of a shared slice).
/// </summary>
public sealed class HarmonyStrategy(int stage2Start) : ISharingStrategy
{
    public string Name => "harmony";

    /// <summary>First round (0-based) of stage 2.</summary>
    public int Stage2Start => stage2Start;

    public bool Shares(ParameterGroup group, int round) => round < stage2Start
        ? group.Role is GroupRole.Trunk or GroupRole.Unique || (group.Role == GroupRole.Redundant && group.Part == GroupPart.Encoder)
        : group.Role == GroupRole.Synergy;

    public bool Trains(ParameterGroup group, int modalities, int round) =>
        round < stage2Start || (modalities >= 2 && !(group.Part == GroupPart.Encoder && group.Role is GroupRole.Trunk or GroupRole.Unique or GroupRole.Redundant));
}

/// <summary>
/// Centralized upper bound (not a DFL method): the simulator trains one model per agent type on the pooled
/// data of all agents; nothing is exchanged.
/// </summary>
public sealed class CentralizedStrategy : ISharingStrategy
{
    public string Name => "centralized";
    public bool Shares(ParameterGroup group, int round) => false;
}

/// <summary>Creates sharing strategies by <c>strategy</c>, from <see cref="Components.Strategies"/>.</summary>
public static class StrategyRegistry
{
    /// <summary>The registry behind <see cref="Components.Strategies"/>, holding the built-ins from the start.</summary>
    internal static ComponentRegistry<Func<Config.ExperimentConfig?, ISharingStrategy>> Registry { get; } = BuiltIns();

    private static ComponentRegistry<Func<Config.ExperimentConfig?, ISharingStrategy>> BuiltIns()
    {
        var r = new ComponentRegistry<Func<Config.ExperimentConfig?, ISharingStrategy>>("strategy");
        r.Register("parse", c => new ParseStrategy(shareRedundantHead: c is null || !Config.Ablations.Has(c, Config.Ablations.NoSharedRedundantHead)), "PARSE: every slice-level group over the overlay of its key");
        r.Register("local", _ => new LocalStrategy(), "local training only, nothing is sent");
        r.Register("dsgd-task", _ => new DsgdStrategy("dsgd-task", heads: true, encoders: false), "decentralized SGD sharing the heads");
        r.Register("dsgd-modality", _ => new DsgdStrategy("dsgd-modality", heads: false, encoders: true), "decentralized SGD sharing the encoders");
        r.Register("dsgd-hybrid", _ => new DsgdStrategy("dsgd-hybrid", heads: true, encoders: true), "decentralized SGD sharing heads and encoders");
        r.Register("harmony", c => new HarmonyStrategy((int)Math.Round((c?.Rounds ?? 0) * (c?.Harmony.Stage1Fraction ?? 0.5))),
            "Harmony: modality-wise encoders, then fusion among multimodal agents");
        r.Register("centralized", _ => new CentralizedStrategy(), "centralized upper bound: one model per agent type on pooled data");
        return r;
    }

    /// <summary>Accepted <c>strategy</c> values (built-in and registered).</summary>
    public static IReadOnlyCollection<string> Names => Registry.Names;

    /// <summary>Creates the strategy <paramref name="name"/>; <paramref name="cfg"/> is passed to its factory (null when the caller has none).</summary>
    public static ISharingStrategy Create(string name, Config.ExperimentConfig? cfg = null) => Registry.Resolve("strategy", name)(cfg);
}
