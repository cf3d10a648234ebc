namespace Parse.Model;

/// <summary>What a fusion factory (<see cref="Components.Fusions"/>) is asked to build.</summary>
/// <param name="Modalities">Number of synergistic slices fused (the agent's modality count, at least 2).</param>
/// <param name="Width">Width d of each slice ([A, N, d]).</param>
/// <param name="Agents">Number of agents A the operator is built for: every parameter has a leading dimension A.</param>
public sealed record FusionRequest(int Modalities, int Width, int Agents = 1);
