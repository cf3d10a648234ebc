using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Parse.Model;

/// <summary>The three slices of one modality's latent (feature fission). <see cref="Synergy"/> is null for unimodal agents.</summary>
public readonly record struct Slices(Tensor Unique, Tensor Redundant, Tensor? Synergy);

/// <summary>
/// Encoder h_m for one modality: a trunk plus one linear projection per slice. The synergistic projection
/// exists only on agents with two or more modalities.
/// </summary>
public sealed class SliceEncoder : Module
{
    public readonly Module<Tensor, Tensor> trunk;
    public readonly Module<Tensor, Tensor> proj_u;
    public readonly Module<Tensor, Tensor> proj_r;
    public readonly Module<Tensor, Tensor>? proj_s;

    public SliceEncoder(Module<Tensor, Tensor> trunk, int hidden, IReadOnlyList<int> split, bool withSynergy) : base(nameof(SliceEncoder))
    {
        this.trunk = trunk;
        proj_u = Linear(hidden, split[0]);
        proj_r = Linear(hidden, split[1]);
        if (withSynergy) proj_s = Linear(hidden, split[2]);
        RegisterComponents();
    }

    /// <summary>Encodes a batch into its slices.</summary>
    public Slices Encode(Tensor x)
    {
        var h = trunk.forward(x);
        return new Slices(proj_u.forward(h), proj_r.forward(h), proj_s?.forward(h));
    }
}
