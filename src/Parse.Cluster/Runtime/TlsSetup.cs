using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Event;
using Akka.Remote.Transport.DotNetty;
using Parse.Config;

namespace Parse.Cluster.Runtime;

/// <summary>
/// TLS with mutual authentication for the DotNetty transport (<c>cluster.tls.*</c>): this node presents its certificate
/// (PKCS#12, with private key) on every connection, both ends require the other's certificate, and a peer certificate is
/// accepted only if it chains to the configured CA (<c>cluster.tls.ca</c>; else the system trust store). Host names
/// are not checked (nodes are identified by the CA, and by the admission proof above it).
/// </summary>
public static class TlsSetup
{
    /// <summary>Environment variable with the password of the node certificate.</summary>
    public const string PasswordVariable = "PARSE_TLS_PASSWORD";

    /// <summary>
    /// The Akka setup for <paramref name="tls"/>, with <paramref name="certificateOverride"/> (<c>--tls-cert</c>) replacing the
    /// configured certificate; throws <see cref="ConfigException"/> for missing or unreadable files.
    /// </summary>
    public static DotNettySslSetup Create(ClusterTlsConfig tls, string baseDir, string? certificateOverride)
    {
        if (certificateOverride is null && tls.Certificate.Contains("{process}"))
            throw new ConfigException("cluster.tls.certificate: names {process}, which only `parse launch` fills in; give this node its certificate with --tls-cert");
        string certPath = Full(certificateOverride ?? tls.Certificate, baseDir);
        string field = certificateOverride is null ? "cluster.tls.certificate" : "--tls-cert";
        if (!File.Exists(certPath)) throw new ConfigException($"{field}: file not found: {certPath} (create test certificates with `parse cert`)");
        string? password = Environment.GetEnvironmentVariable(PasswordVariable) is { Length: > 0 } env ? env : tls.Password;
        X509Certificate2 cert;
        try { cert = X509CertificateLoader.LoadPkcs12FromFile(certPath, password, X509KeyStorageFlags.Exportable); }
        catch (CryptographicException e) { throw new ConfigException($"{field}: cannot read {certPath} as a PKCS#12 certificate with this password (${PasswordVariable} or cluster.tls.password): {e.Message}"); }
        if (!cert.HasPrivateKey) throw new ConfigException($"{field}: {certPath} holds no private key");
        X509Certificate2? ca = null;
        if (tls.Ca.Length > 0)
        {
            string caPath = Full(tls.Ca, baseDir);
            try { ca = X509CertificateLoader.LoadCertificateFromFile(caPath); }
            catch (CryptographicException e) { throw new ConfigException($"cluster.tls.ca: cannot read {caPath} as a certificate: {e.Message}"); }
        }
        return new DotNettySslSetup(cert, suppressValidation: false, requireMutualAuthentication: true, validateCertificateHostname: false,
            customValidator: (peer, _, remote, errors, log) => Accept(peer, errors, ca, remote, log));
    }

    /// <summary>True if <paramref name="peer"/> chains to <paramref name="ca"/> (or, without a CA, passes the system's validation apart from the host name).</summary>
    public static bool Accept(X509Certificate? peer, SslPolicyErrors errors, X509Certificate2? ca, string? remote = null, ILoggingAdapter? log = null)
    {
        if (peer is null) { log?.Warning("TLS: {0} presented no certificate; refused", remote); return false; }
        if (ca is null) return (errors & ~SslPolicyErrors.RemoteCertificateNameMismatch) == SslPolicyErrors.None;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var cert = new X509Certificate2(peer);
        bool ok = chain.Build(cert);
        if (!ok) log?.Warning("TLS: certificate {0} of {1} does not chain to the configured CA; refused", cert.Subject, remote);
        return ok;
    }

    private static string Full(string path, string baseDir) => Path.IsPathRooted(path) ? path : Path.GetFullPath(Path.Combine(baseDir, path));
}
