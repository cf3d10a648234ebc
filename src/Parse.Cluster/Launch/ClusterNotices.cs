using Parse.Config;

namespace Parse.Cluster.Launch;

/// <summary>Notes printed before a cluster run about settings the cluster runtime does not carry out.</summary>
public static class ClusterNotices
{
    /// <summary>
    /// One line per enabled diagnostic that only the simulator computes: they compare every agent's slices on the same
    /// test inputs in one process, which the cluster's processes (each holding its own agents) do not have.
    /// </summary>
    public static IReadOnlyList<string> Of(ExperimentConfig cfg)
    {
        var notes = new List<string>();
        if (cfg.Eval.Probes) notes.Add("eval.probes is a simulator diagnostic (it probes every agent's slices in one process); this cluster run does not write probes.csv");
        if (cfg.Eval.Cka) notes.Add("eval.cka is a simulator diagnostic (it compares every agent's slices in one process); this cluster run does not write cka.csv");
        return notes;
    }
}
