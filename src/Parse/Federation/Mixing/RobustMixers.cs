using Parse.Model;
using Parse.Util;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Parse.Federation.Mixing;

/// <summary>
/// Coordinate-wise sorting of a few candidate rows by a sorting network of element-wise minimum and maximum
/// (odd-even transposition: n rounds of compare-exchanges between neighbouring rows). For the handful of candidates
/// of an overlay neighbourhood this is a few vectorised passes over the values, where a sort along the candidate
/// dimension sorts every coordinate separately. Rows may be [P] or [B, P] (a batch of agents): the network is
/// element-wise, so each agent's sorted values are the same either way.
/// </summary>
internal static class SortingNetwork
{
    /// <summary>Candidate counts up to this are sorted by the network; more by <c>torch.sort</c>.</summary>
    public const int MaxRows = 12;

    /// <summary>The rows sorted coordinate-wise (row k holds the k-th smallest value of every coordinate).</summary>
    public static Tensor[] Sort(IReadOnlyList<Tensor> rows)
    {
        var r = rows.ToArray();
        int n = r.Length;
        if (n > MaxRows)
        {
            var sorted = torch.stack(r, 0).sort(0).Values;
            return Enumerable.Range(0, n).Select(k => sorted[k]).ToArray();
        }
        // intermediate rows are released as soon as they are replaced (a batch of agents makes them large)
        var owned = new bool[n];
        for (int round = 0; round < n; round++)
            for (int i = round % 2; i + 1 < n; i += 2)
            {
                var lo = torch.minimum(r[i], r[i + 1]);
                var hi = torch.maximum(r[i], r[i + 1]);
                if (owned[i]) r[i].Dispose();
                if (owned[i + 1]) r[i + 1].Dispose();
                (r[i], r[i + 1]) = (lo, hi);
                owned[i] = owned[i + 1] = true;
            }
        return r;
    }
}

/// <summary>
/// Coordinate-wise trimmed mean of the agent's own values and its neighbours': per coordinate the <c>trim</c> largest
/// and <c>trim</c> smallest of the n = degree + 1 values are dropped and the rest averaged. Tolerates up to
/// <c>trim</c> Byzantine neighbours per coordinate when n &gt; 2 x trim. Cost: a sort of n values per coordinate.
/// </summary>
public sealed class TrimmedMeanMixer(int trim) : RowMixer
{
    /// <inheritdoc />
    public override string Name => "trimmed-mean";

    /// <summary>Values dropped at each end.</summary>
    public int Trim => trim;

    /// <inheritdoc />
    protected internal override Tensor Combine(CandidateRows c)
    {
        var sorted = SortingNetwork.Sort(c.Rows);
        int n = sorted.Length;
        // with fewer candidates than the rule needs (neighbours missing this round), trim as much as still leaves one
        int t = Math.Min(trim, (n - 1) / 2);
        return SumInOrder(sorted.Skip(t).Take(n - 2 * t)).Over(n - 2 * t);
    }
}

/// <summary>
/// Coordinate-wise median of the agent's own values and its neighbours' (the lower median for an even count, so the
/// result is always one of the values). Tolerates fewer than half Byzantine values per coordinate.
/// </summary>
public sealed class MedianMixer : RowMixer
{
    /// <inheritdoc />
    public override string Name => "median";

    /// <inheritdoc />
    protected internal override Tensor Combine(CandidateRows c)
    {
        var sorted = SortingNetwork.Sort(c.Rows);
        return sorted[(sorted.Length - 1) / 2];
    }
}

