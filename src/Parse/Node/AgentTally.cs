using Parse.Simulation;

namespace Parse.Node;

/// <summary>
/// Running counters of one agent, kept by its <see cref="AgentCore"/> in either runtime; the cluster saves them inside
/// checkpoints so a resumed agent reports the whole run.
/// </summary>
public sealed class AgentTally
{
    public List<AgentRoundMetrics> Metrics { get; set; } = new();
    public long BytesSent { get; set; }
    public long BytesReceived { get; set; }
    public Dictionary<int, long> BytesSentTo { get; set; } = new();
    public Dictionary<string, long> BytesByRole { get; set; } = new();
    public Dictionary<string, long> Rejected { get; set; } = new();
    public Dictionary<int, long> RejectedFrom { get; set; } = new();
    public long Mixed { get; set; }
    public long Missing { get; set; }
    public int MaxStaleness { get; set; }
    public long StalenessSum { get; set; }
    public int DeadlineRounds { get; set; }
    public double RoundSecondsSum { get; set; }
    public double WaitSecondsSum { get; set; }
    public int RoundsTimed { get; set; }
    public double TrainSeconds { get; set; }
    public long AgentSteps { get; set; }
    public long Samples { get; set; }
    public double FinalAccuracy { get; set; }
    /// <summary>Mean training loss of the last round.</summary>
    public double LastTrainLoss { get; set; }
    /// <summary>Final accuracy with one head kind (unique, redundant, synergy) left out of the ensemble.</summary>
    public Dictionary<string, double> AccuracyWithoutHead { get; set; } = new();
    public List<string> Events { get; set; } = new();
    /// <summary>Groups that rejoined their overlay with a warm start (dynamics, churn).</summary>
    public int WarmStarts { get; set; }
    /// <summary>Privacy spent (epsilon at <c>privacy.delta</c>) over the releases so far; null when privacy is off.</summary>
    public double? PrivacyEpsilon { get; set; }
    /// <summary>Protected group payloads released (clipped and noised) so far.</summary>
    public int PrivacyReleases { get; set; }
    /// <summary><c>mixing.screen: loss</c>: neighbour contributions whose loss was measured.</summary>
    public long ScreenChecked { get; set; }
    /// <summary><c>mixing.screen: loss</c>: contributions left out (also counted as rejections, reason <c>Screened</c>).</summary>
    public long Screened { get; set; }
    /// <summary>Of <see cref="ScreenChecked"/>, those sent by attackers (<c>attack.*</c>).</summary>
    public long ScreenCheckedFromAttackers { get; set; }
    /// <summary>Of <see cref="Screened"/>, those sent by attackers (<c>attack.*</c>).</summary>
    public long ScreenedFromAttackers { get; set; }
    /// <summary>Seconds this agent spent screening.</summary>
    public double ScreenSeconds { get; set; }
}
