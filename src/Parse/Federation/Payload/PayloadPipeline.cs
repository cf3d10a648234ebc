using Parse.Config;
using Parse.Federation.Mixing;
using Parse.Util;
using TorchSharp;
using static TorchSharp.torch;

namespace Parse.Federation.Payload;

/// <summary>
/// An agent's chain of payload processors: outgoing runs first to last, incoming last to first, then validation
/// (shapes, finiteness).
/// </summary>
/// <remarks>
/// <para><b>Difference payloads.</b> When the chain holds a lossy compressor (<see cref="IDeltaCompressor"/>:
/// <c>top-k</c>, <c>random-k</c>, <c>qsgd</c>), <c>error-feedback</c>, <c>choco</c>, or privacy is on, the pipeline
/// sends differences: per group, the sender keeps the values of its previous payload x_prev (initially the group's
/// initial values, equal on every holder of the key) and sends u = x - x_prev (plus the error-feedback residual e),
/// run through privacy and the lossy stages; every receiver keeps a copy x̂_j of each neighbour's values (initially
/// its own initial values of the key), adds the decoded difference and hands x̂_j to the mixer. The sender tracks the
/// same copy of itself (x̂_self, what <c>mixing.rule: choco</c> mixes with). A difference names the round of the
/// sender's previous payload of the key (<see cref="GroupPayload.BaseRound"/>); one that does not follow the last
/// one the receiver applied is refused (Malformed) and the link stays out of step until the next full payload
/// (<c>payload.keyframe_every</c>). This needs every payload of a link to arrive, in order: static topologies,
/// in-order delivery (lockstep timing, or the cluster), and no resumption from checkpoints mid-run.</para>
/// <para>Stateful pipelines belong to one agent: the agent core binds its pipeline once (<see cref="Bind"/>).</para>
/// </remarks>
public sealed class PayloadPipeline
{
    private readonly IReadOnlyList<IPayloadProcessor> _validators;
    private readonly IReadOnlyList<IPayloadProcessor> _named;
    private readonly PrivacyStage? _privacy;
    private readonly bool _delta, _errorFeedback;
    private readonly int _keyframeEvery;
    private readonly Dictionary<string, SendState> _send = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Key, int From), RecvState> _recv = new();
    private readonly Dictionary<string, List<Tensor>> _initial = new(StringComparer.Ordinal);
    private readonly object _lock = new();
    private bool _bound;

    private sealed class SendState(List<Tensor> prev, List<Tensor> self)
    {
        public List<Tensor> Prev { get; } = prev;
        public List<Tensor> Self { get; } = self;
        public List<Tensor> Residual { get; } = prev.Select(t => Keep(torch.zeros_like(t))).ToList();
        public int LastRound { get; set; }
        public int Count { get; set; }
    }

    private sealed class RecvState(List<Tensor> copy, int lastRound)
    {
        public List<Tensor> Copy { get; } = copy;
        public int LastRound { get; set; } = lastRound;
    }

    /// <summary>The registry behind <see cref="Components.PayloadProcessors"/>, holding the built-ins from the start.</summary>
    internal static ComponentRegistry<Func<IPayloadProcessor>> Registry { get; } = BuiltIns();

    private static ComponentRegistry<Func<IPayloadProcessor>> BuiltIns()
    {
        var r = new ComponentRegistry<Func<IPayloadProcessor>>("payload processor");
        r.Register("float16", () => new Float16Compressor(), "rounds outgoing values to float16 precision, 2 bytes per element");
        r.Register("top-k", () => new TopKCompressor(), "sends the payload.topk_fraction largest-magnitude values of each difference tensor (indices + values)");
        r.Register("random-k", () => new RandomKCompressor(), "sends payload.randomk_fraction of each difference tensor's values at random indices");
        r.Register("qsgd", () => new StochasticQuantizer(), "unbiased stochastic quantization of differences to payload.bits bits per value (+ a scale per tensor)");
        r.Register("qsgd-zero", () => new StochasticQuantizer(zeroLevel: true), "like qsgd on a grid with a zero level (2^bits - 1 levels, bits >= 2): small differences cost almost nothing after zstd");
        r.Register("error-feedback", () => new ErrorFeedback(), "keeps what the lossy stages dropped and adds it to the next difference");
        r.Register("choco", () => new ErrorFeedback { Choco = true }, "CHOCO-SGD public copies (error feedback); pair with mixing.rule: choco");
        r.Register("lz4", () => new Lz4Compressor(), "LZ4 compression of the encoded values (lossless)");
        r.Register("zstd", () => new ZstdCompressor(), "Zstandard compression (entropy coding) of the encoded values (lossless)");
        return r;
    }

    /// <summary>Accepted names in <c>payload.processors</c> (built-in and registered).</summary>
    public static IReadOnlyList<string> Known => Registry.Names;

    /// <summary>A chain of <paramref name="processors"/> after validation (full-value payloads, no state).</summary>
    public PayloadPipeline(IReadOnlyList<IPayloadProcessor> processors) : this(processors, null, false, false, 0) { }

    private PayloadPipeline(IReadOnlyList<IPayloadProcessor> named, PrivacyStage? privacy, bool delta, bool errorFeedback, int keyframeEvery)
    {
        _validators = [new ShapeValidator(), new FiniteValidator()];
        _named = named;
        _privacy = privacy;
        _delta = delta;
        _errorFeedback = errorFeedback;
        _keyframeEvery = keyframeEvery;
    }

    /// <summary>Validation always runs; named processors (e.g. float16) are added in order; default options.</summary>
    public static PayloadPipeline Create(IEnumerable<string> names) => Create(names, new PayloadConfig(), new PrivacyConfig());

    /// <summary>The pipeline of one agent for <paramref name="cfg"/> (<c>payload</c> and <c>privacy</c> sections).</summary>
    public static PayloadPipeline Create(ExperimentConfig cfg) => Create(cfg.Payload.Processors, cfg.Payload, cfg.Privacy);

    /// <summary>A pipeline of the named processors with the given options.</summary>
    public static PayloadPipeline Create(IEnumerable<string> names, PayloadConfig options, PrivacyConfig privacy)
    {
        var procs = names.Select(n => Registry.Resolve("payload.processors", n)()).ToList();
        bool ef = procs.OfType<ErrorFeedback>().Any();
        var dp = privacy.Clip > 0 ? new PrivacyStage(privacy) : null;
        bool delta = ef || dp is not null || procs.Any(p => p is IDeltaCompressor);
        return new PayloadPipeline(procs.Where(p => p is not ErrorFeedback).ToList(), dp, delta, ef, options.KeyframeEvery);
    }

    /// <summary>True when payloads carry differences (see the remarks).</summary>
    public bool SendsDifferences => _delta;

    /// <summary>The privacy stage, when <c>privacy.clip</c> &gt; 0.</summary>
    public PrivacyStage? Privacy => _privacy;

    /// <summary>
    /// Binds the pipeline to its agent: seeds its random streams, reads options, and takes the groups' current values as
    /// the shared starting point of difference payloads; attaches a <see cref="ChocoMixer"/> to the public copies.
    /// Called once by the agent core. A pipeline with state cannot serve two agents.
    /// </summary>
    public void Bind(PayloadContext context, IMixer? mixer = null)
    {
        bool stateful = _delta || _named.Any(p => p is IBindablePayloadProcessor);
        if (_bound && stateful) throw new InvalidOperationException("this payload pipeline keeps per-agent state: create one per agent (PayloadPipeline.Create(cfg))");
        _bound = true;
        foreach (var p in _named.Append(_privacy)) if (p is IBindablePayloadProcessor b) b.Bind(context);
        if (_delta)
            using (torch.no_grad())
                foreach (var g in context.Groups)
                {
                    _initial[g.Key] = g.Parameters.Select(t => Keep(t.detach().clone())).ToList();
                    _send[g.Key] = new SendState(_initial[g.Key].Select(t => Keep(t.clone())).ToList(), _initial[g.Key].Select(t => Keep(t.clone())).ToList());
                }
        if (mixer is ChocoMixer choco)
        {
            if (!_delta) throw new InvalidOperationException("mixing.rule choco needs the choco payload processor");
            var keys = new Dictionary<object, string>(ReferenceEqualityComparer.Instance);
            foreach (var g in context.Groups) keys[g.Parameters] = g.Key;
            choco.Attach(own => keys.TryGetValue(own, out var k) ? PublicCopy(k) : null);
        }
    }

    /// <summary>The sender's own public copy x̂_self of group <paramref name="key"/> (difference payloads only; null otherwise).</summary>
    public IReadOnlyList<Tensor>? PublicCopy(string key)
    {
        lock (_lock) return _send.TryGetValue(key, out var s) ? s.Self : null;
    }

    /// <summary>The error-feedback residual of group <paramref name="key"/> (null without error feedback).</summary>
    public IReadOnlyList<Tensor>? Residual(string key)
    {
        lock (_lock) return _errorFeedback && _send.TryGetValue(key, out var s) ? s.Residual : null;
    }

    /// <summary>Transforms the full values of a group into the payload to send (tensors in the caller's dispose scope).</summary>
    public GroupPayload Outgoing(GroupPayload p)
    {
        if (!_delta)
        {
            foreach (var proc in _validators.Concat(_named)) p = proc.Outgoing(p);
            return p;
        }
        lock (_lock)
            using (torch.no_grad())
            {
                bool full = false;
                if (!_send.TryGetValue(p.Key, out var s))
                {
                    _send[p.Key] = s = new SendState(p.Values.Select(v => Keep(v.clone())).ToList(), p.Values.Select(v => Keep(v.clone())).ToList());
                    full = true;
                }
                else full = s.Count > 0 && _keyframeEvery > 0 && s.Count % _keyframeEvery == 0;
                if (full)
                {
                    // a full payload (the first of an unbound pipeline, or a keyframe): only the non-lossy stages act
                    var f = p;
                    foreach (var proc in _validators.Concat(_named)) f = proc.Outgoing(f);
                    for (int k = 0; k < p.Values.Count; k++)
                    {
                        s.Prev[k].copy_(p.Values[k]);
                        s.Self[k].copy_(f.Values[k]);
                        if (_errorFeedback) s.Residual[k].copy_(Diff(p.Values[k], f.Values[k]));
                        else s.Residual[k].zero_();
                    }
                    s.LastRound = p.Round;
                    s.Count++;
                    return f;
                }
                var v = p.Values.Select((x, k) => Diff(x, s.Prev[k])).ToList();
                for (int k = 0; k < v.Count; k++) s.Prev[k].copy_(p.Values[k]);
                if (_errorFeedback) for (int k = 0; k < v.Count; k++) v[k].AddScaled_(s.Residual[k], 1);
                var q = p with { Values = v, Kind = PayloadKind.Delta, BaseRound = s.LastRound, Codings = null, BytesPerElement = 4 };
                foreach (var proc in _validators) q = proc.Outgoing(q);
                if (_privacy is not null) q = _privacy.Outgoing(q);
                foreach (var proc in _named) q = proc.Outgoing(q);
                for (int k = 0; k < v.Count; k++)
                {
                    if (_errorFeedback) s.Residual[k].copy_(Diff(v[k], q.Values[k]));
                    s.Self[k].AddScaled_(q.Values[k], 1);
                }
                s.LastRound = p.Round;
                s.Count++;
                return q;
            }
    }

    /// <summary>
    /// Checks (and for difference payloads, applies) a received payload; null with <paramref name="reason"/> refuses it.
    /// A difference payload comes back as the receiver's updated copy of the sender's values (new tensors).
    /// </summary>
    public GroupPayload? Incoming(GroupPayload p, IReadOnlyList<long[]> shapes, string key, out RejectReason reason)
    {
        reason = default;
        GroupPayload? cur = p;
        var chain = _validators.Concat(_named).ToList();
        for (int i = chain.Count - 1; i >= 0 && cur is not null; i--)
            cur = chain[i].Incoming(cur, shapes, key, out reason);
        if (cur is null) return null;
        if (!_delta)
        {
            if (cur.Kind == PayloadKind.Delta) { reason = RejectReason.Malformed; return null; }
            return cur;
        }
        lock (_lock)
            using (torch.no_grad())
            {
                var id = (cur.Key, cur.Sender);
                _recv.TryGetValue(id, out var r);
                if (cur.Kind == PayloadKind.Full)
                {
                    if (r is null) _recv[id] = r = new RecvState(cur.Values.Select(v => Keep(v.clone())).ToList(), cur.Round);
                    else for (int k = 0; k < r.Copy.Count; k++) r.Copy[k].copy_(cur.Values[k]);
                    r.LastRound = cur.Round;
                    return cur;
                }
                if (r is null && _initial.TryGetValue(cur.Key, out var init))
                    _recv[id] = r = new RecvState(init.Select(t => Keep(t.clone())).ToList(), 0);
                if (r is null || cur.BaseRound != r.LastRound)
                {
                    reason = RejectReason.Malformed;
                    return null;
                }
                for (int k = 0; k < r.Copy.Count; k++) r.Copy[k].AddScaled_(cur.Values[k], 1);
                r.LastRound = cur.Round;
                return cur with { Values = r.Copy.Select(t => t.clone()).ToList(), Kind = PayloadKind.Full, BaseRound = 0 };
            }
    }

    /// <summary><paramref name="a"/> - <paramref name="b"/> with an explicitly held scalar (see <see cref="ScalarOps"/>).</summary>
    private static Tensor Diff(Tensor a, Tensor b)
    {
        using var minusOne = (-1.0).ToScalar();
        return a.add(b, minusOne);
    }

    private static Tensor Keep(Tensor t)
    {
        t.DetachFromDisposeScope();
        return t;
    }
}
