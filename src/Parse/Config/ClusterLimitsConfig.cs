namespace Parse.Config;

/// <summary>
/// Resource bounds of a cluster node against faulty or hostile peers (<c>cluster.limits.*</c>); see docs/deployment.md.
/// </summary>
public sealed record ClusterLimitsConfig
{
    /// <summary>Payload chunks are accepted for rounds <c>r - timing.max_staleness .. r + max_rounds_ahead</c> of the receiver's round r.</summary>
    public int MaxRoundsAhead { get; init; } = 1;
    /// <summary>Incomplete chunked payloads kept per sender; a newer one drops the sender's oldest.</summary>
    public int MaxPendingPerSender { get; init; } = 2;
    /// <summary>An admitted agent whose authenticated messages fail to decode this many times is ignored for the rest of the run (0 = never).</summary>
    public int QuarantineAfter { get; init; } = 3;
    /// <summary>Messages an agent's mailbox holds; further messages are dropped (Akka bounded mailbox).</summary>
    public int MailboxCapacity { get; init; } = 20000;
}
