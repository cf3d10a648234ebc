namespace Parse.Config;

/// <summary>
/// Settings of the cluster runtime (<c>parse node</c> / <c>parse launch</c>); the simulator ignores them.
/// See docs/deployment.md.
/// </summary>
public sealed record ClusterConfig
{
    /// <summary>Longest time an agent waits for its neighbours' payloads in a round, in milliseconds (the first round waits up to <see cref="DiscoveryTimeoutMs"/>).</summary>
    public int DeadlineMs { get; init; } = 5000;
    /// <summary>Derive the deadline from observed arrival times (factor x slowest recent arrival), capped by <see cref="DeadlineMs"/>.</summary>
    public bool AdaptiveDeadline { get; init; }
    /// <summary>Multiplier on the slowest arrival of the last rounds for the adaptive deadline.</summary>
    public double DeadlineFactor { get; init; } = 3.0;
    /// <summary>Lower bound of the adaptive deadline, in milliseconds.</summary>
    public int MinDeadlineMs { get; init; } = 100;
    /// <summary>Largest accepted age (in rounds) of a neighbour payload; older ones are rejected as stale.</summary>
    public int MaxStaleness { get; init; } = 2;
    /// <summary>Write a per-agent checkpoint every this many rounds (0 = never).</summary>
    public int CheckpointEvery { get; init; } = 5;
    /// <summary>Longest wait for neighbour handshakes before training starts anyway, in milliseconds.</summary>
    public int DiscoveryTimeoutMs { get; init; } = 60000;
    /// <summary>Overlay discovery is considered settled after this long without a change, in milliseconds.</summary>
    public int DiscoveryQuietMs { get; init; } = 1500;
    /// <summary>Largest accepted encoded payload (one parameter group), in bytes.</summary>
    public int MaxPayloadBytes { get; init; } = 64 << 20;
    /// <summary>Payloads larger than this are sent in chunks of this size, in bytes.</summary>
    public int ChunkBytes { get; init; } = 64 << 10;
    /// <summary>After finishing, keep serving neighbours that are still running for at most this long, in milliseconds.</summary>
    public int LingerMs { get; init; } = 15000;
    /// <summary>Akka failure detector: heartbeat pause tolerated before a process is marked unreachable, in milliseconds.</summary>
    public int FailureDetectionMs { get; init; } = 4000;
}
