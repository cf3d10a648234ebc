using Parse.Simulation;

namespace Parse.Cluster.Runtime;

/// <summary>Running counters of one agent; saved inside checkpoints so a resumed agent reports the whole run.</summary>
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
    public List<string> Events { get; set; } = new();
}
