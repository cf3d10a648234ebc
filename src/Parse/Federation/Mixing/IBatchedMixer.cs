using Parse.Model;

namespace Parse.Federation.Mixing;

/// <summary>One agent's mixing of one parameter group in a round, as collected for a batched call.</summary>
/// <param name="Group">The agent's group (its tensors are views of its slice of the stacked parameters).</param>
/// <param name="OwnDegree">The agent's degree on the group's overlay this round (live neighbours).</param>
/// <param name="Received">Accepted neighbour values in ascending sender order (refused or missing ones absent).</param>
public sealed record MixTask(ParameterGroup Group, int OwnDegree, IReadOnlyList<Contribution> Received);

/// <summary>
/// A mixing rule that can mix many agents' groups at once over the stacked store: the result for every task must
/// equal what <see cref="IMixer.Mix"/> gives for that agent alone (the simulator relies on it to batch the agents of
/// one stacked model; the cluster mixes agent by agent). Must be stateless across agents.
/// </summary>
public interface IBatchedMixer : IMixer
{
    /// <summary>
    /// Mixes every task, writing each agent's result into its group in place. Called inside a no-grad dispose scope.
    /// Tasks may belong to different groups and stacked models; the mixer batches what it can.
    /// </summary>
    void MixBatch(IReadOnlyList<MixTask> tasks);
}