/// <summary>
/// Krum (Blanchard et al., 2017) over the agent's own values and its neighbours': each candidate is scored by the sum of
/// squared distances to its n - f - 2 nearest other candidates; <c>krum</c> takes the best-scored candidate,
/// <c>multi-krum</c> the mean of the n - f best. Tolerates f Byzantine neighbours when n &gt; 2f + 2. Cost: all
/// pairwise distances, O(n^2 P) per group, from one batched Gram-matrix product over the stacked candidates of a
/// whole batch (centred on each agent's own values, so that float32 keeps the distances between nearby candidates),
/// then one gather per averaged candidate.
/// </summary>
public sealed class KrumMixer(int f, bool multi) : RowMixer
{
    /// <inheritdoc />
    public override string Name => multi ? "multi-krum" : "krum";

    /// <summary>
    /// Scores of n candidates from their squared pairwise distances (row-major n x n): the sum of each candidate's
    /// n - f - 2 smallest distances to the others (at least one). Lower is more central.
    /// </summary>
    public static double[] Scores(double[] squaredDistances, int n, int f)
    {
        long k = Math.Max(1, n - f - 2);
        var scores = new double[n];
        for (int i = 0; i < n; i++)
        {
            int row = i;
            var others = Enumerable.Range(0, n).Where(j => j != row).Select(j => squaredDistances[row * n + j]).Order().Take((int)Math.Min(k, n - 1));
            scores[i] = others.Sum();
        }
        return scores;
    }

    /// <inheritdoc />
    protected internal override Tensor Combine(CandidateRows c)
    {
        int n = c.Count, b = c.Agents;
        // all candidates of a batch as [B, n, P]; the Gram matrices of their differences from the own values, one batched
        // product instead of n(n - 1)/2 row-wise differences: |x_i - x_j|^2 = g_ii + g_jj - 2 g_ij
        using var x = torch.stack(c.Rows, 1);
        double[] g;
        using (var centred = x.sub(x.narrow(1, 0, 1)))
        using (var gram = torch.bmm(centred, centred.transpose(1, 2)))
        using (var gram64 = gram.to_type(ScalarType.Float64))
            g = gram64.data<double>().ToArray();   // [B, n, n]
        int m = multi ? Math.Max(1, n - f) : 1;
        // chosen[agent]: its m best-scored candidates in ascending candidate order (ties: own values first, then lower sender)
        var chosen = new int[b][];
        var dist = new double[n * n];
        for (int a = 0; a < b; a++)
        {
            int o = a * n * n;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                    dist[i * n + j] = i == j ? 0 : Math.Max(0, g[o + i * n + i] + g[o + j * n + j] - 2 * g[o + i * n + j]);
            var scores = Scores(dist, n, f);
            chosen[a] = Enumerable.Range(0, n).OrderBy(i => scores[i]).ThenBy(i => i).Take(m).Order().ToArray();
        }
        // the j-th chosen row of every agent by one gather; summed in candidate order, then averaged
        using var flat = x.reshape(b * n, -1);
        var picked = Enumerable.Range(0, m).Select(j =>
        {
            using var idx = torch.tensor(Enumerable.Range(0, b).Select(a => (long)(a * n + chosen[a][j])).ToArray(), dtype: ScalarType.Int64);
            return flat.index_select(0, idx);
        });
        var sum = SumInOrder(picked, consume: true);
        return m == 1 ? sum : sum.Over(m);
    }
}

/// <summary>
/// Self-centred clipped gossip (He, Karimireddy and Jaggi, 2022): x_i &lt;- x_i + sum_j w_ij clip(x_j - x_i, tau) with
/// Metropolis-Hastings weights, where clip scales a neighbour's whole-group difference to L2 norm at most tau. A
/// Byzantine neighbour can move the agent by at most w_ij x tau per round. tau is <c>mixing.clip</c>, or adaptive
/// (<c>mixing.radius</c>):
/// <list type="bullet">
/// <item><see cref="ClipRadius.Median"/>: the median of the round's neighbour distances. With one neighbour that is the
/// neighbour's own distance, and with two the mean of both: an attacker among one or two neighbours is not held back.</item>
/// <item><see cref="ClipRadius.OwnHistory"/>: <c>factor</c> x the lower median of a pool anchored by the agent itself:
/// over the last <see cref="RadiusHistory.Window"/> rounds, its own update norm of each round (how far its values
/// moved since it last mixed: its local training) and the neighbour distances it accepted (after clipping), plus this
/// round's own update norm and neighbour distances. The agent's own entries are at least half of the pool whenever
/// at most one neighbour in two is far away, so one attacker next to an agent with a single neighbour (or one of two)
/// is clipped to about <c>factor</c> x the agent's own step, while honest neighbours within <c>factor</c> x the typical
/// distance are untouched. In the first round (no own update yet) the agent's own copy counts as distance 0.</item>
/// </list>
/// </summary>
public sealed class ClippedGossipMixer : RowMixer, IMixerMemory
{
    private readonly double? _clip;
    private readonly RadiusHistories _histories = new();

