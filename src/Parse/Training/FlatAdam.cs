using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Parse.Training;

/// <summary>
/// Adam (Kingma and Ba, with optional L2 weight decay added to the gradient, as torch.optim.Adam) over
/// all of an agent's parameters at once: gradients are gathered into one flat vector, the moment
/// updates run as a handful of whole-vector operations, and the step is scattered back. For the small
/// models of DFL agents, per-operation overhead dominates, so this is several times cheaper than one
/// set of Adam operations per parameter tensor. Moments survive parameter mixing (the agent keeps its
/// own optimizer state, as the per-tensor optimizer would).
/// </summary>
public sealed class FlatAdam : IDisposable
{
    private readonly IReadOnlyList<Parameter> _params;
    private readonly long[] _sizes;
    private readonly Tensor _m;
    private readonly Tensor _v;
    private readonly double _beta1, _beta2, _eps, _weightDecay;
    // held for the optimizer's lifetime: implicit double -> Scalar conversions can be finalized mid-call (Util.ScalarOps)
    private readonly Scalar _sBeta1, _sBeta2, _sOneMinusBeta1, _sOneMinusBeta2, _sEps, _sWeightDecay;
    private long _t;

    public FlatAdam(IEnumerable<Parameter> parameters, double lr, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0)
    {
        _params = parameters.ToList();
        _sizes = _params.Select(p => p.numel()).ToArray();
        long total = _sizes.Sum();
        _m = torch.zeros(total);
        _v = torch.zeros(total);
        Lr = lr;
        (_beta1, _beta2, _eps, _weightDecay) = (beta1, beta2, eps, weightDecay);
        (_sBeta1, _sBeta2, _sOneMinusBeta1, _sOneMinusBeta2, _sEps, _sWeightDecay) =
            (beta1.ToScalar(), beta2.ToScalar(), (1 - beta1).ToScalar(), (1 - beta2).ToScalar(), eps.ToScalar(), weightDecay.ToScalar());
    }

    /// <summary>Learning rate of the next steps (a schedule may change it between rounds; the moments are kept).</summary>
    public double Lr { get; set; }

    /// <summary>Clears gradients (sets them to none, so the next backward allocates fresh ones).</summary>
    public void ZeroGrad()
    {
        foreach (var p in _params)
        {
            using var g = p.grad;
            if (g is not null) p.grad = null;
        }
    }

    /// <summary>One Adam step on every parameter that has a gradient (missing gradients count as zero).</summary>
    public void Step()
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        _t++;
        var grads = new Tensor[_params.Count];
        for (int i = 0; i < _params.Count; i++)
            grads[i] = _params[i].grad is { } g ? g.reshape(-1) : torch.zeros(_sizes[i]);
        var grad = torch.cat(grads, 0);
        if (_weightDecay != 0)
            grad = grad.add(torch.cat(_params.Select(p => p.detach().reshape(-1)).ToArray(), 0), alpha: _sWeightDecay);
        _m.mul_(_sBeta1).add_(grad, alpha: _sOneMinusBeta1);
        _v.mul_(_sBeta2).addcmul_(grad, grad, value: _sOneMinusBeta2);
        using var bc2 = (1 - Math.Pow(_beta2, _t)).ToScalar();
        using var stepSize = (Lr / (1 - Math.Pow(_beta1, _t))).ToScalar();
        // two-argument overloads only: the one-argument add_/sub_ create an implicit alpha scalar (Util.ScalarOps)
        var denom = _v.div(bc2).sqrt_().add_(_sEps, Util.ScalarOps.One);
        var update = _m.div(denom).mul_(stepSize);
        var parts = update.split(_sizes);
        for (int i = 0; i < _params.Count; i++) _params[i].sub_(parts[i].view(_params[i].shape));
    }

    /// <summary>Writes the step count and both moment vectors (for checkpoints: a resumed agent continues exactly).</summary>
    public void Save(BinaryWriter w)
    {
        w.Write(_t);
        w.Write(_m.numel());
        foreach (var t in new[] { _m, _v })
            foreach (float f in t.data<float>()) w.Write(f);
    }

    /// <summary>Reads what <see cref="Save"/> wrote; throws <see cref="InvalidDataException"/> if the sizes differ.</summary>
    public void Load(BinaryReader r)
    {
        long t = r.ReadInt64(), n = r.ReadInt64();
        if (t < 0 || n != _m.numel()) throw new InvalidDataException($"optimizer state holds {n} values, the model has {_m.numel()}");
        foreach (var target in new[] { _m, _v })
        {
            var values = new float[n];
            for (long i = 0; i < n; i++) values[i] = r.ReadSingle();
            using var src = torch.tensor(values);
            using var noGrad = torch.no_grad();
            target.copy_(src);
        }
        _t = t;
    }

    public void Dispose()
    {
        _m.Dispose();
        _v.Dispose();
        foreach (var s in new[] { _sBeta1, _sBeta2, _sOneMinusBeta1, _sOneMinusBeta2, _sEps, _sWeightDecay }) s.Dispose();
    }
}
