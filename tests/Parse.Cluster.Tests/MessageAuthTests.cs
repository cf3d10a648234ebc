using Akka.Actor;
using Akka.Configuration;
using Parse.Cluster.Protocol;
using Parse.Cluster.Runtime;
using Parse.Cluster.Wire;
using Parse.Config;

namespace Parse.Cluster.Tests;

/// <summary>Per-message authentication: pair keys from admission, sealed envelopes, replay, forged senders, config fingerprints.</summary>
public sealed class MessageAuthTests
{
    private const string A = "akka.tcp://parse@127.0.0.1:1001", B = "akka.tcp://parse@127.0.0.1:1002", C = "akka.tcp://parse@127.0.0.1:1003";
    private static readonly byte[] Fp = new byte[32];

    /// <summary>Processes A (agents 0,1) and B (agent 2) admitted each other; returns their key stores.</summary>
    private static (PeerKeys A, PeerKeys B) Pair(string secretA = "s", string secretB = "s", byte[]? fpB = null)
    {
        var ka = new PeerKeys(secretA, Fp);
        var kb = new PeerKeys(secretB, fpB ?? Fp);
        byte[] nA = SecretAuth.NewNonce(), nB = SecretAuth.NewNonce();
        // A challenges B with nA: B answers, A admits B; and the other way round
        kb.Answered(B, A, nA); ka.Admitted(A, B, nA);
        ka.Answered(A, B, nB); kb.Admitted(B, A, nB);
        return (ka, kb);
    }

    private static Sealed Chunk(PeerKeys sender, string to, int from, int toAgent, long inc, long seq, int round = 1) =>
        MessageAuth.Seal(new PayloadChunk(from, toAgent, 5, 0, 1, [1, 2, 3]), from, toAgent, inc, seq, round, sender.SendKey(to, local: false)!);

    [Fact]
    public void Both_ends_of_an_admitted_pair_derive_the_same_keys_and_an_authentic_message_passes()
    {
        var (ka, kb) = Pair();
        var m = Chunk(ka, B, from: 0, toAgent: 2, inc: 7, seq: 0);
        var auth = new MessageAuth(2);
        Assert.Equal(SealVerdict.Ok, auth.Check(m, kb.ReceiveKeys(A, false), j => j is 0 or 1));
        var inner = Assert.IsType<PayloadChunk>(MessageAuth.Open(m));
        Assert.Equal([1, 2, 3], inner.Data);
        // the other direction has its own key
        Assert.NotEqual(ka.SendKey(B, false), kb.SendKey(A, false));
        Assert.Equal(SealVerdict.Ok, new MessageAuth(0).Check(Chunk(kb, A, 2, 0, 9, 0), ka.ReceiveKeys(B, false), j => j == 2));
    }

    [Fact]
    public void A_replayed_message_is_refused_and_a_new_incarnation_starts_its_own_sequence()
    {
        var (ka, kb) = Pair();
        var auth = new MessageAuth(2);
        var keys = kb.ReceiveKeys(A, false);
        var m0 = Chunk(ka, B, 0, 2, inc: 7, seq: 0);
        var m1 = Chunk(ka, B, 0, 2, inc: 7, seq: 1);
        Assert.Equal(SealVerdict.Ok, auth.Check(m0, keys, null));
        Assert.Equal(SealVerdict.Ok, auth.Check(m1, keys, null));
        Assert.Equal(SealVerdict.Replayed, auth.Check(m1, keys, null));
        Assert.Equal(SealVerdict.Replayed, auth.Check(m0, keys, null));
        // a restarted sender (new incarnation) counts from 0 again; the old incarnation's messages stay refused
        Assert.Equal(SealVerdict.Ok, auth.Check(Chunk(ka, B, 0, 2, inc: 8, seq: 0), keys, null));
        Assert.Equal(SealVerdict.Replayed, auth.Check(m1, keys, null));
        // changing the sequence number of a recorded message breaks its MAC
        Assert.Equal(SealVerdict.BadMac, auth.Check(m1 with { Seq = 99 }, keys, null));
    }

