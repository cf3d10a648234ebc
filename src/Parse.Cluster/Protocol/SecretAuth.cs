using System.Security.Cryptography;
using System.Text;

namespace Parse.Cluster.Protocol;

/// <summary>
/// Challenge-response admission with the experiment's shared secret: the verifier sends a fresh random nonce;
/// the prover answers HMAC-SHA256(secret, "parse-admit" | nonce | its address | its agent ids | its config fingerprint).
/// The secret never travels; a recorded answer is useless for another nonce, address, agent set or config.
/// </summary>
public static class SecretAuth
{
    /// <summary>A fresh 32-byte nonce.</summary>
    public static byte[] NewNonce() => RandomNumberGenerator.GetBytes(32);

    /// <summary>The MAC a prover at <paramref name="address"/> hosting <paramref name="agents"/> returns for <paramref name="nonce"/>.</summary>
    public static byte[] Mac(string secret, byte[] nonce, string address, IEnumerable<int> agents, byte[] fingerprint)
    {
        var msg = new List<byte>(Encoding.UTF8.GetBytes("parse-admit|"));
        msg.AddRange(nonce);
        msg.AddRange(Encoding.UTF8.GetBytes("|" + address + "|" + string.Join(',', agents.Order()) + "|"));
        msg.AddRange(fingerprint);
        return HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), msg.ToArray());
    }

    /// <summary>Constant-time check of an admission MAC.</summary>
    public static bool Verify(string secret, byte[] nonce, string address, IEnumerable<int> agents, byte[] fingerprint, byte[] mac) =>
        CryptographicOperations.FixedTimeEquals(Mac(secret, nonce, address, agents, fingerprint), mac);

    /// <summary>The MAC of a <see cref="Denied"/> answering the proof for <paramref name="nonce"/>.</summary>
    public static byte[] DenyMac(string secret, byte[] nonce, string reason)
    {
        var msg = new List<byte>(Encoding.UTF8.GetBytes("parse-deny|"));
        msg.AddRange(nonce);
        msg.AddRange(Encoding.UTF8.GetBytes("|" + reason));
        return HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), msg.ToArray());
    }

    /// <summary>Constant-time check of a <see cref="Denied"/>'s MAC.</summary>
    public static bool VerifyDeny(string secret, Denied d) => CryptographicOperations.FixedTimeEquals(DenyMac(secret, d.Nonce, d.Reason), d.Mac);
}
