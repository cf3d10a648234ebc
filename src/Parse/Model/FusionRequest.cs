namespace Parse.Model;

/// <summary>What a fusion factory (<see cref="Components.Fusions"/>) is asked to build.</summary>
/// <param name="Modalities">Number of synergistic slices fused (the agent's modality count, at least 2).</param>
/// <param name="Width">Width d of each slice ([B, d]).</param>
public sealed record FusionRequest(int Modalities, int Width);