    [Fact]
    public void A_forged_sender_is_refused()
    {
        var (ka, kb) = Pair();
        var auth = new MessageAuth(2);
        // process A claims agent 4, which is hosted elsewhere: the MAC is fine but the sender is not A's
        Assert.Equal(SealVerdict.ForgedSender, auth.Check(Chunk(ka, B, from: 4, toAgent: 2, 7, 0), kb.ReceiveKeys(A, false), j => j is 0 or 1 && false));
        // a message of A rewritten to claim another sender or receiver fails the MAC
        var m = Chunk(ka, B, 0, 2, 7, 1);
        Assert.Equal(SealVerdict.BadMac, auth.Check(m with { From = 1 }, kb.ReceiveKeys(A, false), null));
        Assert.Equal(SealVerdict.BadMac, auth.Check(m with { Body = [.. m.Body[..^1], 9] }, kb.ReceiveKeys(A, false), null));
        // a message addressed to agent 3 is not accepted by agent 2
        Assert.Equal(SealVerdict.ForgedSender, auth.Check(Chunk(ka, B, 0, 3, 7, 2), kb.ReceiveKeys(A, false), null));
        // A's message presented as coming from process C (envelope address) meets C's keys, not A's
        var (_, kc) = Pair();
        Assert.Equal(SealVerdict.UnknownPeer, auth.Check(m, kb.ReceiveKeys(C, false), null));
        Assert.Equal(SealVerdict.BadMac, auth.Check(m, kc.ReceiveKeys(A, false), null));
        // an envelope whose inner message names other agents than the envelope does not open
        var lie = MessageAuth.Seal(new PayloadChunk(1, 2, 5, 0, 1, [1]), 0, 2, 7, 3, 1, ka.SendKey(B, false)!);
        Assert.Equal(SealVerdict.Ok, auth.Check(lie, kb.ReceiveKeys(A, false), null));
        Assert.Throws<System.Runtime.Serialization.SerializationException>(() => MessageAuth.Open(lie));
    }

    [Fact]
    public void A_non_member_with_a_wrong_secret_or_another_config_cannot_produce_an_accepted_message()
    {
        var (ka, kb) = Pair(secretA: "wrong");
        Assert.Equal(SealVerdict.BadMac, new MessageAuth(2).Check(Chunk(ka, B, 0, 2, 7, 0), kb.ReceiveKeys(A, false), null));
        var fp2 = new byte[32];
        fp2[0] = 1;
        var (ka2, kb2) = Pair(fpB: fp2);
        Assert.Equal(SealVerdict.BadMac, new MessageAuth(2).Check(Chunk(ka2, B, 0, 2, 7, 0), kb2.ReceiveKeys(A, false), null));
        // local messages use a per-process random key: another process cannot seal them
        var k1 = new PeerKeys("s", Fp);
        var m = MessageAuth.Seal(new Finished(0, 1), 0, 1, 1, 0, 1, new PeerKeys("s", Fp).SendKey("", local: true)!);
        Assert.Equal(SealVerdict.BadMac, new MessageAuth(1).Check(m, k1.ReceiveKeys("", local: true), null));
        // a forgotten (removed) peer has no keys
        kb.Forget(A);
        Assert.Equal(SealVerdict.UnknownPeer, new MessageAuth(2).Check(Chunk(ka, B, 0, 2, 7, 1), kb.ReceiveKeys(A, false), null));
    }

    [Fact]
    public void Insecure_mode_without_a_secret_still_seals_and_refuses_replays()
    {
        var (ka, kb) = Pair(secretA: "", secretB: "");
        var auth = new MessageAuth(2);
        var m = Chunk(ka, B, 0, 2, 7, 0);
        Assert.Equal(SealVerdict.Ok, auth.Check(m, kb.ReceiveKeys(A, false), null));
        Assert.Equal(SealVerdict.Replayed, auth.Check(m, kb.ReceiveKeys(A, false), null));
        Assert.True(SecretAuth.Verify("", new byte[32], A, [0], Fp, SecretAuth.Mac("", new byte[32], A, [0], Fp)));
    }

