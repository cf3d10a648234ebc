namespace Parse.Config;

/// <summary>
/// TLS with mutual authentication on the cluster transport (<c>cluster.tls.*</c>); see docs/deployment.md.
/// Paths are relative to the config file's directory.
/// </summary>
public sealed record ClusterTlsConfig
{
    /// <summary>Encrypt every connection and require both ends to present a certificate issued by <see cref="Ca"/>.</summary>
    public bool Enabled { get; init; }
    /// <summary>This node's certificate with its private key (PKCS#12 .pfx); <c>{process}</c> is replaced by the process index under <c>parse launch</c>; <c>parse node --tls-cert</c> overrides it.</summary>
    public string Certificate { get; init; } = "";
    /// <summary>Password of <see cref="Certificate"/> (default: $PARSE_TLS_PASSWORD, else none).</summary>
    public string? Password { get; init; }
    /// <summary>The CA certificate (PEM or DER) peers' certificates must chain to; empty = the system trust store.</summary>
    public string Ca { get; init; } = "";
}
