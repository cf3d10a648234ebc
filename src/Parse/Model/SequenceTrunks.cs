using Parse.Config;
using Parse.Util;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Parse.Model;

/// <summary>Input shapes the sequence encoders (gru, lstm, transformer) accept.</summary>
internal static class SequenceShape
{
    /// <summary>
    /// The [T, F] (time x features) view of a per-sample shape: [T, F] itself, or [1, T, F] (a one-channel image read
    /// row by row). Anything else cannot be read as a sequence: the message names the modality and its shape.
    /// </summary>
    public static long[] Frames(long[] shape, string kind, string modality)
    {
        if (shape.Length == 2) return shape;
        if (shape.Length == 3 && shape[0] == 1) return [shape[1], shape[2]];
        throw new ConfigException(
            $"encoder '{kind}' reads a sequence of frames [T,F] (time x features), but modality '{modality}' has per-sample shape " +
            $"[{string.Join(",", shape)}]; use mlp (any shape) or cnn2d (images) for it");
    }

    /// <summary>One agent's values drawn uniformly in ±<paramref name="bound"/>, repeated for every agent.</summary>
    public static Parameter Uniform(long[] shape, double bound, int agents)
    {
        using var t = torch.empty(shape).uniform_(-bound, bound);
        return Stacked.Replicate(t, agents);
    }
}

/// <summary>
/// Gated recurrent unit per agent over frames [T, F], written as batched matrix products (the parameters carry the
/// agent dimension, so TorchSharp's <c>nn.GRU</c> cannot hold them): <c>layers</c> stacked GRUs of width
/// <c>hidden</c>, gates and initialization as <c>torch.nn.GRU</c> (uniform in ±1/sqrt(hidden)); the output is the
/// last layer's final state, or with <c>pool: mean</c> the mean of its states over time. [A, N, T, F] -> [A, N, hidden].
/// </summary>
public sealed class GruTrunk : Module<Tensor, Tensor>
{
    private readonly ParameterList w_ih = new(), w_hh = new(), b_ih = new(), b_hh = new();
    private readonly long[] _frames;
    private readonly long _hidden;
    private readonly bool _meanPool;

    /// <summary>Creates the trunk for <paramref name="agents"/> agents.</summary>
    /// <param name="inputShape">Per-sample shape [T, F] (or [1, T, F]).</param>
    /// <param name="modality">Modality name (for messages).</param>
    /// <param name="hidden">State width (= output width).</param>
    /// <param name="layers">Stacked recurrent layers.</param>
    /// <param name="agents">Agents A.</param>
    /// <param name="meanPool">Output the mean of the last layer's states over time instead of the final state.</param>
    public GruTrunk(long[] inputShape, string modality, int hidden, int layers, int agents = 1, bool meanPool = false)
        : this(inputShape, modality, hidden, layers, agents, 3, meanPool) { }

    internal GruTrunk(long[] inputShape, string modality, int hidden, int layers, int agents, int gates, bool meanPool) : base(gates == 3 ? nameof(GruTrunk) : nameof(LstmTrunk))
    {
        _meanPool = meanPool;
        _frames = SequenceShape.Frames(inputShape, gates == 3 ? "gru" : "lstm", modality);
        _hidden = hidden;
        Gates = gates;
        double bound = 1.0 / Math.Sqrt(hidden);
        long input = _frames[1];
        for (int l = 0; l < Math.Max(1, layers); l++)
        {
            w_ih.Add(SequenceShape.Uniform([gates * hidden, input], bound, agents));
            w_hh.Add(SequenceShape.Uniform([gates * hidden, hidden], bound, agents));
            b_ih.Add(SequenceShape.Uniform([gates * hidden], bound, agents));
            b_hh.Add(SequenceShape.Uniform([gates * hidden], bound, agents));
            input = hidden;
        }
        RegisterComponents();
    }