    [Fact]
    public void A_peer_challenged_again_keeps_its_in_flight_messages_valid()
    {
        var (ka, kb) = Pair();
        var old = Chunk(ka, B, 0, 2, 7, 0);
        // B challenges A again (e.g. A became reachable again): new key for A's messages, the old one still accepted
        var n = SecretAuth.NewNonce();
        kb.Answered(B, A, n);
        ka.Admitted(A, B, n);
        var auth = new MessageAuth(2);
        Assert.Equal(SealVerdict.Ok, auth.Check(old, kb.ReceiveKeys(A, false), null));
        Assert.Equal(SealVerdict.Ok, auth.Check(Chunk(ka, B, 0, 2, 7, 1), kb.ReceiveKeys(A, false), null));
    }

    [Fact]
    public void The_config_fingerprint_covers_the_experiment_but_not_node_local_cluster_settings()
    {
        var cfg = new ExperimentConfig();
        var fp = ConfigFingerprint.ForWire(cfg);
        Assert.Equal(fp, ConfigFingerprint.ForWire(new ExperimentConfig()));
        Assert.NotEqual(fp, ConfigFingerprint.ForWire(cfg with { Rounds = cfg.Rounds + 1 }));
        Assert.NotEqual(fp, ConfigFingerprint.ForWire(cfg with { Train = cfg.Train with { LocalSteps = cfg.Train.LocalSteps + 1 } }));
        Assert.NotEqual(fp, ConfigFingerprint.ForWire(cfg with { Cluster = cfg.Cluster with { ChunkBytes = 4096 } }));
        Assert.Equal(fp, ConfigFingerprint.ForWire(cfg with { Cluster = cfg.Cluster with { LingerMs = 1, DiscoveryTimeoutMs = 5 } }));
        Assert.Equal(fp, ConfigFingerprint.ForWire(cfg with { Cluster = cfg.Cluster with { Tls = new ClusterTlsConfig { Enabled = true, Certificate = "x.pfx" } } }));
        // one definition of "the same experiment": the checkpoint fingerprint is the same hash without the wire limits
        Assert.Equal(ConfigFingerprint.Of(cfg), ConfigFingerprint.Of(cfg with { Cluster = cfg.Cluster with { ChunkBytes = 4096 } }));
        Assert.Equal(ConfigFingerprint.Of(cfg), Convert.ToHexStringLower(ConfigFingerprint.Hash(cfg).AsSpan(0, 16)));
        Assert.NotEqual(ConfigFingerprint.Hash(cfg), fp);
    }

    [Fact]
    public void Chunk_counts_sizes_and_incomplete_messages_per_sender_are_bounded()
    {
        var asm = new ChunkAssembler(maxBytes: 10_000, chunkBytes: 1_000, maxPendingPerSender: 2);
        // at most ceil(10000 / 1000) = 10 chunks, each at most 1000 bytes
        Assert.Throws<InvalidDataException>(() => asm.Add(1, 1, 0, 11, new byte[10]));
        Assert.Throws<InvalidDataException>(() => asm.Add(1, 1, 0, 10, new byte[1_001]));
        // one sender keeps at most two incomplete messages; others are not affected
        asm.Add(2, 10, 0, 3, new byte[100]);
        asm.Add(1, 2, 0, 3, new byte[100]);
        asm.Add(1, 3, 0, 3, new byte[100]);
        asm.Add(1, 4, 0, 3, new byte[100]);
        Assert.Equal(1, asm.Dropped);
        Assert.Equal(300, asm.PendingBytes);   // sender 2 one message, sender 1 its two newest
        Assert.Null(asm.Add(2, 10, 1, 3, new byte[100]));
        Assert.Equal(300, asm.Add(2, 10, 2, 3, new byte[100])!.Length);
    }

