using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Parse.Model;

/// <summary>The three slices of one modality's latent (feature fission), each [A, N, d]. <see cref="Synergy"/> is null for unimodal agents.</summary>
public readonly record struct Slices(Tensor Unique, Tensor Redundant, Tensor? Synergy);

/// <summary>
/// Encoder h_m for one modality, for A agents: a trunk plus one linear projection per slice. The synergistic
/// projection exists only on agents with two or more modalities.
/// </summary>
public sealed class SliceEncoder : Module
{
    /// <summary>Input [A, N, ...] to [A, N, hidden].</summary>
    public readonly Module<Tensor, Tensor> trunk;
    /// <summary>Unique projection.</summary>
    public readonly StackedLinear proj_u;
    /// <summary>Redundant projection.</summary>
    public readonly StackedLinear proj_r;
    /// <summary>Synergistic projection (multimodal agents only).</summary>
    public readonly StackedLinear? proj_s;

    /// <summary>Assembles the encoder from its (already initialized) parts.</summary>
    public SliceEncoder(Module<Tensor, Tensor> trunk, StackedLinear projU, StackedLinear projR, StackedLinear? projS) : base(nameof(SliceEncoder))
    {
        this.trunk = trunk;
        proj_u = projU;
        proj_r = projR;
        proj_s = projS;
        RegisterComponents();
    }

    /// <summary>Encodes a batch [A, N, ...] into its slices.</summary>
    public Slices Encode(Tensor x)
    {
        var h = trunk.forward(x);
        return new Slices(proj_u.forward(h), proj_r.forward(h), proj_s?.forward(h));
    }
}
