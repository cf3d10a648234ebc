namespace Parse.Cluster.Protocol;

/// <summary>Marker for every message that crosses process boundaries (bound to <see cref="MessageSerializer"/>).</summary>
public interface IWireMessage;

/// <summary>Node to node: prove you hold the experiment secret by MACing this nonce.</summary>
public sealed record Challenge(byte[] Nonce) : IWireMessage;

/// <summary>
/// Node to node: the answer to a <see cref="Challenge"/>, with the agent ids the prover hosts and the fingerprint of
/// its resolved experiment config (<see cref="Parse.Config.ConfigFingerprint.ForWire"/>), all bound by the MAC.
/// </summary>
public sealed record Proof(byte[] Nonce, byte[] Mac, int[] Agents, byte[] Fingerprint) : IWireMessage;

/// <summary>
/// Node to node: the receiver failed admission and is being downed. <see cref="Nonce"/> is the nonce of the receiver's
/// own <see cref="Proof"/> being refused, <see cref="Mac"/> an HMAC under the experiment secret over nonce and reason
/// (see <see cref="SecretAuth.DenyMac"/>): a node accepts a <see cref="Denied"/> only as the answer to its own proof.
/// </summary>
public sealed record Denied(byte[] Nonce, string Reason, byte[] Mac) : IWireMessage;

/// <summary>Agent to neighbour agent: the sharing keys the sender holds (its groups shared by the strategy).</summary>
public sealed record KeyHello(int From, int To, string[] Keys, bool Reply) : IWireMessage;

/// <summary>
/// Overlay repair flood (see OverlayBuilder): a non-holder of <see cref="Key"/> tells a neighbour the smallest
/// id of its non-holder component and the holders adjacent to that component, as far as it knows.
/// <see cref="Settled"/> says the sender already knows all its own neighbours' keys.
/// </summary>
public sealed record FloodState(int From, int To, string Key, int Component, int[] Holders, bool Settled) : IWireMessage;

/// <summary>Agent to agent: one chunk of an encoded payload (see Wire.PayloadCodec).</summary>
public sealed record PayloadChunk(int From, int To, long MessageId, int Index, int Count, byte[] Data) : IWireMessage;

/// <summary>Agent to neighbour agent: the sender finished its last round and will send nothing more.</summary>
public sealed record Finished(int From, int To) : IWireMessage;

/// <summary>
/// Newcomer to overlay neighbour (the join protocol of churn): "I join; send me your current groups of <see cref="Keys"/>
/// once you have reached round <see cref="FirstRound"/> (the first round I play)".
/// </summary>
public sealed record JoinRequest(int From, int To, int FirstRound, string[] Keys) : IWireMessage;

/// <summary>
/// Neighbour to newcomer: one chunk of the answer to a <see cref="JoinRequest"/> for one group (an encoded payload of its
/// current parameters, see Wire.PayloadCodec). <see cref="Next"/> is the first round in which the neighbour exchanges
/// payloads with the newcomer; <see cref="Total"/> how many groups the answer has (0: none, then <see cref="Data"/> is empty).
/// </summary>
public sealed record JoinChunk(int From, int To, long MessageId, int Index, int Count, int Next, int Total, byte[] Data) : IWireMessage;

/// <summary>
/// Agent to agent: an authenticated envelope around one agent message (<see cref="KeyHello"/>, <see cref="FloodState"/>,
/// <see cref="PayloadChunk"/>, <see cref="Finished"/>), encoded in <see cref="Body"/> with its <see cref="Manifest"/>.
/// <see cref="Mac"/> is an HMAC-SHA256 under the key of the (sender process, receiver process) pair (see <see cref="PeerKeys"/>)
/// over every other field; <see cref="Incarnation"/> is random per agent start and <see cref="Seq"/> strictly increases
/// per sender incarnation, so a replayed envelope is refused (<see cref="MessageAuth"/>).
/// </summary>
public sealed record Sealed(int From, int To, long Incarnation, long Seq, int Round, string Manifest, byte[] Body, byte[] Mac) : IWireMessage;

/// <summary>
/// Node to node (directory to directory): these agents finished their last round for good (a restart resumes them
/// from their final checkpoint, already done). Sent when a local agent finishes and to every newly admitted member, so
/// a restarted agent does not wait for neighbours whose processes have already left. Travels only inside a
/// <see cref="Sealed"/> envelope from and to <see cref="MessageAuth.Node"/>, under the same per-process-pair keys as agent
/// messages (an unsealed one is ignored), so only a process holding the secret and the config can claim agents finished.
/// </summary>
public sealed record AgentsFinished(int[] Agents) : IWireMessage;
