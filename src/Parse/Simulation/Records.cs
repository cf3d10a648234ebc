using Parse.Federation.Overlays;

namespace Parse.Simulation;

/// <summary>One agent's metrics after an evaluated round.</summary>
public sealed record AgentRoundMetrics(
    int Round, int Agent, string Type, double Accuracy, double TestLoss, double TrainLoss,
    long BytesSent, long BytesReceived, IReadOnlyDictionary<string, double> HeadAccuracy);

/// <summary>Progress notification after every round.</summary>
public sealed record RoundProgress(
    int Round, int Rounds, bool Evaluated, IReadOnlyDictionary<string, double> AccuracyByType, long BytesSentTotal, double MeanTrainLoss);

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
    public required IReadOnlyDictionary<string, long> Rejected { get; init; }
    public required double WallSeconds { get; init; }
    public required double TrainSeconds { get; init; }
    public required long AgentSteps { get; init; }
    public required long Samples { get; init; }
    public required long PeakWorkingSetBytes { get; init; }
    public required int Rounds { get; init; }
    /// <summary>Gradient conflict (cosine, unimodal vs multimodal mean gradient) per evaluated round: mean and per key.</summary>
    public IReadOnlyList<(int Round, double Mean, IReadOnlyDictionary<string, double> ByKey)> Conflict { get; init; } = [];
    /// <summary>Slice-drop at inference: per dropped head kind (unique, redundant, synergy), final accuracy per agent type.</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, double>> AccuracyWithoutHead { get; init; } = new Dictionary<string, IReadOnlyDictionary<string, double>>();

    /// <summary>Mean final accuracy per agent type.</summary>
    public IReadOnlyDictionary<string, double> AccuracyByType =>
        AgentTypes.Select((t, i) => (t, a: FinalAccuracy[i])).GroupBy(x => x.t).OrderBy(g => g.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Average(x => x.a));

    /// <summary>Standard deviation (population) of final accuracy across agents of each type.</summary>
    public IReadOnlyDictionary<string, double> AccuracyStdByType =>
        AgentTypes.Select((t, i) => (t, a: FinalAccuracy[i])).GroupBy(x => x.t).OrderBy(g => g.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g =>
            {
                double m = g.Average(x => x.a);
                return Math.Sqrt(g.Average(x => (x.a - m) * (x.a - m)));
            });
}
