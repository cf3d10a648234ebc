namespace Parse.Cluster.Protocol;

/// <summary>
/// One agent's count of refused messages by kind (bad MAC, replay, forged sender, out of round window, undecodable, ...)
/// and of offences per admitted sender: an agent whose authenticated messages fail to decode
/// <c>cluster.limits.quarantine_after</c> times is quarantined (ignored for the rest of the run).
/// </summary>
public sealed class SecurityTally(int quarantineAfter)
{
    private readonly Dictionary<int, int> _offences = new();

    /// <summary>Refused messages by kind (snake_case names, e.g. <c>bad_mac</c>, <c>replayed</c>).</summary>
    public Dictionary<string, long> Refused { get; } = new();

    /// <summary>Agents ignored for the rest of the run.</summary>
    public SortedSet<int> Quarantined { get; } = new();

    /// <summary>Counts one refused message of <paramref name="kind"/>; returns the new count.</summary>
    public long Count(string kind) => Refused[kind] = Refused.GetValueOrDefault(kind) + 1;

    /// <summary>True if messages from <paramref name="agent"/> are ignored.</summary>
    public bool IsQuarantined(int agent) => Quarantined.Contains(agent);

    /// <summary>Counts an offence by <paramref name="agent"/>; true if this one puts it in quarantine.</summary>
    public bool Offence(int agent)
    {
        int n = _offences[agent] = _offences.GetValueOrDefault(agent) + 1;
        return quarantineAfter > 0 && n >= quarantineAfter && Quarantined.Add(agent);
    }

    /// <summary>Snake_case kind of a verdict.</summary>
    public static string Kind(SealVerdict v) => v switch
    {
        SealVerdict.UnknownPeer => "unknown_peer", SealVerdict.BadMac => "bad_mac", SealVerdict.ForgedSender => "forged_sender",
        SealVerdict.Replayed => "replayed", _ => "ok",
    };
}
