using Parse.Federation.Mixing;

namespace Parse.Node;

/// <summary>
/// What an agent has left to mix in a round (<see cref="AgentCore.PrepareMix"/>): one task per shared group with
/// neighbours. Disposing it completes the round and releases the neighbours' payloads, so mix the tasks first.
/// </summary>
public sealed class PreparedMix : IDisposable
{
    private readonly IReadOnlyList<IDisposable> _held;
    private Action? _complete;

    internal PreparedMix(IReadOnlyList<MixTask> tasks, IReadOnlyList<IDisposable> held, Action complete)
    {
        Tasks = tasks;
        _held = held;
        _complete = complete;
    }

    /// <summary>The groups to mix: the agent's own tensors, its degree and the chosen neighbour values.</summary>
    public IReadOnlyList<MixTask> Tasks { get; }

    /// <summary>Completes the round and releases the payloads (once).</summary>
    public void Dispose()
    {
        var complete = Interlocked.Exchange(ref _complete, null);
        if (complete is null) return;
        try { foreach (var h in _held) h.Dispose(); }
        finally { complete(); }
    }
}
