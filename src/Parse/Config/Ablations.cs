namespace Parse.Config;

/// <summary>
/// Same-architecture ablations of PARSE (<c>ablate: [...]</c>), each removing one of its ingredients while keeping the
/// three-slice model: see docs/strategies.md "PARSE ablations".
/// </summary>
public static class Ablations
{
    /// <summary>No cross-modal InfoNCE alignment of the redundant slices (<c>loss.beta</c> taken as 0).</summary>
    public const string NoInfoNce = "no-infonce";
    /// <summary>The redundant head is not shared (each agent keeps its own); everything else is shared as in PARSE.</summary>
    public const string NoSharedRedundantHead = "no-shared-redundant-head";
    /// <summary>
    /// No per-slice sharing scopes: every slice projection of a modality, the synergistic one included, is keyed by the
    /// modality alone, so it is shared among all holders of the modality that have it (PARSE keys the synergistic
    /// projection by the agent's modality set).
    /// </summary>
    public const string NoSliceScopes = "no-slice-scopes";

    /// <summary>Accepted <c>ablate</c> values.</summary>
    public static IReadOnlyList<string> Names { get; } = [NoInfoNce, NoSharedRedundantHead, NoSliceScopes];

    /// <summary>True if <paramref name="cfg"/> ablates <paramref name="name"/>.</summary>
    public static bool Has(this ExperimentConfig cfg, string name) => cfg.Ablate.Contains(name);

    /// <summary>The loss weights after the ablations (<c>no-infonce</c> sets <c>beta</c> to 0).</summary>
    public static LossConfig EffectiveLoss(this ExperimentConfig cfg) => cfg.Has(NoInfoNce) ? cfg.Loss with { Beta = 0 } : cfg.Loss;
}
