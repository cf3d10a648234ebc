namespace Parse.Config;

/// <summary>
/// Modality dynamics (docs/dynamics.md): samples with a missing modality, sensors that fail and recover, and agents
/// that gain or lose a modality during a run. Everything is a deterministic function of the seed, so the simulator and
/// the cluster see the same schedule. Off by default.
/// </summary>
public sealed record DynamicsConfig
{
    /// <summary>Per-sample probability that a modality is missing from a training sample, by modality name.</summary>
    public Dictionary<string, double> TrainMissing { get; init; } = new();
    /// <summary>Per-sample probability that a modality is missing from a test sample (one fixed mask of the test set), by modality name.</summary>
    public Dictionary<string, double> TestMissing { get; init; } = new();
    /// <summary>Sensor failure and recovery per agent: a two-state Markov chain per modality, by modality name.</summary>
    public Dictionary<string, SensorFailureConfig> Failure { get; init; } = new();
    /// <summary>Agents that gain a modality (have no such sensor before a round) or lose one (from a round on).</summary>
    public List<ModalityChangeConfig> Changes { get; init; } = [];
    /// <summary>
    /// A group that (re)joins its overlay (a gained or recovered modality) listens for one round and starts from the
    /// average of its neighbours' parameters; false: it keeps its own parameters and mixes as usual.
    /// </summary>
    public bool WarmStart { get; init; } = true;

    /// <summary>True when any dynamics are configured.</summary>
    public bool Enabled => TrainMissing.Values.Any(x => x > 0) || TestMissing.Values.Any(x => x > 0) || Failure.Count > 0 || Changes.Count > 0;
}

/// <summary>A sensor's two-state Markov chain (up, down), stepped once per round from round 2 on; every sensor starts up.</summary>
public sealed record SensorFailureConfig
{
    /// <summary>Probability that an up sensor is down in the next round.</summary>
    public double PFail { get; init; }
    /// <summary>Probability that a down sensor is up in the next round.</summary>
    public double PRecover { get; init; } = 1;
}

/// <summary>One modality gain or loss, for the listed agents or every agent of a type.</summary>
public sealed record ModalityChangeConfig
{
    /// <summary>gain (no sensor before <see cref="Round"/>) or lose (no sensor from <see cref="Round"/> on).</summary>
    public string Kind { get; init; } = "gain";
    /// <summary>The modality; the agents' type must hold it.</summary>
    public string Modality { get; init; } = "";
    /// <summary>First round (1-based) with the new state.</summary>
    public int Round { get; init; } = 1;
    /// <summary>Agent ids (or use <see cref="Type"/>).</summary>
    public List<int> Agents { get; init; } = [];
    /// <summary>Every agent of this type (e.g. "a+b"), or the first <see cref="Count"/> of them.</summary>
    public string? Type { get; init; }
    /// <summary>With <see cref="Type"/>: how many of its agents (the highest ids first); null = all.</summary>
    public int? Count { get; init; }
}

/// <summary>
/// Churn (docs/dynamics.md): agents that join after the start or leave before the end. An agent that has not joined yet
/// or has left does not train, share or evaluate; its overlay neighbours do not wait for it. Off by default.
/// </summary>
public sealed record ChurnConfig
{
    /// <summary>Agents that join at a round (they are absent before).</summary>
    public List<ChurnEventConfig> Join { get; init; } = [];
    /// <summary>Agents that leave at a round (absent from it on).</summary>
    public List<ChurnEventConfig> Leave { get; init; } = [];
    /// <summary>Per round, probability that a present agent leaves for good (from round 2 on; seeded).</summary>
    public double LeaveRate { get; init; }
    /// <summary>
    /// A newcomer listens for its first round and starts every shared group from the average of its overlay
    /// neighbours' parameters; false: it starts from its own initial parameters.
    /// </summary>
    public bool WarmStart { get; init; } = true;
    /// <summary>
    /// With <c>parse launch</c>: every agent that joins late or leaves early runs in a process of its own, which the launcher
    /// starts once the running agents have closed the round before its join round, and which leaves the cluster when
    /// the agent leaves (docs/dynamics.md, "Churn on the cluster"). False: churning agents are hosted with the others
    /// from the start and skip their absent rounds (what the simulator does; the runs are then identical).
    /// </summary>
    public bool Processes { get; init; } = true;

    /// <summary>True when any churn is configured.</summary>
    public bool Enabled => Join.Count > 0 || Leave.Count > 0 || LeaveRate > 0;
}

/// <summary>A set of agents that join or leave at one round.</summary>
public sealed record ChurnEventConfig
{
    /// <summary>Round (1-based).</summary>
    public int Round { get; init; } = 1;
    /// <summary>Agent ids (or use <see cref="Type"/>).</summary>
    public List<int> Agents { get; init; } = [];
    /// <summary>Every agent of this type (e.g. "a+b"), or the first <see cref="Count"/> of them.</summary>
    public string? Type { get; init; }
    /// <summary>With <see cref="Type"/>: how many of its agents (the highest ids first); null = all.</summary>
    public int? Count { get; init; }
}
