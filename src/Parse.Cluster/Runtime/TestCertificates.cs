using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Parse.Config;

namespace Parse.Cluster.Runtime;

/// <summary>
/// <c>parse cert</c>: a private test CA and node certificates for <c>cluster.tls</c>, made with
/// <see cref="CertificateRequest"/> (ECDSA P-256, SHA-256). Writes <c>ca.crt</c> (PEM, the trust anchor for
/// <c>cluster.tls.ca</c>) and <c>node-K.pfx</c> (PKCS#12 with private key, usable as client and server certificate) for
/// K = 0..nodes-1. The CA's private key is not kept: issue a new set to add nodes. For production use your own PKI.
/// </summary>
public static class TestCertificates
{
    /// <summary>Writes the CA and <paramref name="nodes"/> node certificates into <paramref name="dir"/>; returns the files written.</summary>
    public static IReadOnlyList<string> Create(string dir, int nodes, string? password, int days = 365, bool force = false)
    {
        if (nodes is < 1 or > 10_000) throw new ConfigException($"--nodes: must be in 1..10000 (got {nodes})");
        if (days is < 1 or > 36_500) throw new ConfigException($"--days: must be in 1..36500 (got {days})");
        if (Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir).Any() && !force)
            throw new ConfigException($"--out: {Path.GetFullPath(dir)} is not empty (use --force to overwrite)");
        Directory.CreateDirectory(dir);
        var from = DateTimeOffset.UtcNow.AddMinutes(-5);
        var until = from.AddDays(days);
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caReq = new CertificateRequest("CN=parse test CA", caKey, HashAlgorithmName.SHA256);
        caReq.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        caReq.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        caReq.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caReq.PublicKey, false));
        using var ca = caReq.CreateSelfSigned(from, until.AddDays(1));
        var written = new List<string>();
        Write(Path.Combine(dir, "ca.crt"), System.Text.Encoding.ASCII.GetBytes(ca.ExportCertificatePem() + "\n"), written);
        for (int k = 0; k < nodes; k++)
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var req = new CertificateRequest($"CN=parse-node-{k}", key, HashAlgorithmName.SHA256);
            req.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
            req.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement, true));
            req.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
                [new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));   // server and client authentication
            var san = new SubjectAlternativeNameBuilder();
            san.AddDnsName("localhost");
            san.AddIpAddress(System.Net.IPAddress.Loopback);
            req.CertificateExtensions.Add(san.Build());
            req.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
            using var issued = req.Create(ca, from, until, RandomNumberGenerator.GetBytes(16));
            using var withKey = issued.CopyWithPrivateKey(key);
            Write(Path.Combine(dir, $"node-{k}.pfx"), withKey.Export(X509ContentType.Pkcs12, password), written);
        }
        return written;
    }

    private static void Write(string path, byte[] bytes, List<string> written)
    {
        string tmp = path + ".tmp";
        File.WriteAllBytes(tmp, bytes);
        File.Move(tmp, path, overwrite: true);
        written.Add(path);
    }
}