    /// <summary>A fixed radius <paramref name="clip"/>, or (null) the adaptive radius <paramref name="radius"/>.</summary>
    /// <param name="clip">Fixed clipping radius (L2, per group), or null for an adaptive one.</param>
    /// <param name="radius">How the adaptive radius is chosen.</param>
    /// <param name="factor">Multiple of the pool's lower median taken as the radius (<see cref="ClipRadius.OwnHistory"/>).</param>
    /// <param name="drop">True to leave out a neighbour beyond the radius for the round rather than clip its difference.</param>
    public ClippedGossipMixer(double? clip, ClipRadius radius = ClipRadius.Median, double factor = 2.0, bool drop = false)
    {
        _clip = clip;
        Radius = radius;
        Factor = factor;
        Drop = drop;
    }

    /// <inheritdoc />
    public override string Name => "clipped-gossip";

    /// <summary>How the adaptive radius is chosen (unused with a fixed <c>mixing.clip</c>).</summary>
    public ClipRadius Radius { get; }

    /// <summary>Multiple of the pool's lower median (<see cref="ClipRadius.OwnHistory"/>).</summary>
    public double Factor { get; }

    /// <summary>
    /// True (<c>mixing.outliers: drop</c>): a neighbour beyond the radius is left out of the round (its weight stays
    /// with the agent) instead of being clipped to the radius, so a persistent attacker adds no drift at all.
    /// </summary>
    public bool Drop { get; }

    private bool OwnHistory => _clip is null && Radius == ClipRadius.OwnHistory;

    /// <inheritdoc />
    protected internal override Tensor Combine(CandidateRows c)
    {
        int n = c.Count, b = c.Agents;
        var self = c.Rows[0];
        using var diffs = Weigh(c, out var coef, out var history, out var slots);
        // each difference times its coefficient (one multiplication by an [n - 1, B, 1] tensor), summed in neighbour order
        using (var coefs = torch.tensor(coef.SelectMany(x => x).Select(v => (float)v).ToArray(), [n - 1, b, 1], dtype: ScalarType.Float32))
        {
            if (diffs.dtype == ScalarType.Float32) diffs.mul_(coefs);
            else
            {
                using var cast = coefs.to_type(diffs.dtype);
                diffs.mul_(cast);
            }
        }
        var update = diffs[0];
        for (int k = 1; k < n - 1; k++)
        {
            using var next = diffs[k];
            update.add_(next, ScalarOps.One);
        }
        var result = self.Plus(update);
        update.Dispose();
        history?.Keep(slots!.Rows, slots.Index, result);
        return result;
    }

    /// <summary>
    /// Keeps the own-history memory of the batch <paramref name="c"/> current when another rule mixed it (the main rule
    /// of a <see cref="FallbackMixer"/>): the memory takes the round exactly as if this rule had mixed (its own update
    /// norm and the neighbour distances this rule would have accepted), but remembers <paramref name="mixed"/>, the values
    /// the agents actually hold after mixing, as their last values. Nothing without the own-history radius.
    /// </summary>
    internal void Observe(CandidateRows c, Tensor mixed)
    {
        if (!OwnHistory) return;
        using var diffs = Weigh(c, out _, out var history, out var slots);
        history!.Keep(slots!.Rows, slots.Index, mixed);
    }