    /// <summary>3 for a GRU, 4 for an LSTM.</summary>
    internal int Gates { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        long a = x.shape[0], n = x.shape[1], t = _frames[0];
        var seq = x.reshape(a, n, t, _frames[1]);
        Tensor last = null!;
        for (int l = 0; l < w_ih.Count; l++)
        {
            var wIh = Stacked.Use(w_ih[l]);
            var wHh = Stacked.Use(w_hh[l]).transpose(1, 2);                                        // [A, H, G*H]
            var bHh = Stacked.Use(b_hh[l]).unsqueeze(1);                                           // [A, 1, G*H]
            // input contributions of every step in one product: [A, N*T, in] x [A, in, G*H]
            var xi = torch.bmm(seq.reshape(a, n * t, seq.shape[3]), wIh.transpose(1, 2)).Plus(Stacked.Use(b_ih[l]).unsqueeze(1))
                .reshape(a, n, t, Gates * _hidden);
            var h = torch.zeros(a, n, _hidden, dtype: x.dtype);
            var c = Gates == 4 ? torch.zeros(a, n, _hidden, dtype: x.dtype) : null;
            bool keep = l + 1 < w_ih.Count || _meanPool;
            var outputs = keep ? new List<Tensor>((int)t) : null;
            for (long s = 0; s < t; s++)
            {
                var gi = xi.select(2, s);                                                          // [A, N, G*H]
                var gh = torch.bmm(h, wHh).Plus(bHh);
                if (Gates == 3) h = GruStep(gi, gh, h);
                else (h, c) = LstmStep(gi.Plus(gh), c!);
                outputs?.Add(h);
            }
            last = h;
            if (keep) seq = torch.stack(outputs!, 2);                                             // [A, N, T, H]
        }
        return _meanPool ? seq.mean([2]) : last;
    }

    private Tensor GruStep(Tensor gi, Tensor gh, Tensor h)
    {
        var ig = gi.chunk(3, -1);
        var hg = gh.chunk(3, -1);
        var r = ig[0].Plus(hg[0]).sigmoid();
        var z = ig[1].Plus(hg[1]).sigmoid();
        var cand = ig[2].Plus(r.mul(hg[2])).tanh();
        return cand.lerp(h, z);                                                                   // (1 - z) * cand + z * h
    }

    private static (Tensor H, Tensor C) LstmStep(Tensor g, Tensor c)
    {
        var parts = g.chunk(4, -1);                                                               // torch order: i, f, g, o
        var i = parts[0].sigmoid();
        var f = parts[1].sigmoid();
        var cell = parts[2].tanh();
        var o = parts[3].sigmoid();
        var next = f.mul(c).Plus(i.mul(cell));
        return (o.mul(next.tanh()), next);
    }
}

/// <summary>
/// Long short-term memory per agent over frames [T, F], as batched matrix products: <c>layers</c> stacked LSTMs of
/// width <c>hidden</c> (gates i, f, g, o and initialization as <c>torch.nn.LSTM</c>); the output is the last layer's
/// final hidden state. [A, N, T, F] -> [A, N, hidden].
/// </summary>
public sealed class LstmTrunk : Module<Tensor, Tensor>
{
    private readonly GruTrunk core;

    /// <summary>Creates the trunk for <paramref name="agents"/> agents.</summary>
    public LstmTrunk(long[] inputShape, string modality, int hidden, int layers, int agents = 1, bool meanPool = false) : base(nameof(LstmTrunk))
    {
        core = new GruTrunk(inputShape, modality, hidden, layers, agents, gates: 4, meanPool);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x) => core.forward(x);
}

/// <summary>
/// A small transformer encoder per agent over frames [T, F]: a linear embedding of each frame to width
/// <c>hidden</c> plus a learned position embedding, <c>layers</c> pre-norm blocks (multi-head self-attention with
/// <c>heads</c> heads, then a ReLU feed-forward of width 2 x hidden, each with a residual connection), a final layer
/// norm and the mean over time. Written with batched matrix products so that every parameter carries the agent
/// dimension. [A, N, T, F] -> [A, N, hidden].
/// </summary>
public sealed class TransformerTrunk : Module<Tensor, Tensor>
{
    private readonly StackedLinear embed;
    private readonly Parameter position;
    private readonly ModuleList<TransformerBlock> blocks = new();
    private readonly StackedLayerNorm norm;
    private readonly long[] _frames;

