using Parse.Federation.Overlays;

namespace Parse.Simulation;

/// <summary>One agent's metrics after an evaluated round.</summary>
public sealed record AgentRoundMetrics(
    int Round, int Agent, string Type, double Accuracy, double TestLoss, double TrainLoss,
    long BytesSent, long BytesReceived, IReadOnlyDictionary<string, double> HeadAccuracy)
{
    /// <summary>Bytes sent so far by parameter role (trunk, unique, redundant, synergy, ...); null when not recorded.</summary>
    public IReadOnlyDictionary<string, long>? BytesSentByRole { get; init; }
    /// <summary>Accuracy with every sensor working and no sample missing (dynamics only; null when equal to <see cref="Accuracy"/> by construction).</summary>
    public double? AllSensorsAccuracy { get; init; }
    /// <summary>Modalities whose sensor was down in the round, joined with '+' ("" = none; null without dynamics).</summary>
    public string? Unavailable { get; init; }
}

/// <summary>Progress notification after every round.</summary>
public sealed record RoundProgress(
    int Round, int Rounds, bool Evaluated, IReadOnlyDictionary<string, double> AccuracyByType, long BytesSentTotal, double MeanTrainLoss);

/// <summary>What the deadline and staleness policy did over a run (both runtimes).</summary>
/// <param name="MaxStaleness">Largest age, in rounds, of a mixed neighbour payload.</param>
/// <param name="MeanStaleness">Mean age of mixed neighbour payloads.</param>
/// <param name="DeadlineRounds">Agent rounds closed by the deadline rather than by the last arrival.</param>
/// <param name="MissingPayloads">Neighbour payloads that had not arrived when a round closed.</param>
/// <param name="MeanRoundSeconds">Mean duration of an agent round (virtual seconds in the simulator, wall seconds on the cluster).</param>
public sealed record TimingSummary(int MaxStaleness, double MeanStaleness, int DeadlineRounds, long MissingPayloads, double MeanRoundSeconds);

/// <summary>Everything a run produced, before it is written to disk.</summary>
public sealed class SimulationResult
{
    public required IReadOnlyList<AgentRoundMetrics> Metrics { get; init; }
    public required IReadOnlyList<OverlayStats> Overlays { get; init; }
    public required IReadOnlyList<string> AgentTypes { get; init; }
    /// <summary>Final accuracy of each agent.</summary>
    public required IReadOnlyList<double> FinalAccuracy { get; init; }
    public required IReadOnlyDictionary<string, double>? CeilingByType { get; init; }
    public required long BytesSentTotal { get; init; }
    public required IReadOnlyDictionary<string, long> BytesByRole { get; init; }
    public required IReadOnlyDictionary<(int From, int To), long> BytesByLink { get; init; }
    /// <summary>Links used against the base graph: how many overlay repair added (null when not recorded).</summary>
    public LinkSummary? Links { get; init; }
    public required IReadOnlyDictionary<string, long> Rejected { get; init; }
    public required double WallSeconds { get; init; }
    public required double TrainSeconds { get; init; }
    /// <summary>Wall seconds spent publishing, delivering and mixing payloads (simulator; 0 when not measured).</summary>
    public double ExchangeSeconds { get; init; }
    /// <summary>Wall seconds spent evaluating (simulator; 0 when not measured).</summary>
    public double EvalSeconds { get; init; }
    /// <summary>Staleness, deadlines and round time over all agents (null when not recorded).</summary>
    public TimingSummary? Timing { get; init; }
    public required long AgentSteps { get; init; }
    public required long Samples { get; init; }
    public required long PeakWorkingSetBytes { get; init; }
    public required int Rounds { get; init; }
    /// <summary>Gradient conflict (cosine, unimodal vs multimodal mean gradient) per evaluated round: mean and per key.</summary>
    public IReadOnlyList<(int Round, double Mean, IReadOnlyDictionary<string, double> ByKey)> Conflict { get; init; } = [];
    /// <summary>Slice CKA per evaluated round (<c>eval.cka</c>; empty when off).</summary>
    public IReadOnlyList<Parse.Reporting.SliceCkaRow> Cka { get; init; } = [];
    /// <summary>Slice-drop at inference: per dropped head kind (unique, redundant, synergy), final accuracy per agent type.</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, double>> AccuracyWithoutHead { get; init; } = new Dictionary<string, IReadOnlyDictionary<string, double>>();

