using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Parse.Util;
using static TorchSharp.torch.nn;

namespace Parse.Model;

/// <summary>
/// A stride-1, "same"-padded 2-D convolution per agent, computed as im2col (<c>unfold</c>) followed by one batched
/// matrix product over the agents, with the parameter names and initialization of <c>torch.nn.Conv2d</c> (weight
/// [A, out, in, k, k], bias [A, out]; every agent's slice drawn as <c>Conv2d(in, out, k, padding)</c> would draw it).
/// <para>Why not <c>Conv2d</c>: on this project's reference machine (AMD EPYC, AVX-512; LibTorch 2.10 CPU via
/// TorchSharp 0.107) the native convolution's backward pass returns non-finite gradients for about one batch in ten
/// in a two-layer CNN on finite inputs (reproduced outside the project; forward outputs are finite; 1-D convolutions
/// are not affected). The unfold + GEMM formulation uses other kernels and gave no bad gradient in 3,000 batches.
/// It also gives every agent its own filters in one product, which a native convolution could only do as a grouped
/// convolution. A regression test checks the gradients.</para>
/// </summary>
public sealed class GemmConv2d : Module<Tensor, Tensor>
{
    /// <summary>[A, out, in, k, k].</summary>
    public readonly Parameter weight;
    /// <summary>[A, out].</summary>
    public readonly Parameter bias;
    private readonly long _out, _kernel, _padding;

    /// <summary>Creates the layer for <paramref name="agents"/> agents; each slice is drawn as <c>Conv2d(inChannels, outChannels, kernel, padding)</c>.</summary>
    public GemmConv2d(long inChannels, long outChannels, long kernel, long padding, int agents = 1) : base(nameof(GemmConv2d))
    {
        if (2 * padding != kernel - 1) throw new ArgumentException($"GemmConv2d keeps the spatial size: padding must be (kernel - 1) / 2 (kernel {kernel}, padding {padding})");
        (_out, _kernel, _padding) = (outChannels, kernel, padding);
        using (var reference = Conv2d(inChannels, outChannels, kernel, padding: padding))
        {
            weight = Stacked.Replicate(reference.weight!, agents);
            bias = Stacked.Replicate(reference.bias!, agents);
        }
        RegisterComponents();
    }

    /// <summary>[A, N, C, H, W] -> [A, N, out, H, W].</summary>
    public override Tensor forward(Tensor x)
    {
        long a = x.shape[0], n = x.shape[1], c = x.shape[2], h = x.shape[3], w = x.shape[4];
        long ckk = c * _kernel * _kernel;
        var cols = functional.unfold(x.reshape(a * n, c, h, w), _kernel, padding: _padding);    // [A*N, C*k*k, H*W]
        cols = cols.reshape(a, n, ckk, h * w).permute(0, 2, 1, 3).reshape(a, ckk, n * h * w);   // [A, C*k*k, N*H*W]
        var y = torch.bmm(Stacked.Use(weight).reshape(a, _out, ckk), cols).Plus(Stacked.Use(bias).unsqueeze(2));   // [A, out, N*H*W]
        return y.reshape(a, _out, n, h, w).transpose(1, 2);
    }
}

/// <summary>
/// A stride-1, "same"-padded 1-D convolution per agent over [A, N, T, C] (time, then channels), computed as sliding
/// windows (<c>unfold</c>) and one batched matrix product; parameters named and drawn as <c>torch.nn.Conv1d</c>
/// (weight [A, out, in, k], bias [A, out]).
/// </summary>
public sealed class GemmConv1d : Module<Tensor, Tensor>
{
    /// <summary>[A, out, in, k].</summary>
    public readonly Parameter weight;
    /// <summary>[A, out].</summary>
    public readonly Parameter bias;
    private readonly long _out, _kernel, _padding;

    /// <summary>Creates the layer for <paramref name="agents"/> agents; each slice is drawn as <c>Conv1d(inChannels, outChannels, kernel, padding)</c>.</summary>
    public GemmConv1d(long inChannels, long outChannels, long kernel, long padding, int agents = 1) : base(nameof(GemmConv1d))
    {
        if (2 * padding != kernel - 1) throw new ArgumentException($"GemmConv1d keeps the length: padding must be (kernel - 1) / 2 (kernel {kernel}, padding {padding})");
        (_out, _kernel, _padding) = (outChannels, kernel, padding);
        using (var reference = Conv1d(inChannels, outChannels, kernel, padding: padding))
        {
            weight = Stacked.Replicate(reference.weight!, agents);
            bias = Stacked.Replicate(reference.bias!, agents);
        }
        RegisterComponents();
    }

    /// <summary>[A, N, T, C] -> [A, N, T, out].</summary>
    public override Tensor forward(Tensor x)
    {
        long a = x.shape[0], n = x.shape[1], t = x.shape[2], c = x.shape[3];
        var padded = functional.pad(x, [0, 0, _padding, _padding]);                  // [A, N, T+2p, C]
        var cols = padded.unfold(2, _kernel, 1).reshape(a, n * t, c * _kernel);     // [A, N*T, C*k] (channel-major, as Conv1d's weight)
        var y = torch.bmm(cols, Stacked.Use(weight).reshape(a, _out, c * _kernel).transpose(1, 2)).Plus(Stacked.Use(bias).unsqueeze(1));
        return y.reshape(a, n, t, _out);
    }
}
