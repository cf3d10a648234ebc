using Parse.Config;
using Parse.Util;

namespace Parse.Data;

/// <summary>Splits a training pool among agents.</summary>
public static class Partitioner
{
    /// <summary>Returns, for each agent, the pool indices it holds. Throws if any agent would be empty.</summary>
    /// <param name="labels">Label of every pool sample.</param>
    /// <param name="numClasses">Number of classes.</param>
    /// <param name="agents">Number of agents.</param>
    /// <param name="cfg">Partition kind and parameters.</param>
    /// <param name="seed">Master seed.</param>
    /// <param name="groups">Natural group of every pool sample (needed by kind <c>natural</c>).</param>
    /// <param name="poolKey">The config key that sets the pool size for the dataset in use (e.g. <c>data.samples_per_agent</c>
    /// for synthetic-pid), named in the message when a partition is too small; null when the pool is the data set itself.</param>
    public static int[][] Split(int[] labels, int numClasses, int agents, PartitionConfig cfg, int seed, string[]? groups = null, string? poolKey = null)
    {
        var rng = new Random(Seeds.Derive(seed, "partition"));
        string Remedy(params string[] keys) => string.Join(", ", keys.Prepend(poolKey is null ? "" : $"raise {poolKey}").Where(k => k.Length > 0));
        int[][] parts = cfg.Kind switch
        {
            "iid" => Iid(labels.Length, agents, rng),
            "dirichlet" => Dirichlet(labels, numClasses, agents, cfg, rng, Remedy("lower data.partition.min_partition_size", "raise data.partition.alpha", "or use fewer agents")),
            "natural" => NaturalPartition.Split(groups ?? throw new ConfigException(
                "data.partition.kind: 'natural' needs a dataset with natural groups (av-mnist: speaker; multiview-csv: data.group_column)"), agents, rng),
            _ => throw new ConfigException($"data.partition.kind: unknown partitioner '{cfg.Kind}' (expected iid, dirichlet or natural)"),
        };
        for (int a = 0; a < agents; a++)
        {
            if (parts[a].Length == 0)
                throw new ConfigException($"data.partition: agent {a} received an empty partition " +
                                          $"({cfg.Kind}{(cfg.Kind == "dirichlet" ? $", alpha={cfg.Alpha}" : "")}, pool of {labels.Length}); " +
                                          Remedy("use fewer agents"));
        }
        return parts;
    }

    private static int[][] Iid(int n, int agents, Random rng)
    {
        var idx = Enumerable.Range(0, n).ToArray();
        rng.Shuffle(idx);
        return Enumerable.Range(0, agents).Select(a => idx.Where((_, i) => i % agents == a).ToArray()).ToArray();
    }

    /// <summary>
    /// Per class, split its samples among agents by Dirichlet(alpha) proportions; redrawn (at most
    /// <see cref="PartitionConfig.MaxResamples"/> times) until every agent holds at least <see cref="PartitionConfig.MinPartitionSize"/>.
    /// The first draw is the one kept whenever it already satisfies the minimum.
    /// </summary>
    private static int[][] Dirichlet(int[] labels, int numClasses, int agents, PartitionConfig cfg, Random rng, string remedy)
    {
        if (cfg.Alpha <= 0) throw new ConfigException($"data.partition.alpha must be > 0 (got {cfg.Alpha})");
        int min = cfg.MinPartitionSize;
        if (min < 1) throw new ConfigException($"data.partition.min_partition_size: must be >= 1 (got {min})");
        if (cfg.MaxResamples < 0) throw new ConfigException($"data.partition.max_resamples: must be >= 0 (got {cfg.MaxResamples})");
        if ((long)min * agents > labels.Length)
            throw new ConfigException($"data.partition.min_partition_size: {agents} agents x {min} samples need {(long)min * agents} but the training pool has {labels.Length}; {remedy}");
        int smallest = 0;
        for (int attempt = 0; attempt <= cfg.MaxResamples; attempt++)
        {
            var parts = DirichletDraw(labels, numClasses, agents, cfg.Alpha, rng);
            smallest = parts.Min(p => p.Length);
            if (smallest >= min) return parts;
        }
        throw new ConfigException($"data.partition: no Dirichlet draw (alpha={cfg.Alpha}, {agents} agents, pool of {labels.Length}) gave every agent " +
                                  $"at least {min} samples in {cfg.MaxResamples + 1} attempts (data.partition.max_resamples; smallest partition {smallest}); {remedy}");
    }

    private static int[][] DirichletDraw(int[] labels, int numClasses, int agents, double alpha, Random rng)
    {
        var lists = Enumerable.Range(0, agents).Select(_ => new List<int>()).ToArray();
        for (int c = 0; c < numClasses; c++)
        {
            var members = Enumerable.Range(0, labels.Length).Where(i => labels[i] == c).ToList();
            rng.Shuffle(members);
            double[] p = rng.NextDirichlet(agents, alpha);
            int start = 0;
            double cum = 0;
            for (int a = 0; a < agents; a++)
            {
                cum += p[a];
                int end = a == agents - 1 ? members.Count : (int)Math.Round(cum * members.Count);
                for (int i = start; i < end; i++) lists[a].Add(members[i]);
                start = Math.Max(start, end);
            }
        }
        return lists.Select(l => l.ToArray()).ToArray();
    }
}
