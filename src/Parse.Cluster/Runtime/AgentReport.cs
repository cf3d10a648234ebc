using System.Text.Json;
using Parse.Simulation;

namespace Parse.Cluster.Runtime;

/// <summary>
/// What one agent of a cluster run reports when it finishes (written as <c>agent-ID.json</c> in the node's
/// output directory); <c>parse launch</c> merges these into one run directory.
/// </summary>
public sealed record AgentReport
{
    public required int Agent { get; init; }
    public required string Type { get; init; }
    public required int RoundsCompleted { get; init; }
    public int ResumedFromRound { get; init; }
    public required double FinalAccuracy { get; init; }
    public double? Ceiling { get; init; }
    public required List<AgentRoundMetrics> Metrics { get; init; }
    public required long BytesSent { get; init; }
    public required long BytesReceived { get; init; }
    /// <summary>Bytes this agent sent, by receiving agent.</summary>
    public required Dictionary<int, long> BytesSentTo { get; init; }
    public required Dictionary<string, long> BytesByRole { get; init; }
    /// <summary>Refused payloads by reason, and by sending agent.</summary>
    public required Dictionary<string, long> Rejected { get; init; }
    public required Dictionary<int, long> RejectedFrom { get; init; }
    /// <summary>Neighbour payloads mixed, and how many were missing at the deadline.</summary>
    public required long Mixed { get; init; }
    public required long Missing { get; init; }
    public required int MaxStaleness { get; init; }
    public required double MeanStaleness { get; init; }
    /// <summary>Rounds closed by the deadline rather than by all payloads arriving.</summary>
    public required int DeadlineRounds { get; init; }
    public required double MeanRoundSeconds { get; init; }
    public required double MeanWaitSeconds { get; init; }
    public required double TrainSeconds { get; init; }
    public required long AgentSteps { get; init; }
    public required long Samples { get; init; }
    /// <summary>Overlay neighbours per own shared key at the end, and which of them are repair bridges.</summary>
    public required Dictionary<string, int[]> OverlayNeighbours { get; init; }
    public required Dictionary<string, int[]> Bridges { get; init; }
    /// <summary>Membership events seen: "round R: agent J dropped|readmitted|finished".</summary>
    public required List<string> Events { get; init; }
    /// <summary>Distinct overlay-discovery lies this agent refused (keys a neighbour's type does not hold, fabricated
    /// holders, repair links the config does not imply).</summary>
    public int DiscoveryLiesRefused { get; init; }
    public required long PeakWorkingSetBytes { get; init; }
    /// <summary>Final accuracy with one head kind left out of the ensemble (slice-drop), by head kind.</summary>
    public Dictionary<string, double> AccuracyWithoutHead { get; init; } = new();
    /// <summary>Privacy spent (epsilon at <c>privacy.delta</c>); null when privacy is off.</summary>
    public double? PrivacyEpsilon { get; init; }

    /// <summary>Messages refused before reaching the agent, by kind (bad_mac, replayed, forged_sender, out_of_window, undecodable, ...).</summary>
    public Dictionary<string, long> Security { get; init; } = new();
    /// <summary>Agents this agent ignored for the rest of the run after repeated undecodable messages.</summary>
    public int[] Quarantined { get; init; } = [];

    /// <summary>File name of an agent's report.</summary>
    public static string FileName(int agent) => $"agent-{agent}.json";

    // a diverged agent's losses can be infinite or NaN: its report must still be written (and read back by the merger)
    private static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Options);

    /// <summary>Reads a report; throws <see cref="InvalidDataException"/> naming the file if it is unreadable.</summary>
    public static AgentReport Read(string path)
    {
        try { return JsonSerializer.Deserialize<AgentReport>(File.ReadAllText(path), Options) ?? throw new InvalidDataException($"{path}: empty report"); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not a valid agent report: {e.Message}"); }
    }
}
