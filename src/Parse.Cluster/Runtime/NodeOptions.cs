namespace Parse.Cluster.Runtime;

/// <summary>Command-line options of <c>parse node</c>.</summary>
public sealed record NodeOptions
{
    /// <summary>Experiment file shared by every process.</summary>
    public required string ConfigPath { get; init; }
    /// <summary>Config overrides (<c>--set</c>), identical on every process.</summary>
    public IReadOnlyList<string> Sets { get; init; } = [];
    /// <summary>Agent ids hosted by this process.</summary>
    public required IReadOnlyList<int> Agents { get; init; }
    /// <summary>Interface to bind (default 127.0.0.1).</summary>
    public string Host { get; init; } = "127.0.0.1";
    /// <summary>Host name other processes use to reach this one (default: <see cref="Host"/>).</summary>
    public string? PublicHost { get; init; }
    /// <summary>TCP port of this process.</summary>
    public required int Port { get; init; }
    /// <summary>Seed nodes as host:port.</summary>
    public required IReadOnlyList<string> SeedNodes { get; init; }
    /// <summary>Experiment shared secret ("" = none).</summary>
    public string Secret { get; init; } = "";
    /// <summary>Run without an experiment secret (open admission; testing only). Without it an empty secret is refused.</summary>
    public bool Insecure { get; init; }
    /// <summary>This node's TLS certificate (.pfx), replacing <c>cluster.tls.certificate</c>.</summary>
    public string? TlsCertificate { get; init; }
    /// <summary>Continue from the last good checkpoint of each agent.</summary>
    public bool Resume { get; init; }
    /// <summary>Directory for agent reports, checkpoints and the node log.</summary>
    public required string OutDir { get; init; }
    /// <summary>Checkpoint every agent after this round and leave (a planned stop; resume later with <see cref="Resume"/>); 0 = run to the end.</summary>
    public int StopAfterRound { get; init; }
    /// <summary>Deliberate payload corruption (tests only).</summary>
    public PayloadFault Fault { get; init; }
}
