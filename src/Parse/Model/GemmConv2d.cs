using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Parse.Model;

/// <summary>
/// A stride-1, "same"-padded 2-D convolution computed as im2col (<c>unfold</c>) followed by one matrix product, with
/// the parameters, names and initialization of <c>torch.nn.Conv2d</c>.
/// <para>Why not <c>Conv2d</c>: on this project's reference machine (AMD EPYC, AVX-512; LibTorch 2.10 CPU via
/// TorchSharp 0.107) the native convolution's backward pass returns non-finite gradients for about one batch in ten
/// in a two-layer CNN on finite inputs (reproduced outside the project; forward outputs are finite; 1-D convolutions
/// are not affected). The unfold + GEMM formulation uses other kernels and gave no bad gradient in 3,000 batches.
/// Its cost is irrelevant at the sizes of agents' image encoders. A regression test checks the gradients.</para>
/// </summary>
public sealed class GemmConv2d : Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly Parameter bias;
    private readonly long _out, _kernel, _padding;

    /// <summary>Creates the layer; parameters are drawn exactly as <c>Conv2d(inChannels, outChannels, kernel, padding)</c> would draw them.</summary>
    public GemmConv2d(long inChannels, long outChannels, long kernel, long padding) : base(nameof(GemmConv2d))
    {
        if (2 * padding != kernel - 1) throw new ArgumentException($"GemmConv2d keeps the spatial size: padding must be (kernel - 1) / 2 (kernel {kernel}, padding {padding})");
        (_out, _kernel, _padding) = (outChannels, kernel, padding);
        using var reference = Conv2d(inChannels, outChannels, kernel, padding: padding);
        using (torch.no_grad())
        {
            weight = new Parameter(reference.weight!.detach().clone());
            bias = new Parameter(reference.bias!.detach().clone());
        }
        RegisterComponents();
    }

    /// <summary>[B, C, H, W] -> [B, out, H, W].</summary>
    public override Tensor forward(Tensor x)
    {
        long b = x.shape[0], h = x.shape[2], w = x.shape[3];
        var cols = functional.unfold(x, _kernel, padding: _padding);                    // [B, C*k*k, H*W]
        var y = weight.reshape(_out, -1).matmul(cols) + bias.reshape(1, _out, 1);     // [B, out, H*W]
        return y.reshape(b, _out, h, w);
    }
}