    /// <summary>
    /// The neighbours' differences from the agents' own values, [n - 1, B, P], and each one's coefficient
    /// <paramref name="coef"/>[k][agent] (its Metropolis-Hastings weight x clip factor); with the own-history radius also
    /// remembers the round's own update norms and accepted distances in the agents' <paramref name="history"/>.
    /// </summary>
    private Tensor Weigh(CandidateRows c, out double[][] coef, out RadiusHistory? history, out RowSlots? slots)
    {
        int n = c.Count, b = c.Agents;
        var self = c.Rows[0];
        // every neighbour's difference at once, [n - 1, B, P], and their norms [n - 1, B] (a few whole-batch passes)
        var neighbours = c.Neighbours ?? torch.stack(c.Rows.Skip(1).ToArray(), 0);
        var diffs = neighbours.sub(self);
        double[] norms;   // [n - 1, B]
        using (var sq = diffs.Squared())
        using (var sums = sq.sum([2]))
            norms = Roots(sums);
        history = null;
        slots = null;
        double?[]? own = null;
        double[] pool = [];
        if (OwnHistory)
        {
            slots = c.Slots ?? throw new InvalidOperationException("clipped-gossip with mixing.radius own-history needs the agents' store slots");
            history = _histories.Of(slots.Store, slots.Capacity);
            own = OwnUpdateNorms(self, history, slots);
            pool = new double[RadiusHistory.Window * n + n];
        }
        // coefficient of neighbour k at agent a: w_ak x clip factor
        coef = new double[n - 1][];
        for (int k = 0; k < n - 1; k++) coef[k] = new double[b];
        var row = new double[n - 1];
        for (int a = 0; a < b; a++)
        {
            for (int k = 0; k < n - 1; k++) row[k] = norms[k * b + a];
            double tau = _clip ?? (history is null ? Median(row) : Factor * PoolLowerMedian(history, slots!.Rows[a], own![a] ?? 0, row, pool));
            for (int k = 0; k < n - 1; k++)
            {
                double w = MetropolisHastings.Weight(c.OwnDegrees[a], c.SenderDegrees[a][k]);
                coef[k][a] = w * (row[k] > tau && row[k] > 0 ? (Drop ? 0 : tau / row[k]) : 1.0);
            }
            if (history is not null)
            {
                int u = own![a] is null ? 0 : 1;
                var remembered = new double[u + n - 1];
                if (u == 1) remembered[0] = own[a]!.Value;
                for (int k = 0; k < n - 1; k++) remembered[u + k] = Math.Min(row[k], tau);
                history.Remember(slots!.Rows[a], remembered);
            }
        }
        return diffs;
    }

    /// <summary>
    /// Each agent's own update norm: the L2 distance of its current values from its values after it last mixed (null
    /// before its first mixing, or when the group's size changed). One gather of the batch's remembered rows.
    /// </summary>
    private static double?[] OwnUpdateNorms(Tensor self, RadiusHistory history, RowSlots slots)
    {
        int b = slots.Rows.Length;
        var result = new double?[b];
        using var last = history.LastOf(slots.Rows, slots.Index, self.shape[1]);
        if (last is null) return result;
        // rows of agents without a previous value hold zeros: their norms are computed but not reported
        using var d = self.sub(last);
        using var sq = d.Squared();
        using var sums = sq.sum([1]);
        var values = Roots(sums);
        for (int a = 0; a < b; a++)
            if (history.Has(slots.Rows[a])) result[a] = values[a];
        return result;
    }