    /// <summary>Privacy spent by each agent with protected groups (agent type, epsilon at <c>privacy.delta</c>); empty when privacy is off.</summary>
    public IReadOnlyList<(string Type, double Epsilon)> PrivacyEpsilon { get; init; } = [];

    /// <summary>
    /// Slice-drop per head kind and agent type, from each agent's (type, accuracy without each head kind): the mean over
    /// the agents of a type that have that head. Both runtimes merge their agents' tallies with it.
    /// </summary>
    public static SortedDictionary<string, IReadOnlyDictionary<string, double>> SliceDropByType(
        IEnumerable<(string Type, IReadOnlyDictionary<string, double> AccuracyWithoutHead)> agents)
    {
        var list = agents.ToList();
        var dropped = new SortedDictionary<string, IReadOnlyDictionary<string, double>>(StringComparer.Ordinal);
        foreach (var head in list.SelectMany(a => a.AccuracyWithoutHead.Keys).Distinct())
            dropped[head] = list.Where(a => a.AccuracyWithoutHead.ContainsKey(head)).GroupBy(a => a.Type)
                .OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Average(a => a.AccuracyWithoutHead[head]));
        return dropped;
    }

    /// <summary>Ids of the agents that ran an attack (<c>attack.*</c>); excluded from the per-type accuracies.</summary>
    public IReadOnlyList<int> Attackers { get; init; } = [];

    /// <summary>What <c>mixing.screen: loss</c> did over the run (null when screening is off).</summary>
    public ScreeningSummary? Screening { get; init; }

    private IEnumerable<(string t, double a)> Honest() =>
        AgentTypes.Select((t, i) => (t, a: FinalAccuracy[i], i)).Where(x => !Attackers.Contains(x.i)).Select(x => (x.t, x.a));

    /// <summary>Mean final accuracy per agent type, over honest agents.</summary>
    public IReadOnlyDictionary<string, double> AccuracyByType =>
        Honest().GroupBy(x => x.t).OrderBy(g => g.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Average(x => x.a));

    /// <summary>Mean final accuracy of the attackers per agent type (empty without attackers).</summary>
    public IReadOnlyDictionary<string, double> AttackerAccuracyByType =>
        Attackers.GroupBy(i => AgentTypes[i]).OrderBy(g => g.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Average(i => FinalAccuracy[i]));

    /// <summary>Standard deviation (population) of final accuracy across agents of each type.</summary>
    public IReadOnlyDictionary<string, double> AccuracyStdByType =>
        Honest().GroupBy(x => x.t).OrderBy(g => g.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g =>
            {
                double m = g.Average(x => x.a);
                return Math.Sqrt(g.Average(x => (x.a - m) * (x.a - m)));
            });
}

/// <summary>Totals of <c>mixing.screen: loss</c> over every agent and round.</summary>
/// <param name="Checked">Neighbour contributions whose loss was measured.</param>
/// <param name="Dropped">Contributions left out of mixing.</param>
/// <param name="DroppedFromAttackers">Of <paramref name="Dropped"/>, those sent by attackers.</param>
/// <param name="CheckedFromAttackers">Of <paramref name="Checked"/>, those sent by attackers.</param>
/// <param name="Seconds">Time spent screening, summed over agents (agents screen in parallel, so this can exceed wall time).</param>
public sealed record ScreeningSummary(long Checked, long Dropped, long DroppedFromAttackers, long CheckedFromAttackers, double Seconds);
