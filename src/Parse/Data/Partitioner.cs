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
    public static int[][] Split(int[] labels, int numClasses, int agents, PartitionConfig cfg, int seed, string[]? groups = null)
    {
        var rng = new Random(Seeds.Derive(seed, "partition"));
        int[][] parts = cfg.Kind switch
        {
            "iid" => Iid(labels.Length, agents, rng),
            "dirichlet" => Dirichlet(labels, numClasses, agents, cfg.Alpha, rng),
            "natural" => NaturalPartition.Split(groups ?? throw new ConfigException(
                "data.partition.kind: 'natural' needs a dataset with natural groups (av-mnist: speaker; multiview-csv: data.group_column)"), agents, rng),
            _ => throw new ConfigException($"data.partition.kind: unknown partitioner '{cfg.Kind}' (expected iid, dirichlet or natural)"),
        };
        for (int a = 0; a < agents; a++)
        {
            if (parts[a].Length == 0)
                throw new ConfigException($"data.partition: agent {a} received an empty partition " +
                                          $"({cfg.Kind}{(cfg.Kind == "dirichlet" ? $", alpha={cfg.Alpha}" : "")}, pool of {labels.Length}); " +
                                          "raise data.samples_per_agent or data.partition.alpha");
        }
        return parts;
    }

    private static int[][] Iid(int n, int agents, Random rng)
    {
        var idx = Enumerable.Range(0, n).ToArray();
        rng.Shuffle(idx);
        return Enumerable.Range(0, agents).Select(a => idx.Where((_, i) => i % agents == a).ToArray()).ToArray();
    }

    /// <summary>Per class, split its samples among agents by Dirichlet(alpha) proportions.</summary>
    private static int[][] Dirichlet(int[] labels, int numClasses, int agents, double alpha, Random rng)
    {
        if (alpha <= 0) throw new ConfigException($"data.partition.alpha must be > 0 (got {alpha})");
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
