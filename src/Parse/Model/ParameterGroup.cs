using TorchSharp.Modules;

namespace Parse.Model;

/// <summary>Which part of the fissioned model a parameter group belongs to.</summary>
public enum GroupRole
{
    /// <summary>Modality encoder trunk (shared by holders of the modality).</summary>
    Trunk,
    /// <summary>Unique slice projection or unique head of one modality.</summary>
    Unique,
    /// <summary>Redundant slice projection or the redundant head (shared by everyone).</summary>
    Redundant,
    /// <summary>Synergistic projection, fusion or synergy head (only agents with that modality set).</summary>
    Synergy,
    /// <summary>Monolithic model: the single embedding projection of one modality.</summary>
    Embedding,
    /// <summary>Monolithic model: the single task head on the fused embedding (shared by everyone).</summary>
    Task,
}

/// <summary>Coarse part of the model a group belongs to, used by the DSGD baselines.</summary>
public enum GroupPart
{
    /// <summary>Modality encoder parameters (trunk and projections), keys starting with <c>enc/</c>.</summary>
    Encoder,
    /// <summary>Heads and fusion, keys starting with <c>head/</c> or <c>fusion/</c>.</summary>
    Head,
}

/// <summary>
/// A named set of trainable tensors with a sharing key. Two agents may mix a group only if their keys are
/// equal; the key is the name (modality, architecture signature, slice, modality set) plus the tensor shapes.
/// </summary>
public sealed class ParameterGroup
{
    public ParameterGroup(string name, GroupRole role, string? modality, IReadOnlyList<Parameter> parameters)
    {
        Name = name;
        Role = role;
        Modality = modality;
        Parameters = parameters;
        Shapes = parameters.Select(p => p.shape.ToArray()).ToList();
        Key = name + "|" + string.Join(';', Shapes.Select(s => string.Join('x', s)));
        NumElements = Shapes.Sum(s => s.Aggregate(1L, (a, b) => a * b));
    }

    /// <summary>Readable name, e.g. <c>enc/a/mlp-16-h64-l2/trunk</c> or <c>head/synergy/a+b</c>.</summary>
    public string Name { get; }
    /// <summary>Sharing key: name plus shapes.</summary>
    public string Key { get; }
    public GroupRole Role { get; }
    /// <summary>Encoder or head part (from the name).</summary>
    public GroupPart Part => Name.StartsWith("enc/", StringComparison.Ordinal) ? GroupPart.Encoder : GroupPart.Head;
    /// <summary>Modality for encoder and unique groups; null for redundant head and synergy groups.</summary>
    public string? Modality { get; }
    public IReadOnlyList<Parameter> Parameters { get; }
    public IReadOnlyList<long[]> Shapes { get; }
    /// <summary>Total scalar count.</summary>
    public long NumElements { get; }
}
