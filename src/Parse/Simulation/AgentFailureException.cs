namespace Parse.Simulation;

/// <summary>
/// A failure inside one agent's unit of work on a simulator worker (training, publishing, receiving, mixing),
/// naming the agent(s) and the phase; the original exception is the inner exception. The run stops with it: no
/// worker dies silently.
/// </summary>
public sealed class AgentFailureException(string who, string phase, Exception inner)
    : InvalidOperationException($"{who} failed while {phase}: {inner.GetType().Name}: {inner.Message}", inner)
{
    /// <summary>The agent or agents ("agent 3", "agents 0,4,8") whose unit failed.</summary>
    public string Who { get; } = who;

    /// <summary>What the unit was doing ("training", "publishing", "receiving", "mixing").</summary>
    public string Phase { get; } = phase;
}
