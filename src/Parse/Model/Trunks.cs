using Parse.Config;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Parse.Model;

/// <summary>Builds encoder trunks (input -> hidden vector) by <c>model.encoders.*.kind</c>, from <see cref="Components.Encoders"/>.</summary>
public static class TrunkFactory
{
    /// <summary>The registry behind <see cref="Components.Encoders"/>, holding the built-ins from the start.</summary>
    internal static ComponentRegistry<EncoderFactory> Registry { get; } = BuiltIns();

    private static ComponentRegistry<EncoderFactory> BuiltIns()
    {
        var r = new ComponentRegistry<EncoderFactory>("encoder");
        r.Register("mlp", new EncoderFactory(q => new MlpTrunk(q.InputShape, q.Config.Hidden, q.Config.Layers, q.Agents, q.Config.Widths),
            q => q.Config.Widths is { Count: > 0 } w ? $"mlp-{q.ShapeText}-w{string.Join('x', w)}-h{q.Config.Hidden}" : $"mlp-{q.ShapeText}-h{q.Config.Hidden}-l{q.Config.Layers}"),
            "flatten, then layers x (Linear, ReLU), or one layer per entry of widths and a last one of width hidden");
        r.Register("cnn2d", new EncoderFactory(q => new Cnn2dTrunk(q.InputShape, q.Config.Hidden, q.Config.Channels, q.Config.Layers, q.Agents)),
            "2-D CNN for images [C,H,W], [H,W] or square flat vectors");
        r.Register("cnn1d", new EncoderFactory(q => new Cnn1dTrunk(q.InputShape, q.Config.Hidden, q.Config.Channels, q.Config.Layers, q.Agents)),
            "1-D CNN over frames [T,F]");
        r.Register("gru", new EncoderFactory(q => new GruTrunk(q.InputShape, q.Modality, q.Config.Hidden, q.Config.Layers, q.Agents, q.Config.Pool == "mean"),
            q => $"gru-{q.ShapeText}-h{q.Config.Hidden}-l{q.Config.Layers}{PoolTag(q.Config)}"), "GRU over frames [T,F], final state (pool: last) or mean state (pool: mean)");
        r.Register("lstm", new EncoderFactory(q => new LstmTrunk(q.InputShape, q.Modality, q.Config.Hidden, q.Config.Layers, q.Agents, q.Config.Pool == "mean"),
            q => $"lstm-{q.ShapeText}-h{q.Config.Hidden}-l{q.Config.Layers}{PoolTag(q.Config)}"), "LSTM over frames [T,F], final hidden state (pool: last) or mean state (pool: mean)");
        r.Register("transformer", new EncoderFactory(q => new TransformerTrunk(q.InputShape, q.Modality, q.Config.Hidden, q.Config.Layers, q.Config.Heads, q.Agents),
            q => $"transformer-{q.ShapeText}-h{q.Config.Hidden}-l{q.Config.Layers}-a{q.Config.Heads}"), "small pre-norm transformer encoder over frames [T,F], mean over time");
        return r;
    }

    private static string PoolTag(EncoderConfig c) => c.Pool == "last" ? "" : "-p" + c.Pool;

    /// <summary>Accepted encoder kinds (built-in and registered).</summary>
    public static IReadOnlyList<string> Kinds => Registry.Names;

    /// <summary>Architecture signature of the trunk (part of every sharing key of the encoder).</summary>
    public static string Signature(EncoderConfig cfg, long[] inputShape, string modality = "default")
    {
        var request = new EncoderRequest(cfg, inputShape, modality);
        return Resolve(request).Signature(request);
    }

    /// <summary>Creates the trunk of one modality for <paramref name="agents"/> agents ([A, N, ...shape] -> [A, N, hidden]).</summary>
    public static Module<Tensor, Tensor> Create(EncoderConfig cfg, long[] inputShape, string modality, int agents = 1)
    {
        var request = new EncoderRequest(cfg, inputShape, modality, agents);
        return Resolve(request).Create(request);
    }

    private static EncoderFactory Resolve(EncoderRequest q) => Registry.Resolve($"model.encoders.{q.Modality}.kind", q.Config.Kind);
}

/// <summary>Flatten, then <c>layers</c> x (Linear, ReLU), per agent: [A, N, ...shape] -> [A, N, hidden].</summary>
public sealed class MlpTrunk : Module<Tensor, Tensor>
{
    private readonly Module<Tensor, Tensor> net;

