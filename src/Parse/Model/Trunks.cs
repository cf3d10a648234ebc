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
        r.Register("mlp", new EncoderFactory(q => new MlpTrunk(q.InputShape, q.Config.Hidden, q.Config.Layers),
            q => $"mlp-{q.ShapeText}-h{q.Config.Hidden}-l{q.Config.Layers}"), "flatten, then layers x (Linear, ReLU)");
        r.Register("cnn2d", new EncoderFactory(q => new Cnn2dTrunk(q.InputShape, q.Config.Hidden, q.Config.Channels, q.Config.Layers)),
            "2-D CNN for images [C,H,W], [H,W] or square flat vectors");
        r.Register("cnn1d", new EncoderFactory(q => new Cnn1dTrunk(q.InputShape, q.Config.Hidden, q.Config.Channels, q.Config.Layers)),
            "1-D CNN over frames [T,F]");
        return r;
    }

    /// <summary>Accepted encoder kinds (built-in and registered).</summary>
    public static IReadOnlyList<string> Kinds => Registry.Names;

    /// <summary>Architecture signature of the trunk (part of every sharing key of the encoder).</summary>
    public static string Signature(EncoderConfig cfg, long[] inputShape, string modality = "default")
    {
        var request = new EncoderRequest(cfg, inputShape, modality);
        return Resolve(request).Signature(request);
    }

    /// <summary>Creates the trunk for one modality.</summary>
    public static Module<Tensor, Tensor> Create(EncoderConfig cfg, long[] inputShape, string modality)
    {
        var request = new EncoderRequest(cfg, inputShape, modality);
        return Resolve(request).Create(request);
    }

    private static EncoderFactory Resolve(EncoderRequest q) => Registry.Resolve($"model.encoders.{q.Modality}.kind", q.Config.Kind);
}

/// <summary>Flatten, then <c>layers</c> x (Linear, ReLU).</summary>
public sealed class MlpTrunk : Module<Tensor, Tensor>
{
    private readonly Module<Tensor, Tensor> net;

    public MlpTrunk(long[] inputShape, int hidden, int layers) : base(nameof(MlpTrunk))
    {
        long inDim = inputShape.Aggregate(1L, (a, b) => a * b);
        var mods = new List<(string, Module<Tensor, Tensor>)> { ("flatten", Flatten()) };
        for (int i = 0; i < Math.Max(1, layers); i++)
        {
            mods.Add(($"fc{i}", Linear(i == 0 ? inDim : hidden, hidden)));
            mods.Add(($"relu{i}", ReLU()));
        }
        net = Sequential(mods);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => net.forward(x);
}

/// <summary>Small 2-D CNN for images [C,H,W] (a flat input of H*W is read as one channel, square).</summary>
public sealed class Cnn2dTrunk : Module<Tensor, Tensor>
{
    private readonly Module<Tensor, Tensor> net;
    private readonly long[] _shape;

    public Cnn2dTrunk(long[] inputShape, int hidden, int channels, int layers) : base(nameof(Cnn2dTrunk))
    {
        _shape = ImageShape(inputShape);
        var mods = new List<(string, Module<Tensor, Tensor>)>();
        long c = _shape[0];
        for (int i = 0; i < Math.Max(1, layers); i++)
        {
            mods.Add(($"conv{i}", new GemmConv2d(c, channels, 3, padding: 1)));   // not Conv2d: see GemmConv2d
            mods.Add(($"relu{i}", ReLU()));
            mods.Add(($"pool{i}", MaxPool2d(2)));
            c = channels;
        }
        mods.Add(("gap", AdaptiveAvgPool2d([2, 2])));
        mods.Add(("flatten", Flatten()));
        mods.Add(("fc", Linear(c * 4, hidden)));
        mods.Add(("relu_fc", ReLU()));
        net = Sequential(mods);
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

    public override Tensor forward(Tensor x) => net.forward(x.reshape([x.shape[0], .. _shape]));
}

/// <summary>1-D CNN over frames [T,F] (time x features), e.g. log-mel frames or any multichannel series.</summary>
public sealed class Cnn1dTrunk : Module<Tensor, Tensor>
{
    private readonly Module<Tensor, Tensor> net;
    private readonly long[] _shape;

    public Cnn1dTrunk(long[] inputShape, int hidden, int channels, int layers) : base(nameof(Cnn1dTrunk))
    {
        _shape = inputShape.Length == 2 ? inputShape : [inputShape.Aggregate(1L, (a, b) => a * b), 1];
        var mods = new List<(string, Module<Tensor, Tensor>)>();
        long c = _shape[1];
        for (int i = 0; i < Math.Max(1, layers); i++)
        {
            mods.Add(($"conv{i}", Conv1d(c, channels, 3, padding: 1)));
            mods.Add(($"relu{i}", ReLU()));
            c = channels;
        }
        mods.Add(("gap", AdaptiveAvgPool1d(1)));
        mods.Add(("flatten", Flatten()));
        mods.Add(("fc", Linear(c, hidden)));
        mods.Add(("relu_fc", ReLU()));
        net = Sequential(mods);
        RegisterComponents();
    }

    // [B,T,F] -> [B,F,T] so that features are channels and time is the convolved axis
    public override Tensor forward(Tensor x) => net.forward(x.reshape(x.shape[0], _shape[0], _shape[1]).transpose(1, 2));
}
