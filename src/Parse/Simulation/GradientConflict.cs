namespace Parse.Simulation;

/// <summary>
/// Gradient conflict between unimodal and multimodal agents on the parameters they share (the paper's core
/// mechanism claim): for every group key held by at least one unimodal and one multimodal agent, the cosine
/// between the mean unimodal gradient and the mean multimodal gradient on a fixed probe batch. Negative values
/// mean the two populations pull shared parameters in opposing directions.
/// </summary>
public static class GradientConflict
{
    /// <summary>Per-key cosine and the size-weighted mean over keys (NaN if no key is shared across the two populations).</summary>
    public static (double Mean, IReadOnlyDictionary<string, double> ByKey) Measure(IReadOnlyList<Agent> agents)
    {
        // agents of one learner are probed together (one backward pass per probe size)
        var probed = new Dictionary<Agent, Dictionary<string, float[]>>();
        foreach (var group in agents.GroupBy(a => a.Group))
        {
            var members = group.OrderBy(a => a.Index).ToList();
            var g = group.Key.ProbeGradients(agents: members.Select(a => a.Index).ToList());
            for (int i = 0; i < members.Count; i++) probed[members[i]] = g[i];
        }
        var grads = agents.Select(a => (a.Modalities.Count > 1, probed[a])).ToList();
        var keys = grads.SelectMany(g => g.Item2.Keys).Distinct().OrderBy(k => k, StringComparer.Ordinal);
        var byKey = new Dictionary<string, double>();
        double weighted = 0, weight = 0;
        foreach (var key in keys)
        {
            var uni = grads.Where(g => !g.Item1 && g.Item2.ContainsKey(key)).Select(g => g.Item2[key]).ToList();
            var multi = grads.Where(g => g.Item1 && g.Item2.ContainsKey(key)).Select(g => g.Item2[key]).ToList();
            if (uni.Count == 0 || multi.Count == 0) continue;
            double cos = Cosine(Mean(uni), Mean(multi));
            if (double.IsNaN(cos)) continue;
            byKey[key] = cos;
            weighted += cos * uni[0].Length;
            weight += uni[0].Length;
        }
        return (weight == 0 ? double.NaN : weighted / weight, byKey);
    }

    private static double[] Mean(List<float[]> xs)
    {
        var m = new double[xs[0].Length];
        foreach (var x in xs)
            for (int i = 0; i < m.Length; i++) m[i] += x[i];
        for (int i = 0; i < m.Length; i++) m[i] /= xs.Count;
        return m;
    }

    /// <summary>Cosine similarity (NaN if either vector is zero).</summary>
    public static double Cosine(double[] a, double[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
        return na == 0 || nb == 0 ? double.NaN : dot / Math.Sqrt(na * nb);
    }
}
