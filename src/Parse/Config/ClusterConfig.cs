namespace Parse.Config;

/// <summary>
/// Settings of the cluster runtime (<c>parse node</c> / <c>parse launch</c>); the simulator ignores them.
/// See docs/deployment.md.
/// </summary>
public sealed record ClusterConfig
{
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
    /// <summary>
    /// A member unreachable this long (and not heard by the deciding node itself) is downed by the majority, in
    /// milliseconds; 0 = twice <see cref="FailureDetectionMs"/>, at least 10 s.
    /// </summary>
    public int DownAfterMs { get; init; }
    /// <summary>Resource bounds against faulty or hostile peers.</summary>
    public ClusterLimitsConfig Limits { get; init; } = new();
    /// <summary>TLS with mutual authentication on the transport (off by default).</summary>
    public ClusterTlsConfig Tls { get; init; } = new();
    /// <summary>
    /// An unfinished agent that closes no round for this long ends its node (exit code 5) instead of hanging, in
    /// milliseconds; 0 = twice (discovery timeout + round deadline) plus one minute.
    /// </summary>
    public int StallTimeoutMs { get; init; }
    /// <summary>A node the cluster removed (e.g. paused past the failure detector) rejoins as a new incarnation, its agents resuming from their checkpoints.</summary>
    public bool Rejoin { get; init; } = true;
    /// <summary>How many times a node rejoins before it gives up (exit code 3).</summary>
    public int MaxRejoins { get; init; } = 3;
}
