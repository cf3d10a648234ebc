using TorchSharp;
using static TorchSharp.torch;
using Parse.Util;
using static TorchSharp.torch.nn;

namespace Parse.Model;

/// <summary>Combines the synergistic slices of K modalities (each [B,d], in sorted modality order) into one [B,OutDim] tensor.</summary>
public abstract class Fusion : Module
{
    protected Fusion(string name) : base(name) { }

    /// <summary>Width of the fused representation.</summary>
    public abstract long OutDim { get; }

    /// <summary>Fuses the slices.</summary>
    public abstract Tensor Fuse(IReadOnlyList<Tensor> slices);

    /// <summary>The registry behind <see cref="Components.Fusions"/>, holding the built-ins from the start.</summary>
    internal static ComponentRegistry<Func<FusionRequest, Fusion>> Registry { get; } = BuiltIns();

    /// <summary>Names of the built-in operators (the batched trainer implements exactly these).</summary>
    internal static IReadOnlyList<string> BuiltInKinds { get; } = Registry.Names;

    private static ComponentRegistry<Func<FusionRequest, Fusion>> BuiltIns()
    {
        var r = new ComponentRegistry<Func<FusionRequest, Fusion>>("fusion operator");
        r.Register("mean", q => new ReduceFusion(q.Width, mean: true), "mean of the slices (no parameters)");
        r.Register("sum", q => new ReduceFusion(q.Width, mean: false), "sum of the slices (no parameters)");
        r.Register("concat", q => new ConcatFusion(q.Modalities, q.Width), "concatenation, then a linear map back to width d");
        r.Register("gated", q => new GatedFusion(q.Modalities, q.Width), "softmax gates from all slices weight each slice");
        r.Register("product", q => new ProductFusion(q.Width), "element-wise product of the slices (no parameters)");
        r.Register("attention", q => new AttentionFusion(q.Width), "single-head attention pooling with a learned query");
        return r;
    }

    /// <summary>Accepted <c>model.fusion</c> values (built-in and registered).</summary>
    public static IReadOnlyList<string> Kinds => Registry.Names;

    /// <summary>Creates the fusion operator for K slices of width d.</summary>
    public static Fusion Create(string kind, int k, int d) => Registry.Resolve("model.fusion", kind)(new FusionRequest(k, d));
}

/// <summary>Mean or sum of the slices (no parameters).</summary>
public sealed class ReduceFusion(int d, bool mean) : Fusion(mean ? "MeanFusion" : "SumFusion")
{
    public override long OutDim => d;
    public override Tensor Fuse(IReadOnlyList<Tensor> s) => mean ? torch.stack(s, 0).mean([0]) : torch.stack(s, 0).sum(0L);
}

/// <summary>Element-wise product of the slices (no parameters).</summary>
public sealed class ProductFusion(int d) : Fusion("ProductFusion")
{
    public override long OutDim => d;
    public override Tensor Fuse(IReadOnlyList<Tensor> s) => torch.stack(s, 0).prod(0L);
}

/// <summary>Concatenation followed by a linear map back to width d.</summary>
public sealed class ConcatFusion : Fusion
{
    public readonly Module<Tensor, Tensor> proj;
    private readonly int _d;

    public ConcatFusion(int k, int d) : base(nameof(ConcatFusion))
    {
        _d = d;
        proj = Linear(k * d, d);
        RegisterComponents();
    }

    public override long OutDim => _d;
    public override Tensor Fuse(IReadOnlyList<Tensor> s) => proj.forward(torch.cat(s.ToArray(), 1));
}

/// <summary>Softmax gates computed from all slices weight each slice: sum_k g_k * s_k.</summary>
public sealed class GatedFusion : Fusion
{
    public readonly Module<Tensor, Tensor> gate;
    private readonly int _d;

    public GatedFusion(int k, int d) : base(nameof(GatedFusion))
    {
        _d = d;
        gate = Linear(k * d, k);
        RegisterComponents();
    }

    public override long OutDim => _d;

    public override Tensor Fuse(IReadOnlyList<Tensor> s)
    {
        var g = gate.forward(torch.cat(s.ToArray(), 1)).softmax(1);   // [B,K]
        var stacked = torch.stack(s, 1);                               // [B,K,d]
        return (stacked * g.unsqueeze(2)).sum(1);
    }
}

/// <summary>Single-head attention pooling over the K slices with a learned query.</summary>
public sealed class AttentionFusion : Fusion
{
    public readonly Module<Tensor, Tensor> key;
    public readonly Module<Tensor, Tensor> value;
    public readonly TorchSharp.Modules.Parameter query;
    private readonly int _d;

    public AttentionFusion(int d) : base(nameof(AttentionFusion))
    {
        _d = d;
        key = Linear(d, d);
        value = Linear(d, d);
        query = Parameter(torch.randn(d) / Math.Sqrt(d));
        RegisterComponents();
    }

    public override long OutDim => _d;

    public override Tensor Fuse(IReadOnlyList<Tensor> s)
    {
        var x = torch.stack(s, 1);                                      // [B,K,d]
        var scores = key.forward(x).matmul(query).Over(Math.Sqrt(_d));      // [B,K]
        var w = scores.softmax(1).unsqueeze(2);
        return (value.forward(x) * w).sum(1);
    }
}
