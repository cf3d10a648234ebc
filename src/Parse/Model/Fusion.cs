using TorchSharp;
using static TorchSharp.torch;
using Parse.Util;
using static TorchSharp.torch.nn;

namespace Parse.Model;

/// <summary>
/// Combines the synergistic slices of K modalities into one representation, for A agents at once (batched-first):
/// each slice is [A, N, d] (in sorted modality order), the result [A, N, <see cref="OutDim"/>]. Parameters have a
/// leading agent dimension A and are read through <see cref="Stacked.Use"/>; agent k's output depends on its own
/// slices and parameters only.
/// </summary>
public abstract class Fusion : Module
{
    /// <summary>Creates the module (TorchSharp name <paramref name="name"/>).</summary>
    protected Fusion(string name) : base(name) { }

    /// <summary>Width of the fused representation.</summary>
    public abstract long OutDim { get; }

    /// <summary>Fuses the slices ([A, N, d] each) into [A, N, <see cref="OutDim"/>].</summary>
    public abstract Tensor Fuse(IReadOnlyList<Tensor> slices);

    /// <summary>The registry behind <see cref="Components.Fusions"/>, holding the built-ins from the start.</summary>
    internal static ComponentRegistry<Func<FusionRequest, Fusion>> Registry { get; } = BuiltIns();

    private static ComponentRegistry<Func<FusionRequest, Fusion>> BuiltIns()
    {
        var r = new ComponentRegistry<Func<FusionRequest, Fusion>>("fusion operator");
        r.Register("mean", q => new ReduceFusion(q.Width, mean: true), "mean of the slices (no parameters)");
        r.Register("sum", q => new ReduceFusion(q.Width, mean: false), "sum of the slices (no parameters)");
        r.Register("concat", q => new ConcatFusion(q.Modalities, q.Width, q.Agents), "concatenation, then a linear map back to width d");
        r.Register("gated", q => new GatedFusion(q.Modalities, q.Width, q.Agents), "softmax gates from all slices weight each slice");
        r.Register("product", q => new ProductFusion(q.Width), "element-wise product of the slices (no parameters)");
        r.Register("attention", q => new AttentionFusion(q.Width, q.Agents), "single-head attention pooling with a learned query");
        r.Register("bilinear", q => new BilinearFusion(q.Modalities, q.Width), "outer product of every pair of slices, flattened (no parameters)");
        return r;
    }

    /// <summary>Accepted <c>model.fusion</c> values (built-in and registered).</summary>
    public static IReadOnlyList<string> Kinds => Registry.Names;

    /// <summary>Creates the fusion operator for K slices of width d, for <paramref name="agents"/> agents.</summary>
    public static Fusion Create(string kind, int k, int d, int agents = 1) => Registry.Resolve("model.fusion", kind)(new FusionRequest(k, d, agents));
}

/// <summary>Mean or sum of the slices (no parameters).</summary>
public sealed class ReduceFusion(int d, bool mean) : Fusion(mean ? "MeanFusion" : "SumFusion")
{
    /// <inheritdoc />
    public override long OutDim => d;
    /// <inheritdoc />
    public override Tensor Fuse(IReadOnlyList<Tensor> s) => mean ? torch.stack(s, 0).mean([0]) : torch.stack(s, 0).sum([0]);
}

/// <summary>Element-wise product of the slices (no parameters).</summary>
public sealed class ProductFusion(int d) : Fusion("ProductFusion")
{
    /// <inheritdoc />
    public override long OutDim => d;
    /// <inheritdoc />
    public override Tensor Fuse(IReadOnlyList<Tensor> s) => torch.stack(s, 0).prod(0L);
}

/// <summary>Concatenation followed by a linear map back to width d.</summary>
public sealed class ConcatFusion : Fusion
{
    /// <summary>The linear map [K*d -> d].</summary>
    public readonly Module<Tensor, Tensor> proj;
    private readonly int _d;

    /// <summary>Creates the operator for <paramref name="k"/> slices of width <paramref name="d"/> and <paramref name="agents"/> agents.</summary>
    public ConcatFusion(int k, int d, int agents = 1) : base(nameof(ConcatFusion))
    {
        _d = d;
        proj = new StackedLinear(agents, k * d, d);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override long OutDim => _d;
    /// <inheritdoc />
    public override Tensor Fuse(IReadOnlyList<Tensor> s) => proj.forward(torch.cat(s.ToArray(), -1));
}

/// <summary>Softmax gates computed from all slices weight each slice: sum_k g_k * s_k.</summary>
public sealed class GatedFusion : Fusion
{
    /// <summary>The gate [K*d -> K].</summary>
    public readonly Module<Tensor, Tensor> gate;
    private readonly int _d;

    /// <summary>Creates the operator for <paramref name="k"/> slices of width <paramref name="d"/> and <paramref name="agents"/> agents.</summary>
    public GatedFusion(int k, int d, int agents = 1) : base(nameof(GatedFusion))
    {
        _d = d;
        gate = new StackedLinear(agents, k * d, k);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override long OutDim => _d;

    /// <inheritdoc />
    public override Tensor Fuse(IReadOnlyList<Tensor> s)
    {
        var g = gate.forward(torch.cat(s.ToArray(), -1)).softmax(-1);   // [A,N,K]
        var stacked = torch.stack(s, 2);                                // [A,N,K,d]
        return (stacked * g.unsqueeze(-1)).sum([2]);
    }
}

/// <summary>Single-head attention pooling over the K slices with a learned query.</summary>
public sealed class AttentionFusion : Fusion
{
    /// <summary>Key map [d -> d].</summary>
    public readonly Module<Tensor, Tensor> key;
    /// <summary>Value map [d -> d].</summary>
    public readonly Module<Tensor, Tensor> value;
    /// <summary>The learned query, [A, d].</summary>
    public readonly TorchSharp.Modules.Parameter query;
    private readonly int _d;

    /// <summary>Creates the operator for slices of width <paramref name="d"/> and <paramref name="agents"/> agents.</summary>
    public AttentionFusion(int d, int agents = 1) : base(nameof(AttentionFusion))
    {
        _d = d;
        key = new StackedLinear(agents, d, d);
        value = new StackedLinear(agents, d, d);
        using (var q = torch.randn(d))
        using (var scaled = q.Over(Math.Sqrt(d)))
            query = Stacked.Replicate(scaled, agents);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override long OutDim => _d;

    /// <inheritdoc />
    public override Tensor Fuse(IReadOnlyList<Tensor> s)
    {
        var x = torch.stack(s, 2);                                        // [A,N,K,d]
        long a = x.shape[0], n = x.shape[1], k = x.shape[2];
        var keys = key.forward(x).reshape(a, n * k, _d);
        var scores = torch.bmm(keys, Stacked.Use(query).unsqueeze(2)).reshape(a, n, k).Over(Math.Sqrt(_d));   // [A,N,K]
        var w = scores.softmax(-1).unsqueeze(-1);
        return (value.forward(x) * w).sum([2]);
    }
}
