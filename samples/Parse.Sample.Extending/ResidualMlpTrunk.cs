using Parse.Model;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Parse.Sample.Extending;

/// <summary>
/// Encoder kind "residual-mlp": flatten, one linear map to the hidden width, then <c>layers</c> residual blocks
/// x + ReLU(Linear(LayerNorm(x))). Batched-first, as every trunk: built for A agents, it maps [A, N, ...shape] to
/// [A, N, hidden], and every parameter has a leading agent dimension A.
/// </summary>
public sealed class ResidualMlpTrunk : Module<Tensor, Tensor>
{
    /// <summary>Name under which the sample registers the encoder.</summary>
    public const string Kind = "residual-mlp";

    private readonly StackedLinear input;
    private readonly ModuleList<StackedLayerNorm> norms = new();
    private readonly ModuleList<StackedLinear> blocks = new();

    /// <summary>Builds the trunk for inputs of <paramref name="inputShape"/> and <paramref name="agents"/> agents.</summary>
    public ResidualMlpTrunk(long[] inputShape, int hidden, int layers, int agents) : base(nameof(ResidualMlpTrunk))
    {
        // the building blocks draw one agent's initial values (as torch.nn.Linear would) and repeat them
        input = new StackedLinear(agents, inputShape.Aggregate(1L, (a, b) => a * b), hidden);
        for (int i = 0; i < Math.Max(1, layers); i++)
        {
            norms.Add(new StackedLayerNorm(hidden, agents));
            blocks.Add(new StackedLinear(agents, hidden, hidden));
        }
        RegisterComponents();
    }

    /// <summary>The registration: the trunk and its architecture signature (part of the encoder's sharing keys).</summary>
    public static EncoderFactory Factory { get; } = new(
        request => new ResidualMlpTrunk(request.InputShape, request.Config.Hidden, request.Config.Layers, request.Agents),
        request => $"{Kind}-{request.ShapeText}-h{request.Config.Hidden}-l{request.Config.Layers}");

    /// <summary>[A, N, ...shape] -> [A, N, hidden].</summary>
    public override Tensor forward(Tensor x)
    {
        var h = functional.relu(input.forward(x.reshape(x.shape[0], x.shape[1], -1)));
        for (int i = 0; i < blocks.Count; i++)
            h = h + functional.relu(blocks[i].forward(norms[i].forward(h)));
        return h;
    }
}

/// <summary>
/// Layer normalization over the last dimension with a per-agent scale and shift ([A, width] each, starting at 1 and 0
/// as <c>torch.nn.LayerNorm</c>): how to write a stacked parameter of your own.
/// </summary>
public sealed class StackedLayerNorm : Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly Parameter bias;
    private readonly long _width;

    /// <summary>Creates the layer for <paramref name="agents"/> agents.</summary>
    public StackedLayerNorm(long width, int agents) : base(nameof(StackedLayerNorm))
    {
        _width = width;
        using (var ones = torch.ones(width)) weight = Stacked.Replicate(ones, agents);
        using (var zeros = torch.zeros(width)) bias = Stacked.Replicate(zeros, agents);
        RegisterComponents();
    }

    /// <summary>[A, N, width] -> [A, N, width]; parameters are read through <see cref="Stacked.Use"/> so that subsets of agents work.</summary>
    public override Tensor forward(Tensor x) =>
        functional.layer_norm(x, [_width]) * Stacked.Use(weight).unsqueeze(1) + Stacked.Use(bias).unsqueeze(1);
}
