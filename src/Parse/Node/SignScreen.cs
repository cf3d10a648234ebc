using Parse.Federation.Mixing;
using Parse.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Parse.Node;

/// <summary>
/// Sign-statistics screening of neighbours' values (<c>mixing.screen: sign</c>), run by the agent core before any
/// mixing rule, in both runtimes. For a neighbour's values x_j of a group and the agent's own values x_i (not yet
/// mixed), it counts the coordinates where x_j - x_i is positive among those where it is not zero: s_j. An honest
/// neighbour's difference is noise around a shared trend and about as often positive as negative (s_j near 1/2); an
/// attacker that pushes every coordinate the same way, such as ALIE (mean - scale x std of the values it saw), sits
/// below the agent's values almost everywhere (s_j near 0). A contribution with |s_j - 1/2| above
/// <c>mixing.screen_sign_tolerance</c> is left out of that group's round. One subtraction and two counts per
/// contribution; no state across rounds. The idea is that of sign-statistics defences (SignGuard, Xu et al. 2021).
/// </summary>
internal sealed class SignScreen(double tolerance) : INeighbourScreen
{
    /// <summary>The largest accepted |s_j - 1/2| (<c>mixing.screen_sign_tolerance</c>).</summary>
    public double Tolerance { get; } = tolerance;

    /// <inheritdoc />
    public void BeginRound() { }

    /// <inheritdoc />
    public bool Keeps(ParameterGroup group, int ownDegree, Contribution contribution, out string why)
    {
        double s = PositiveFraction(group.Parameters, contribution.Values);
        bool keep = Keeps(s);
        why = keep ? "" : $"positive fraction {s:F3}, allowed 0.5 ± {Tolerance:G3}";
        return keep;
    }

    /// <summary>True when a positive fraction <paramref name="s"/> lies within the tolerance of 1/2 (NaN: no non-zero coordinate, kept).</summary>
    public bool Keeps(double s) => double.IsNaN(s) || Math.Abs(s - 0.5) <= Tolerance;

    /// <summary>
    /// The fraction of coordinates where <paramref name="values"/> exceed <paramref name="own"/>, among those where
    /// they differ; NaN when they are equal everywhere.
    /// </summary>
    public static double PositiveFraction(IReadOnlyList<Tensor> own, IReadOnlyList<Tensor> values)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        long positive = 0, nonZero = 0;
        for (int k = 0; k < own.Count; k++)
        {
            var d = values[k].to_type(own[k].dtype).sub(own[k]);
            using (var n = d.count_nonzero()) nonZero += n.item<long>();
            using (var p = d.relu().count_nonzero()) positive += p.item<long>();
        }
        return nonZero == 0 ? double.NaN : (double)positive / nonZero;
    }

    /// <inheritdoc />
    public void Dispose() { }
}
