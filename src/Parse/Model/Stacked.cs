using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Parse.Util;

namespace Parse.Model;

/// <summary>
/// Helpers for batched-first modules: every parameter has a leading agent dimension A (one slice per agent) and every
/// activation a leading [A, N] (agents, samples). One agent is the case A = 1.
/// <para><b>Initialization.</b> All agents of one stacked model hold the same sharing keys, so they start from the
/// same values: a module draws the values of one agent, exactly as the single-agent layer would, and repeats them
/// (<see cref="Replicate"/>). A slice therefore never depends on A.</para>
/// <para><b>Agent selection.</b> Per-agent work (evaluation of one agent, fitting one agent's ensemble weights on
/// its own hold-out split, gradient probes) runs the same forward pass on a subset of the agents: inside
/// <see cref="Only"/>, inputs are [A', N, ...] for the A' selected agents and every module reads its parameters
/// through <see cref="Use"/>, which returns the selected rows. The selection is per thread.</para>
/// </summary>
public static class Stacked
{
    [ThreadStatic] private static Selection? _selection;

    private sealed class Selection(int[] agents, Selection? previous) : IDisposable
    {
        public readonly int[] Agents = agents;
        public readonly Selection? Previous = previous;
        public readonly bool Contiguous = agents.Select((a, i) => a - i).Distinct().Count() <= 1;
        private Tensor? _index;
        public Tensor Index => _index ??= torch.tensor(Agents.Select(a => (long)a).ToArray(), dtype: ScalarType.Int64).DetachFromDisposeScope();

        public void Dispose()
        {
            _index?.Dispose();
            _selection = Previous;
        }
    }

    /// <summary>
    /// Restricts the forward passes of stacked modules on this thread to <paramref name="agents"/> (indices into the
    /// leading agent dimension, ascending) until the returned scope is disposed.
    /// </summary>
    public static IDisposable Only(IReadOnlyList<int> agents)
    {
        if (agents.Count == 0) throw new ArgumentException("select at least one agent", nameof(agents));
        for (int i = 1; i < agents.Count; i++)
            if (agents[i] <= agents[i - 1]) throw new ArgumentException("agent indices must be ascending", nameof(agents));
        return _selection = new Selection(agents.ToArray(), _selection);
    }

    /// <summary>
    /// The agents of the current forward pass among <paramref name="agents"/> stacked ones: all of them, or those
    /// chosen with <see cref="Only"/>.
    /// </summary>
    public static IReadOnlyList<int> Selected(int agents) => _selection?.Agents ?? Enumerable.Range(0, agents).ToArray();

    /// <summary>
    /// The rows of a stacked parameter (leading agent dimension) that the current forward pass uses: the parameter
    /// itself, or the selected agents' slices inside <see cref="Only"/>. Gradients flow back into those slices only.
    /// </summary>
    public static Tensor Use(Tensor stacked)
    {
        var s = _selection;
        if (s is null) return stacked;
        if (s.Agents.Length == stacked.shape[0] && s.Agents[0] == 0 && s.Contiguous) return stacked;
        return s.Contiguous ? stacked.narrow(0, s.Agents[0], s.Agents.Length) : stacked.index_select(0, s.Index);
    }

    /// <summary>A parameter of shape [<paramref name="agents"/>, ...initial.shape] whose every slice equals <paramref name="initial"/>.</summary>
    public static Parameter Replicate(Tensor initial, int agents)
    {
        if (agents < 1) throw new ArgumentOutOfRangeException(nameof(agents), "at least one agent");
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        long[] shape = [agents, .. initial.shape];
        var data = initial.detach().unsqueeze(0).expand(shape).contiguous().clone();
        var p = new Parameter(data);
        p.DetachFromDisposeScope();
        return p;
    }

    /// <summary>Copies agent 0's slice of every parameter of <paramref name="module"/> to every other agent.</summary>
    internal static void BroadcastFirstAgent(nn.Module module)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        foreach (var p in module.parameters())
            if (p.shape[0] > 1) p.copy_(p.narrow(0, 0, 1).expand(p.shape));
    }
}

/// <summary>
/// A linear layer per agent: weight [A, out, in], bias [A, out]; [A, ..., in] -> [A, ..., out] as one batched
/// matrix product. Agent k's slice starts as <c>torch.nn.Linear(in, out)</c> would (same draws from the generator).
/// </summary>
public sealed class StackedLinear : nn.Module<Tensor, Tensor>
{
    /// <summary>[A, out, in].</summary>
    public readonly Parameter weight;
    /// <summary>[A, out].</summary>
    public readonly Parameter bias;

    /// <summary>Creates the layer for <paramref name="agents"/> agents, drawn as <c>Linear(inFeatures, outFeatures)</c>.</summary>
    public StackedLinear(int agents, long inFeatures, long outFeatures) : base(nameof(StackedLinear))
    {
        (InFeatures, OutFeatures) = (inFeatures, outFeatures);
        using (var reference = nn.Linear(inFeatures, outFeatures))
        {
            weight = Stacked.Replicate(reference.weight!, agents);
            bias = Stacked.Replicate(reference.bias!, agents);
        }
        RegisterComponents();
    }

    private StackedLinear(Parameter weight, Parameter bias) : base(nameof(StackedLinear))
    {
        (this.weight, this.bias) = (weight, bias);
        (InFeatures, OutFeatures) = (weight.shape[2], weight.shape[1]);
        RegisterComponents();
    }

    /// <summary>
    /// A layer whose weight and then bias are drawn uniformly in ±1/sqrt(in) (the re-seeded slice projections of
    /// <see cref="AgentModel"/>).
    /// </summary>
    public static StackedLinear Uniform(int agents, long inFeatures, long outFeatures)
    {
        double bound = 1.0 / Math.Sqrt(inFeatures);
        using var w = torch.empty(outFeatures, inFeatures).uniform_(-bound, bound);
        using var b = torch.empty(outFeatures).uniform_(-bound, bound);
        return new StackedLinear(Stacked.Replicate(w, agents), Stacked.Replicate(b, agents));
    }

    /// <summary>Input width.</summary>
    public long InFeatures { get; }
    /// <summary>Output width.</summary>
    public long OutFeatures { get; }

    /// <summary>[A, ..., in] -> [A, ..., out], each agent with its own weight and bias.</summary>
    public override Tensor forward(Tensor x)
    {
        var w = Stacked.Use(weight);
        var b = Stacked.Use(bias);
        long a = x.shape[0];
        if (x.dim() == 3) return torch.bmm(x, w.transpose(1, 2)).Plus(b.unsqueeze(1));
        long[] outShape = [.. x.shape[..^1], OutFeatures];
        var y = torch.bmm(x.reshape(a, -1, InFeatures), w.transpose(1, 2)).Plus(b.unsqueeze(1));
        return y.reshape(outShape);
    }
}
