namespace Parse.Config;

/// <summary>
/// When a round closes and how old a neighbour's payload may be (read by the agent core, so identical in the
/// simulator and on the cluster), and the simulator's virtual clock: how long local training takes and how long a
/// payload travels. With the defaults every agent computes for the same time and payloads arrive at once, so rounds
/// are synchronous (lockstep); stragglers, jitter, latency or a trace make them asynchronous, and then deadlines
/// and bounded staleness decide what is mixed, exactly as on the cluster where time is the wall clock.
/// See docs/configuration.md ("timing").
/// </summary>
public sealed record TimingConfig
{
    /// <summary>Longest wait for the neighbours' payloads of a round after sending one's own, in milliseconds (the cluster's first round waits up to <c>cluster.discovery_timeout_ms</c>).</summary>
    public int DeadlineMs { get; init; } = 5000;
    /// <summary>Derive the deadline from observed arrival times (factor x slowest recent arrival), capped by <see cref="DeadlineMs"/>.</summary>
    public bool AdaptiveDeadline { get; init; }
    /// <summary>Multiplier on the slowest arrival of the last rounds for the adaptive deadline.</summary>
    public double DeadlineFactor { get; init; } = 3.0;
    /// <summary>Lower bound of the adaptive deadline, in milliseconds.</summary>
    public int MinDeadlineMs { get; init; } = 100;
    /// <summary>Largest accepted age (in rounds) of a neighbour payload; older ones are refused as stale.</summary>
    public int MaxStaleness { get; init; } = 2;

    /// <summary>Simulator: virtual time of one agent's local training per round, in milliseconds.</summary>
    public double ComputeMs { get; init; } = 100;
    /// <summary>Simulator: fraction of agents that are stragglers (chosen from the seed, fixed for the run).</summary>
    public double StragglerFraction { get; init; }
    /// <summary>Simulator: a straggler's compute time is <see cref="ComputeMs"/> times this.</summary>
    public double StragglerSlowdown { get; init; } = 5;
    /// <summary>Simulator: relative jitter of compute times: each round's time is multiplied by a log-normal factor with this sigma (0 = none).</summary>
    public double ComputeJitter { get; init; }
    /// <summary>Simulator: one-way latency of every payload, in milliseconds.</summary>
    public double LatencyMs { get; init; }
    /// <summary>Simulator: extra latency drawn uniformly from [0, this] per payload, in milliseconds.</summary>
    public double LatencyJitterMs { get; init; }
    /// <summary>Simulator: CSV trace of compute times with header <c>agent,round,compute_ms</c> (relative to the config's directory); listed (agent, round) pairs override the model.</summary>
    public string? Trace { get; init; }

    /// <summary>True when every agent computes for the same time and every payload takes the same time: rounds run in lockstep.</summary>
    public bool Lockstep => StragglerFraction == 0 && ComputeJitter == 0 && LatencyJitterMs == 0 && Trace is null;
}
