using TorchSharp;
using static TorchSharp.torch;

namespace Parse.Data;

/// <summary>Shape of one modality's per-sample input (e.g. [16] for a vector, [1,28,28] for an image).</summary>
public sealed record ModalitySpec(string Name, long[] Shape)
{
    /// <summary>Number of scalars per sample.</summary>
    public long Size => Shape.Aggregate(1L, (a, b) => a * b);
}

/// <summary>
/// A set of samples with one float tensor per modality (leading dimension = sample) and integer labels.
/// Owns its tensors; dispose it when done.
/// </summary>
public sealed class MultimodalData : IDisposable
{
    public MultimodalData(IReadOnlyDictionary<string, Tensor> views, int[] labels, int numClasses)
    {
        foreach (var (name, t) in views)
        {
            if (t.shape[0] != labels.Length)
                throw new ArgumentException($"modality '{name}' has {t.shape[0]} rows but there are {labels.Length} labels");
        }
        Views = views;
        Labels = labels;
        NumClasses = numClasses;
        LabelTensor = torch.tensor(labels.Select(l => (long)l).ToArray(), dtype: ScalarType.Int64);
    }

    /// <summary>A copy with every label mapped by <paramref name="map"/> (e.g. a label-flipping attacker's data).</summary>
    public MultimodalData Relabel(Func<int, int> map) =>
        new(Views.ToDictionary(kv => kv.Key, kv => kv.Value.clone()), Labels.Select(map).ToArray(), NumClasses);

    /// <summary>Per-modality inputs, each [N, ...].</summary>
    public IReadOnlyDictionary<string, Tensor> Views { get; }
    /// <summary>Labels in [0, NumClasses).</summary>
    public int[] Labels { get; }
    /// <summary>Labels as an int64 tensor [N].</summary>
    public Tensor LabelTensor { get; }
    public int NumClasses { get; }
    public int Count => Labels.Length;

    /// <summary>Rows <paramref name="indices"/> restricted to <paramref name="modalities"/> (copies).</summary>
    public MultimodalData Subset(IReadOnlyList<int> indices, IEnumerable<string>? modalities = null)
    {
        using var idx = torch.tensor(indices.Select(i => (long)i).ToArray(), dtype: ScalarType.Int64);
        var names = modalities ?? Views.Keys;
        var views = names.ToDictionary(m => m, m => Views[m].index_select(0, idx));
        return new MultimodalData(views, indices.Select(i => Labels[i]).ToArray(), NumClasses);
    }

    /// <summary>
    /// Takes every tensor of this set out of the current dispose scope (for a set kept across steps, e.g. a fixed batch
    /// or a cached fold); returns this set, which still owns them.
    /// </summary>
    public MultimodalData DetachFromDisposeScope()
    {
        foreach (var v in Views.Values) v.DetachFromDisposeScope();
        LabelTensor.DetachFromDisposeScope();
        return this;
    }

    /// <summary>Throws with the modality name if any value is NaN or infinite.</summary>
    public void EnsureFinite(string source)
    {
        foreach (var (name, t) in Views)
        {
            if (!torch.isfinite(t).all().item<bool>())
                throw new Config.ConfigException($"{source}: modality '{name}' contains NaN or infinite values");
        }
    }

    public void Dispose()
    {
        foreach (var t in Views.Values) t.Dispose();
        LabelTensor.Dispose();
    }
}

/// <summary>What a dataset provides: a training pool to partition, a test set, and what is known about it.</summary>
public sealed class DatasetBundle : IDisposable
{
    public required MultimodalData Train { get; init; }
    public required MultimodalData Test { get; init; }
    public required IReadOnlyList<ModalitySpec> Modalities { get; init; }
    /// <summary>Best achievable test accuracy for an agent holding the given modality set, if known in closed form.</summary>
    public Func<IReadOnlyCollection<string>, double>? Ceiling { get; init; }
    /// <summary>Optional natural group per training sample (e.g. speaker), for the natural partitioner.</summary>
    public string[]? Groups { get; init; }
    /// <summary>Training rows of every agent, when the data set assigns them itself (multiview-csv <c>data.agent_column</c>);
    /// agents this process does not host may have none. Null: the experiment's partitioner splits the pool.</summary>
    public int[][]? Partition { get; init; }

    public void Dispose() { Train.Dispose(); Test.Dispose(); }
}