    /// <summary>Creates the trunk for <paramref name="agents"/> agents.</summary>
    public TransformerTrunk(long[] inputShape, string modality, int hidden, int layers, int heads, int agents = 1) : base(nameof(TransformerTrunk))
    {
        _frames = SequenceShape.Frames(inputShape, "transformer", modality);
        if (heads < 1 || hidden % heads != 0)
            throw new ConfigException($"encoder 'transformer': hidden ({hidden}) must be a multiple of heads ({heads})");
        embed = new StackedLinear(agents, _frames[1], hidden);
        using (var p = torch.randn(_frames[0], hidden)) using (var scaled = p.Times(0.02)) position = Stacked.Replicate(scaled, agents);
        for (int l = 0; l < Math.Max(1, layers); l++) blocks.Add(new TransformerBlock(hidden, heads, agents));
        norm = new StackedLayerNorm(hidden, agents);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        long a = x.shape[0], n = x.shape[1];
        var h = embed.forward(x.reshape(a, n, _frames[0], _frames[1])).Plus(Stacked.Use(position).unsqueeze(1));   // [A, N, T, d]
        foreach (var b in blocks) h = b.forward(h);
        return norm.forward(h).mean([2]);
    }
}

/// <summary>One pre-norm transformer block per agent on [A, N, T, d].</summary>
internal sealed class TransformerBlock : Module<Tensor, Tensor>
{
    private readonly StackedLayerNorm norm1, norm2;
    private readonly StackedLinear qkv, output, ff1, ff2;
    private readonly long _heads, _width;

    public TransformerBlock(int width, int heads, int agents) : base(nameof(TransformerBlock))
    {
        (_heads, _width) = (heads, width);
        norm1 = new StackedLayerNorm(width, agents);
        qkv = new StackedLinear(agents, width, 3L * width);
        output = new StackedLinear(agents, width, width);
        norm2 = new StackedLayerNorm(width, agents);
        ff1 = new StackedLinear(agents, width, 2L * width);
        ff2 = new StackedLinear(agents, 2L * width, width);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        long a = x.shape[0], n = x.shape[1], t = x.shape[2], dh = _width / _heads;
        var parts = qkv.forward(norm1.forward(x)).reshape(a, n, t, 3, _heads, dh).permute(3, 0, 1, 4, 2, 5);   // [3, A, N, heads, T, dh]
        var (q, k, v) = (parts[0], parts[1], parts[2]);
        var scores = torch.matmul(q, k.transpose(-2, -1)).Over(Math.Sqrt(dh)).softmax(-1);                  // [A, N, heads, T, T]
        var attended = torch.matmul(scores, v).permute(0, 1, 3, 2, 4).reshape(a, n, t, _width);
        var h = x.Plus(output.forward(attended));
        return h.Plus(ff2.forward(functional.relu(ff1.forward(norm2.forward(h)))));
    }
}

/// <summary>Layer normalization over the last dimension with a per-agent scale and shift ([A, d] each, starting at 1 and 0).</summary>
internal sealed class StackedLayerNorm : Module<Tensor, Tensor>
{
    private readonly Parameter weight, bias;
    private readonly long _width;

    public StackedLayerNorm(long width, int agents) : base(nameof(StackedLayerNorm))
    {
        _width = width;
        using (var w = torch.ones(width)) weight = Stacked.Replicate(w, agents);
        using (var b = torch.zeros(width)) bias = Stacked.Replicate(b, agents);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        var y = functional.layer_norm(x, [_width]);
        long[] shape = [x.shape[0], .. Enumerable.Repeat(1L, (int)x.dim() - 2), _width];
        return y.mul(Stacked.Use(weight).reshape(shape)).Plus(Stacked.Use(bias).reshape(shape));
    }
}
