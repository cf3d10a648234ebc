using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace Parse.Cluster.Protocol;

/// <summary>
/// The message keys of one process, shared by its directory (which derives them during admission) and its agents (which
/// seal and check every agent message with them). A key belongs to an ordered pair of processes and is
/// HKDF-SHA256(ikm = experiment secret, salt = the admission nonce the sending process issued to the receiving one,
/// info = "parse-msg-v1" | sender address | receiver address | config fingerprint): the sender knows the nonce because it
/// issued it, the receiver because it answered it, and nobody without the secret can derive the key. Messages between
/// agents of the same process use a random key that never leaves the process.
/// </summary>
public sealed class PeerKeys(string secret, byte[] fingerprint)
{
    /// <summary>Keys per peer address kept for checking: a peer that challenges again gets a new key, in-flight messages use the old one.</summary>
    public const int KeysPerPeer = 3;

    private const int MaxPeers = 4096;
    private readonly byte[] _local = RandomNumberGenerator.GetBytes(32);
    private readonly ConcurrentDictionary<string, byte[]> _send = new();
    private readonly ConcurrentDictionary<string, byte[][]> _receive = new();

    /// <summary>The config fingerprint bound into every key.</summary>
    public byte[] Fingerprint { get; } = fingerprint;

    /// <summary>HKDF of the message key for messages from <paramref name="from"/> to <paramref name="to"/> under <paramref name="nonce"/>.</summary>
    public byte[] Derive(byte[] nonce, string from, string to) =>
        HKDF.DeriveKey(HashAlgorithmName.SHA256, Encoding.UTF8.GetBytes(secret), 32, nonce,
            [.. Encoding.UTF8.GetBytes($"parse-msg-v1|{from}|{to}|"), .. Fingerprint]);

    /// <summary>Directory: we admitted <paramref name="peer"/> with our <paramref name="nonce"/>; our messages to it use this key.</summary>
    public void Admitted(string self, string peer, byte[] nonce)
    {
        if (_send.Count < MaxPeers || _send.ContainsKey(peer)) _send[peer] = Derive(nonce, self, peer);
    }

    /// <summary>Directory: we answered <paramref name="peer"/>'s challenge <paramref name="nonce"/>; its messages to us will use this key.</summary>
    public void Answered(string self, string peer, byte[] nonce)
    {
        if (_receive.Count >= MaxPeers && !_receive.ContainsKey(peer)) return;
        var key = Derive(nonce, peer, self);
        _receive.AddOrUpdate(peer, [key], (_, old) => [key, .. old.Take(KeysPerPeer - 1)]);
    }

    /// <summary>Directory: <paramref name="peer"/> is gone (or restarted): its old keys are no longer accepted.</summary>
    public void Forget(string peer)
    {
        _send.TryRemove(peer, out _);
        _receive.TryRemove(peer, out _);
    }

    /// <summary>The key for messages to <paramref name="peer"/> (null = not admitted yet); <paramref name="local"/> for this process's own agents.</summary>
    public byte[]? SendKey(string peer, bool local) => local ? _local : _send.GetValueOrDefault(peer);

    /// <summary>The keys accepted on messages from <paramref name="peer"/> (newest first).</summary>
    public IReadOnlyList<byte[]> ReceiveKeys(string peer, bool local) => local ? [_local] : _receive.GetValueOrDefault(peer) ?? [];
}
