using TorchSharp.Modules;
using static TorchSharp.torch;

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
/// A named set of trainable tensors of one agent with a sharing key. Two agents may mix a group only if their keys
/// are equal; the key is the name (modality, architecture signature, slice, modality set) plus the per-agent tensor
/// shapes. The tensors are views of the agent's slice of the stacked parameters of its model (batched-first: every
/// parameter has a leading agent dimension), so writing into them in place (mixing, checkpoint restore) updates the
/// model directly.
/// </summary>
public sealed class ParameterGroup
{
    /// <summary>Creates a group of one agent's tensors.</summary>
    /// <param name="name">Readable name (the key without shapes).</param>
    /// <param name="role">Part of the model.</param>
    /// <param name="modality">Modality of encoder and unique groups, else null.</param>
    /// <param name="parameters">The agent's tensors (per-agent shapes).</param>
    public ParameterGroup(string name, GroupRole role, string? modality, IReadOnlyList<Tensor> parameters)
        : this(name, role, modality, parameters, [], 0) { }

    /// <summary>Creates agent <paramref name="agent"/>'s group over stacked parameters ([A, ...] each).</summary>
    /// <param name="name">Readable name (the key without shapes).</param>
    /// <param name="role">Part of the model.</param>
    /// <param name="modality">Modality of encoder and unique groups, else null.</param>
    /// <param name="parameters">The agent's tensors: views of its slices of <paramref name="stacked"/>.</param>
    /// <param name="stacked">The stacked parameters, one per tensor of the group.</param>
    /// <param name="agent">The agent's index in the leading dimension of <paramref name="stacked"/>.</param>
    public ParameterGroup(string name, GroupRole role, string? modality, IReadOnlyList<Tensor> parameters,
        IReadOnlyList<Parameter> stacked, int agent)
    {
        Name = name;
        Role = role;
        Modality = modality;
        Parameters = parameters;
        Stacked = stacked;
        Agent = agent;
        Shapes = parameters.Select(p => p.shape.ToArray()).ToList();
        Key = KeyOf(name, Shapes);
        NumElements = Shapes.Sum(s => s.Aggregate(1L, (a, b) => a * b));
    }

    /// <summary>The sharing key of a group: <paramref name="name"/>, '|', then the shapes (dimensions joined by 'x', tensors by ';').</summary>
    public static string KeyOf(string name, IEnumerable<long[]> shapes) => name + "|" + string.Join(';', shapes.Select(s => string.Join('x', s)));

    /// <summary>Readable name, e.g. <c>enc/a/mlp-16-h64-l2/trunk</c> or <c>head/synergy/a+b</c>.</summary>
    public string Name { get; }
    /// <summary>Sharing key: name plus shapes.</summary>
    public string Key { get; }
    /// <summary>Part of the model the group belongs to.</summary>
    public GroupRole Role { get; }
    /// <summary>Encoder or head part (from the name).</summary>
    public GroupPart Part => Name.StartsWith("enc/", StringComparison.Ordinal) ? GroupPart.Encoder : GroupPart.Head;
    /// <summary>Modality for encoder and unique groups; null for redundant head and synergy groups.</summary>
    public string? Modality { get; }
    /// <summary>The agent's tensors: views of its slice of <see cref="Stacked"/> (write in place, under no_grad).</summary>
    public IReadOnlyList<Tensor> Parameters { get; }
    /// <summary>The stacked parameters ([A, ...]) the views belong to (empty for a group built from plain tensors).</summary>
    public IReadOnlyList<Parameter> Stacked { get; }
    /// <summary>Index of the agent in the leading dimension of <see cref="Stacked"/>.</summary>
    public int Agent { get; }
    /// <summary>Per-agent shape of every tensor.</summary>
    public IReadOnlyList<long[]> Shapes { get; }
    /// <summary>Total scalar count.</summary>
    public long NumElements { get; }
}