    /// <summary>
    /// The square roots of sums of squares, as doubles: for float32 the correctly rounded float32 root (what
    /// <c>torch.sqrt</c> gives) widened exactly, computed on the host rather than by two more tensor operations.
    /// </summary>
    private static double[] Roots(Tensor sums)
    {
        if (sums.dtype != ScalarType.Float32)
        {
            using var roots = sums.sqrt();
            using var roots64 = roots.to_type(ScalarType.Float64);
            return roots64.data<double>().ToArray();
        }
        var f = sums.data<float>().ToArray();
        var result = new double[f.Length];
        for (int i = 0; i < result.Length; i++) result[i] = MathF.Sqrt(f[i]);
        return result;
    }

    /// <summary>
    /// The lower median of a slot's remembered distances, this round's own update norm and its neighbour distances
    /// (<paramref name="buffer"/>: scratch space for them).
    /// </summary>
    private static double PoolLowerMedian(RadiusHistory history, long slot, double own, double[] row, double[] buffer)
    {
        int count = history.PoolCount(slot) + 1 + row.Length;
        if (buffer.Length < count) buffer = new double[count];
        int m = history.CopyPool(slot, buffer);
        buffer[m++] = own;
        row.CopyTo(buffer, m);
        var s = buffer.AsSpan(0, count);
        s.Sort();
        return s[(count - 1) / 2];
    }

    /// <inheritdoc />
    /// <remarks>
    /// Per group with a memory (own-history radius only), by key: whether it has last values, those values (float32),
    /// then its remembered rounds of distances.
    /// </remarks>
    public byte[]? SaveMemory(IReadOnlyList<ParameterGroup> groups)
    {
        var entries = new List<(ParameterGroup Group, RadiusHistory History, long Row)>();
        foreach (var g in groups)
        {
            if (_histories.Find(g.Parameters) is { } alone) entries.Add((g, alone, 0));
            else if (g.Stacked.Count > 0 && _histories.Find(g.Stacked) is { } stacked) entries.Add((g, stacked, g.Agent));
        }
        if (entries.Count == 0) return null;
        var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms))
        {
            w.Write(entries.Count);
            foreach (var (g, h, row) in entries)
            {
                w.Write(g.Key);
                bool has = h.Has(row) && h.Last is not null;
                w.Write(has);
                if (has)
                {
                    using var scope = torch.NewDisposeScope();
                    var values = h.Last![row].to_type(ScalarType.Float32).contiguous().data<float>().ToArray();
                    w.Write(values.Length);
                    foreach (float v in values) w.Write(v);
                }
                var rounds = h.RoundsOf(row).ToList();
                w.Write(rounds.Count);
                foreach (var r in rounds)
                {
                    w.Write(r.Length);
                    foreach (double d in r) w.Write(d);
                }
            }
        }
        return ms.ToArray();
    }

    /// <inheritdoc />
    public void RestoreMemory(byte[] memory, IReadOnlyList<ParameterGroup> groups)
    {
        var byKey = groups.ToDictionary(g => g.Key, StringComparer.Ordinal);
        try
        {
            using var r = new BinaryReader(new MemoryStream(memory));
            int count = r.ReadInt32();
            if (count < 0 || count > groups.Count) throw new InvalidDataException($"mixer memory: {count} groups, the agent has {groups.Count}");
            for (int e = 0; e < count; e++)
            {
                string key = r.ReadString();
                if (!byKey.TryGetValue(key, out var g)) throw new InvalidDataException($"mixer memory: group '{key}' is not one of this agent's");
                float[]? last = null;
                if (r.ReadBoolean())
                {
                    int p = r.ReadInt32();
                    if (p != g.NumElements) throw new InvalidDataException($"mixer memory: group '{key}' has {p} remembered values, the model {g.NumElements}");
                    last = new float[p];
                    for (int k = 0; k < p; k++) last[k] = r.ReadSingle();
                }
                int rounds = r.ReadInt32();
                if (rounds is < 0 or > RadiusHistory.Window) throw new InvalidDataException($"mixer memory: group '{key}': {rounds} rounds");
                var list = new List<double[]>();
                for (int q = 0; q < rounds; q++)
                {
                    int len = r.ReadInt32();
                    if (len < 0 || len > 4096) throw new InvalidDataException($"mixer memory: group '{key}': a round of {len} distances");
                    var d = new double[len];
                    for (int k = 0; k < len; k++) d[k] = r.ReadDouble();
                    list.Add(d);
                }
                _histories.Of(g.Parameters, 1).Restore(0, last, list);
            }
        }
        catch (EndOfStreamException) { throw new InvalidDataException("mixer memory: truncated"); }
    }

    private static double Median(double[] v)
    {
        var s = v.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }
}