    /// <summary>Creates the trunk for <paramref name="agents"/> agents.</summary>
    /// <param name="inputShape">Per-sample input shape (flattened).</param>
    /// <param name="hidden">Output width.</param>
    /// <param name="layers">Layers of width <paramref name="hidden"/> (without <paramref name="widths"/>).</param>
    /// <param name="agents">Agents A.</param>
    /// <param name="widths">Widths of the layers before the last one (of width <paramref name="hidden"/>); replaces <paramref name="layers"/>.</param>
    public MlpTrunk(long[] inputShape, int hidden, int layers, int agents = 1, IReadOnlyList<int>? widths = null) : base(nameof(MlpTrunk))
    {
        long inDim = inputShape.Aggregate(1L, (a, b) => a * b);
        var mods = new List<(string, Module<Tensor, Tensor>)>();
        List<int> sizes = widths is { Count: > 0 } ? [.. widths, hidden] : Enumerable.Repeat(hidden, Math.Max(1, layers)).ToList();
        for (int i = 0; i < sizes.Count; i++)
        {
            mods.Add(($"fc{i}", new StackedLinear(agents, i == 0 ? inDim : sizes[i - 1], sizes[i])));
            mods.Add(($"relu{i}", ReLU()));
        }
        net = Sequential(mods);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x) => net.forward(x.reshape(x.shape[0], x.shape[1], -1));
}

/// <summary>
/// Small 2-D CNN for images [C,H,W] (a flat input of H*W is read as one channel, square), per agent:
/// <c>layers</c> x (3x3 convolution, ReLU, 2x2 max-pool), adaptive average pool to 2x2, Linear, ReLU.
/// </summary>
public sealed class Cnn2dTrunk : Module<Tensor, Tensor>
{
    private readonly TorchSharp.Modules.ModuleList<Module<Tensor, Tensor>> convs = new();
    private readonly Module<Tensor, Tensor> fc;
    private readonly long[] _shape;

    /// <summary>Creates the trunk for <paramref name="agents"/> agents.</summary>
    public Cnn2dTrunk(long[] inputShape, int hidden, int channels, int layers, int agents = 1) : base(nameof(Cnn2dTrunk))
    {
        _shape = ImageShape(inputShape);
        long c = _shape[0];
        for (int i = 0; i < Math.Max(1, layers); i++)
        {
            convs.Add(new GemmConv2d(c, channels, 3, padding: 1, agents));   // not Conv2d: see GemmConv2d
            c = channels;
        }
        fc = new StackedLinear(agents, c * 4, hidden);
        RegisterComponents();
    }

    private static long[] ImageShape(long[] s)
    {
        if (s.Length == 3) return s;
        if (s.Length == 2) return [1, s[0], s[1]];
        long side = (long)Math.Round(Math.Sqrt(s[0]));
        if (s.Length == 1 && side * side == s[0]) return [1, side, side];
        throw new ConfigException($"cnn2d encoder needs an image input [C,H,W], [H,W] or a square flat vector; got [{string.Join(",", s)}]");
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        long a = x.shape[0], n = x.shape[1];
        var h = x.reshape([a, n, .. _shape]);
        foreach (var conv in convs)
        {
            var y = functional.relu(conv.forward(h));                              // [A, N, C, H, W]
            var pooled = functional.max_pool2d(y.reshape(a * n, y.shape[2], y.shape[3], y.shape[4]), 2);
            h = pooled.reshape(a, n, pooled.shape[1], pooled.shape[2], pooled.shape[3]);
        }
        var gap = functional.adaptive_avg_pool2d(h.reshape(a * n, h.shape[2], h.shape[3], h.shape[4]), [2, 2]);
        return functional.relu(fc.forward(gap.reshape(a, n, -1)));
    }
}

/// <summary>
/// 1-D CNN over frames [T,F] (time x features), e.g. log-mel frames or any multichannel series, per agent:
/// <c>layers</c> x (convolution of width 3 over time with the features as channels, ReLU), mean over time, Linear, ReLU.
/// </summary>
public sealed class Cnn1dTrunk : Module<Tensor, Tensor>
{
    private readonly TorchSharp.Modules.ModuleList<Module<Tensor, Tensor>> convs = new();
    private readonly Module<Tensor, Tensor> fc;
    private readonly long[] _shape;

    /// <summary>Creates the trunk for <paramref name="agents"/> agents.</summary>
    public Cnn1dTrunk(long[] inputShape, int hidden, int channels, int layers, int agents = 1) : base(nameof(Cnn1dTrunk))
    {
        _shape = inputShape.Length == 2 ? inputShape : [inputShape.Aggregate(1L, (a, b) => a * b), 1];
        long c = _shape[1];
        for (int i = 0; i < Math.Max(1, layers); i++)
        {
            convs.Add(new GemmConv1d(c, channels, 3, padding: 1, agents));
            c = channels;
        }
        fc = new StackedLinear(agents, c, hidden);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        var h = x.reshape(x.shape[0], x.shape[1], _shape[0], _shape[1]);   // [A, N, T, F]: features are the channels
        foreach (var conv in convs) h = functional.relu(conv.forward(h));
        return functional.relu(fc.forward(h.mean([2])));
    }
}
