using Parse.Util;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Parse.Federation.Mixing;

/// <summary>
/// CHOCO-SGD gossip (Koloskova, Stich and Jaggi 2019), <c>mixing.rule: choco</c> with the <c>choco</c> payload
/// processor. Every agent keeps public copies x̂_j of its neighbours' values and of its own (x̂_self), which the
/// pipeline updates with the compressed differences q = C(x - x̂_self) that are sent and received; the consensus step
/// uses the copies only: x_i &lt;- x_i + gamma * sum_j w_ij (x̂_j - x̂_self), with Metropolis-Hastings weights w_ij and
/// gamma = <c>payload.choco_gamma</c>. With exact communication and gamma = 1 it is Metropolis gossip.
/// </summary>
public sealed class ChocoMixer(double gamma) : IMixer
{
    private Func<IReadOnlyList<Tensor>, IReadOnlyList<Tensor>?>? _self;

    /// <inheritdoc />
    public string Name => "choco";

    /// <summary>The consensus step size.</summary>
    public double Gamma => gamma;

    /// <summary>Connects the mixer to its agent's public copies (done by the payload pipeline when the core binds it).</summary>
    public void Attach(Func<IReadOnlyList<Tensor>, IReadOnlyList<Tensor>?> selfCopy)
    {
        if (_self is not null) throw new InvalidOperationException("a choco mixer belongs to one agent: create one per agent");
        _self = selfCopy;
    }

    /// <inheritdoc />
    public void Mix(IReadOnlyList<Tensor> own, int ownDegree, IReadOnlyList<Contribution> received)
    {
        if (received.Count == 0) return;
        var self = _self?.Invoke(own)
            ?? throw new InvalidOperationException("mixing.rule choco: no public copy of this group (add the choco payload processor)");
        foreach (var c in received)
        {
            double w = gamma * MetropolisHastings.Weight(ownDegree, c.SenderDegree);
            for (int k = 0; k < own.Count; k++)
            {
                own[k].AddScaled_(c.Values[k], w);
                own[k].AddScaled_(self[k], -w);
            }
        }
    }
}