/// <summary>What the robust rules need of an overlay, checked before any training.</summary>
public static class MixerRequirements
{
    /// <summary>
    /// The fewest candidates (own values + neighbours') <c>mixing.rule</c> works with: 2 x trim + 1 for trimmed-mean,
    /// 2 x f + 3 for krum and multi-krum, 0 (any count) for the other rules.
    /// </summary>
    public static int MinCandidates(Config.MixingConfig m) => m.Rule switch
    {
        "trimmed-mean" => 2 * m.Trim + 1,
        "krum" or "multi-krum" => 2 * m.F + 3,
        _ => 0,
    };

    /// <summary>Rules that cannot be a <c>mixing.fallback</c>: they need more candidates themselves, or extra state.</summary>
    private static readonly string[] NotFallbacks = ["trimmed-mean", "krum", "multi-krum", "choco"];

    /// <summary>What is wrong with <c>mixing.fallback</c> (empty when nothing): an unknown rule, or one that cannot be a fallback.</summary>
    public static IEnumerable<string> FallbackErrors(Config.MixingConfig m)
    {
        if (m.Fallback == "refuse") yield break;
        var names = MixerRegistry.Names.Where(n => !NotFallbacks.Contains(n)).Prepend("refuse").ToList();
        if (NotFallbacks.Contains(m.Fallback))
            yield return $"mixing.fallback: '{m.Fallback}' cannot be a fallback ({(m.Fallback == "choco" ? "it needs the choco payload processor for every group" : "it needs a minimum number of candidates itself")}; expected one of: {string.Join(", ", names)})";
        else if (!MixerRegistry.Names.Contains(m.Fallback))
            yield return $"mixing.fallback: unknown value '{m.Fallback}' (expected one of: {string.Join(", ", names)})";
    }

    /// <summary>
    /// Throws <see cref="Config.ConfigException"/> naming the field when a rule cannot work on some agent's overlay
    /// neighbourhood: trimmed-mean needs degree + 1 &gt; 2 x trim, krum and multi-krum need degree + 1 &gt; 2 x f + 2
    /// (for every agent with at least one neighbour on the overlay), unless <c>mixing.fallback</c> names a rule for them.
    /// </summary>
    public static void Check(Config.ExperimentConfig cfg, IEnumerable<Overlays.Overlay> overlays)
    {
        var m = cfg.Mixing;
        int min = MinCandidates(m);
        if (m.Fallback != "refuse" || min == 0) return;
        const string hint = "; or set mixing.fallback (e.g. clipped-gossip) to mix such agents by another rule";
        foreach (var o in overlays)
            foreach (int i in o.Members)
            {
                int deg = o.Graph.Degree(i);
                if (deg == 0 || deg + 1 >= min) continue;
                if (m.Rule == "trimmed-mean")
                    throw new Config.ConfigException($"mixing.trim: {m.Trim} trims every value of agent {i}, which has {deg} neighbour(s) on overlay '{o.Key.Split('|')[0]}' (needs degree + 1 > 2 x trim; topology.kind {cfg.Topology.Kind}){hint}");
                throw new Config.ConfigException($"mixing.f: {m.F} is too many for agent {i}, which has {deg} neighbour(s) on overlay '{o.Key.Split('|')[0]}' (krum needs degree + 1 > 2 x f + 2; topology.kind {cfg.Topology.Kind}){hint}");
            }
    }
}