    [Fact]
    public void Agents_finished_is_sealed_like_agent_messages_so_it_cannot_be_forged_or_replayed()
    {
        var (ka, kb) = Pair();
        var news = MessageAuth.Seal(new AgentsFinished([4, 5]), MessageAuth.Node, MessageAuth.Node, 9, 0, 0, ka.SendKey(B, local: false)!);
        var auth = new MessageAuth(MessageAuth.Node);
        Assert.Equal(SealVerdict.Ok, auth.Check(news, kb.ReceiveKeys(A, false), null));
        Assert.Equal([4, 5], MessageAuth.OpenNode(news).Agents);
        Assert.Equal(SealVerdict.Replayed, auth.Check(news, kb.ReceiveKeys(A, false), null));
        // altered list, a process without the secret, an agent envelope passed off as node news
        Assert.Equal(SealVerdict.BadMac, auth.Check(news with { Body = WireCodec.Encode(new AgentsFinished([0, 1, 2, 3])), Seq = 1 }, kb.ReceiveKeys(A, false), null));
        var (wrong, kb2) = Pair(secretA: "other");
        var forged = MessageAuth.Seal(new AgentsFinished([0]), MessageAuth.Node, MessageAuth.Node, 9, 5, 0, wrong.SendKey(B, local: false)!);
        Assert.Equal(SealVerdict.BadMac, new MessageAuth(MessageAuth.Node).Check(forged, kb2.ReceiveKeys(A, false), null));
        var agentMsg = MessageAuth.Seal(new Finished(0, 2), 0, 2, 9, 7, 1, ka.SendKey(B, local: false)!);
        Assert.Throws<System.Runtime.Serialization.SerializationException>(() => MessageAuth.OpenNode(agentMsg));
        Assert.Equal(SealVerdict.ForgedSender, new MessageAuth(MessageAuth.Node).Check(agentMsg, kb.ReceiveKeys(A, false), null));
    }

    [Fact]
    public void An_unsealed_agents_finished_is_refused_by_the_directory()
    {
        var hocon = AkkaConfig.Hocon(new NodeOptions { ConfigPath = "x", Agents = [0], Port = 0, SeedNodes = [], OutDir = "x" }, new ClusterConfig());
        using var system = ActorSystem.Create(AkkaConfig.SystemName, ConfigurationFactory.ParseString(hocon));
        var log = new List<string>();
        Action<string> onLog = l => { lock (log) log.Add(l); };
        Action<string> onFatal = _ => { };
        using var told = new ManualResetEventSlim();
        var probe = system.ActorOf(Props.Create(() => new LastMessage(told)), "agent-0");
        var dir = system.ActorOf(Props.Create(() => new DirectoryActor("s", new PeerKeys("s", Fp), new[] { 0 }, new[] { probe }, onLog, onFatal, onFatal, null, 60_000, null)), "directory");
        dir.Tell(new AgentsFinished([1, 2]), ActorRefs.NoSender);
        var end = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < end) { lock (log) if (log.Any(l => l.Contains("refused a node message"))) break; Thread.Sleep(50); }
        lock (log) Assert.Contains(log, l => l.Contains("refused a node message") && l.Contains("unsealed"));
        Assert.False(told.Wait(500), "the local agents were told that agents finished");
    }

    /// <summary>Stands in for a local agent: records whether the directory told it that agents finished.</summary>
    private sealed class LastMessage : ReceiveActor
    {
        public LastMessage(ManualResetEventSlim told) { Receive<PeersFinished>(_ => told.Set()); ReceiveAny(_ => { }); }
    }

    [Fact]
    public void A_spoofed_denied_is_ignored_and_logged()
    {
        var hocon = AkkaConfig.Hocon(new NodeOptions { ConfigPath = "x", Agents = [0], Port = 0, SeedNodes = [], OutDir = "x" }, new ClusterConfig());
        using var system = ActorSystem.Create(AkkaConfig.SystemName, ConfigurationFactory.ParseString(hocon));
        var log = new List<string>();
        var fatal = new List<string>();
        Action<string> onLog = l => { lock (log) log.Add(l); };
        Action<string> onFatal = f => { lock (fatal) fatal.Add(f); };
        var keys = new PeerKeys("s", Fp);
        var dir = system.ActorOf(Props.Create(() => new DirectoryActor("s", keys, new[] { 0 }, Array.Empty<IActorRef>(), onLog, onFatal, onFatal)), "directory");
        var n = SecretAuth.NewNonce();
        // correctly MACed under the secret, but it answers no proof of ours
        dir.Tell(new Denied(n, "stop", SecretAuth.DenyMac("s", n, "stop")), ActorRefs.NoSender);
        var end = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < end) { lock (log) if (log.Any(l => l.Contains("ignored a Denied"))) break; Thread.Sleep(50); }
        lock (log) Assert.Contains(log, l => l.Contains("ignored a Denied") && l.Contains("spoofed"));
        lock (fatal) Assert.Empty(fatal);
    }
}
