using Parse.Model;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Parse.Sample.Extending;

/// <summary>
/// Encoder kind "residual-mlp": flatten, one linear map to the hidden width, then <c>layers</c> residual blocks
/// x + ReLU(Linear(LayerNorm(x))). Output [B, hidden], as every trunk must.
/// </summary>
public sealed class ResidualMlpTrunk : Module<Tensor, Tensor>
{
    /// <summary>Name under which the sample registers the encoder.</summary>
    public const string Kind = "residual-mlp";

    private readonly Module<Tensor, Tensor> input;
    private readonly TorchSharp.Modules.ModuleList<Module<Tensor, Tensor>> norms = new();
    private readonly TorchSharp.Modules.ModuleList<Module<Tensor, Tensor>> blocks = new();

    /// <summary>Builds the trunk for inputs of <paramref name="inputShape"/>.</summary>
    public ResidualMlpTrunk(long[] inputShape, int hidden, int layers) : base(nameof(ResidualMlpTrunk))
    {
        input = Linear(inputShape.Aggregate(1L, (a, b) => a * b), hidden);
        for (int i = 0; i < Math.Max(1, layers); i++)
        {
            norms.Add(LayerNorm(hidden));
            blocks.Add(Linear(hidden, hidden));
        }
        RegisterComponents();
    }

    /// <summary>The registration: the trunk and its architecture signature (part of the encoder's sharing keys).</summary>
    public static EncoderFactory Factory { get; } = new(
        request => new ResidualMlpTrunk(request.InputShape, request.Config.Hidden, request.Config.Layers),
        request => $"{Kind}-{request.ShapeText}-h{request.Config.Hidden}-l{request.Config.Layers}");

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        var h = functional.relu(input.forward(x.flatten(1)));
        for (int i = 0; i < blocks.Count; i++)
            h = h + functional.relu(blocks[i].forward(norms[i].forward(h)));
        return h;
    }
}
