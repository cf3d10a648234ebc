using Parse.Util;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Parse.Federation.Mixing;

/// <summary>
/// The candidates of a batch of agents for one parameter group: <see cref="Rows"/>[k] is a [B, P] tensor holding the
/// k-th candidate of each of the B agents as one flat row of P values (k = 0: the agent's own values, then its
/// neighbours' in ascending sender order). Every agent of a batch has the same candidate count.
/// </summary>
/// <param name="Rows">n tensors of shape [B, P].</param>
/// <param name="OwnDegrees">Each agent's degree on the group's overlay this round.</param>
/// <param name="SenderDegrees">For each agent, the degrees its n - 1 neighbours reported with their values.</param>
public sealed record CandidateRows(Tensor[] Rows, int[] OwnDegrees, int[][] SenderDegrees)
{
    /// <summary>Number of candidates n per agent.</summary>
    public int Count => Rows.Length;

    /// <summary>Number of agents B.</summary>
    public int Agents => OwnDegrees.Length;

    /// <summary>
    /// Where the agents of the batch sit in a store that stays the same from round to round, for rules that keep
    /// per-agent state across rounds; null when the caller has none.
    /// </summary>
    public RowSlots? Slots { get; init; }

    /// <summary>
    /// The neighbours' rows as one tensor [n - 1, B, P] (its k-th entry is <see cref="Rows"/>[k + 1]), when the caller
    /// gathered them so; null otherwise.
    /// </summary>
    public Tensor? Neighbours { get; init; }
}

/// <summary>
/// The agents of a batch of <see cref="CandidateRows"/> as rows of a store: the stacked parameters of their group
/// (one row per agent of the stacked model), or the group tensors of an agent mixed alone (one row).
/// </summary>
/// <param name="Store">The store's identity (the stacked parameters list, or the agent's group tensors list).</param>
/// <param name="Capacity">Agent slots of the store.</param>
/// <param name="Rows">Each batch agent's slot, in batch order.</param>
/// <param name="Index">The same slots as an Int64 tensor (for <c>index_select</c> / <c>index_copy_</c>).</param>
public sealed record RowSlots(object Store, int Capacity, long[] Rows, Tensor Index);

/// <summary>
/// Base of the robust rules: a rule is one function of the candidate rows (<see cref="Combine"/>) made of row-wise
/// tensor operations, so the same code mixes one agent (<see cref="Mix"/>: B = 1, used by the cluster and by
/// unbatched learners) or every agent of a stacked model at once (<see cref="MixBatch"/>: the simulator with
/// <c>sim.batch_agents</c>). A batch gathers the agents' own rows from the stacked parameters with one
/// <c>index_select</c> per tensor and each neighbour rank's rows with one <c>stack</c> per tensor, applies the rule
/// once, and writes the results back with one <c>index_copy_</c> per tensor. Agents with different candidate counts
/// (degrees, missing payloads) go to separate batches, so no padding or masking enters the arithmetic and a batched
/// agent's result is bit for bit its result alone (tested).
/// </summary>
public abstract class RowMixer : IBatchedMixer
{
    /// <summary>
    /// Most candidate values (B x n x P) gathered at once; larger batches are split by agents. The rules are a few
    /// element-wise passes over the candidates, memory-bound on large tensors: a chunk of 2^17 values (512 KiB) keeps
    /// them in cache (measured with benchmarks/MixBench: 2^14 and 2^16 slower, 2^20 and 2^23 slower than agent by agent).
    /// </summary>
    public const long MaxBatchValues = 1L << 17;

    /// <inheritdoc />
    public abstract string Name { get; }

    /// <summary>The mixed values of every agent of the batch, [B, P]. Row-wise: agent b's result depends on its rows only.</summary>
    protected internal abstract Tensor Combine(CandidateRows c);

    /// <summary>
    /// Called with every batch's candidates and its mixed values [B, P] right after <see cref="Combine"/>, before they
    /// are written back (a <see cref="FallbackMixer"/> keeps its fallback's memory current with it); null: nothing.
    /// </summary>
    internal Action<CandidateRows, Tensor>? AfterCombine { get; set; }

    private Tensor CombineAndReport(CandidateRows c)
    {
        var result = Combine(c);
        AfterCombine?.Invoke(c, result);
        return result;
    }

    /// <inheritdoc />
    public void Mix(IReadOnlyList<Tensor> own, int ownDegree, IReadOnlyList<Contribution> received)
    {
        if (received.Count == 0) return;
        var rows = new Tensor[received.Count + 1];
        rows[0] = Flat(own).unsqueeze(0);
        for (int k = 0; k < received.Count; k++) rows[k + 1] = Flat(received[k].Values).unsqueeze(0);
        using var index = torch.tensor(new[] { 0L }, dtype: ScalarType.Int64);
        var result = CombineAndReport(new CandidateRows(rows, [ownDegree], [received.Select(c => c.SenderDegree).ToArray()]) { Slots = new RowSlots(own, 1, [0], index) });
        WriteBack(own, result[0]);
    }

    /// <inheritdoc />
    public void MixBatch(IReadOnlyList<MixTask> tasks)
    {
        var buckets = new Dictionary<IReadOnlyList<Parameter>, SortedDictionary<int, List<MixTask>>>(ReferenceEqualityComparer.Instance);
        foreach (var t in tasks)
        {
            if (t.Received.Count == 0) continue;
            if (t.Group.Stacked.Count == 0) { Mix(t.Group.Parameters, t.OwnDegree, t.Received); continue; }
            if (!buckets.TryGetValue(t.Group.Stacked, out var byCount)) buckets[t.Group.Stacked] = byCount = new();
            if (!byCount.TryGetValue(t.Received.Count, out var list)) byCount[t.Received.Count] = list = new();
            list.Add(t);
        }
        foreach (var byCount in buckets.Values)
            foreach (var list in byCount.Values)
            {
                list.Sort((a, b) => a.Group.Agent.CompareTo(b.Group.Agent));
                int n = list[0].Received.Count + 1;
                long p = list[0].Group.NumElements;
                int chunk = (int)Math.Clamp(MaxBatchValues / Math.Max(1, n * p), 1, list.Count);
                for (int start = 0; start < list.Count; start += chunk)
                {
                    using var scope = torch.NewDisposeScope();
                    MixStacked(list.GetRange(start, Math.Min(chunk, list.Count - start)));
                }
            }
    }

    /// <summary>Mixes agents of one stacked model with the same candidate count in one call of <see cref="Combine"/>.</summary>
    private void MixStacked(List<MixTask> tasks)
    {
        var store = tasks[0].Group.Stacked;
        int b = tasks.Count, n = tasks[0].Received.Count + 1;
        for (int i = 1; i < b; i++)
            if (tasks[i].Group.Agent == tasks[i - 1].Group.Agent) throw new ArgumentException($"two tasks for agent slot {tasks[i].Group.Agent} of one group", nameof(tasks));
        var slots = tasks.Select(t => (long)t.Group.Agent).ToArray();
        var idx = torch.tensor(slots, dtype: ScalarType.Int64);
        var rows = new Tensor[n];
        rows[0] = Cat(store.Select(s => s.detach().reshape(s.shape[0], -1).index_select(0, idx)).ToList());
        // every neighbour rank of every agent in one tensor [n - 1, B, P] (one stack per parameter tensor), row k a view of it
        var neighbours = Cat(Enumerable.Range(0, store.Count)
            .Select(q => torch.stack(Enumerable.Range(0, n - 1).SelectMany(rank => tasks.Select(t => t.Received[rank].Values[q])).ToArray(), 0)
                .reshape(n - 1, b, -1)).ToList(), dim: 2);
        for (int k = 1; k < n; k++) rows[k] = neighbours.select(0, k - 1);
        var result = CombineAndReport(new CandidateRows(rows, tasks.Select(t => t.OwnDegree).ToArray(),
            tasks.Select(t => t.Received.Select(c => c.SenderDegree).ToArray()).ToArray())
        { Slots = new RowSlots(store, (int)store[0].shape[0], slots, idx), Neighbours = neighbours });
        long offset = 0;
        foreach (var s in store)
        {
            long m = s.numel() / s.shape[0];
            long[] shape = [b, .. s.shape.Skip(1)];
            s.detach().index_copy_(0, idx, result.narrow(1, offset, m).reshape(shape));
            offset += m;
        }
    }

    private static Tensor Cat(List<Tensor> parts, int dim = 1) => parts.Count == 1 ? parts[0] : torch.cat(parts.ToArray(), dim);

    private static Tensor Flat(IReadOnlyList<Tensor> values) =>
        values.Count == 1 ? values[0].detach().reshape(-1) : torch.cat(values.Select(v => v.detach().reshape(-1)).ToArray(), 0);

    /// <summary>Copies the flat vector <paramref name="flat"/> into the group's tensors.</summary>
    private static void WriteBack(IReadOnlyList<Tensor> own, Tensor flat)
    {
        long offset = 0;
        foreach (var p in own)
        {
            long n = p.numel();
            p.copy_(flat.narrow(0, offset, n).view(p.shape));
            offset += n;
        }
    }

    /// <summary>A [B, 1] float tensor of per-agent factors (to scale or divide rows agent by agent).</summary>
    protected static Tensor Column(IEnumerable<double> values, Tensor like) =>
        torch.tensor(values.Select(v => (float)v).ToArray(), dtype: ScalarType.Float32).reshape(-1, 1).to_type(like.dtype);

    /// <summary>Squared L2 distance between two candidate rows, per agent: [B].</summary>
    protected static Tensor SquaredDistance(Tensor a, Tensor b)
    {
        using var d = a.sub(b);
        using var sq = d.Squared();
        return sq.sum([1]);
    }

    /// <summary>
    /// Element-wise sum of the rows, in order (so that a sum over k agents is the same sequence of additions whatever B).
    /// With <paramref name="consume"/>, each row is disposed once added (rows made for the sum: keeps a batch's
    /// temporaries few, so the allocator reuses their memory).
    /// </summary>
    protected static Tensor SumInOrder(IEnumerable<Tensor> rows, bool consume = false)
    {
        Tensor? acc = null;
        foreach (var r in rows)
        {
            if (acc is null) { acc = consume ? r : r.clone(); continue; }
            acc.add_(r, ScalarOps.One);
            if (consume) r.Dispose();
        }
        return acc ?? throw new ArgumentException("no rows", nameof(rows));
    }

    /// <summary>Row-wise L2 norm [B] of a [B, P] tensor, without keeping the squares.</summary>
    protected static Tensor RowNorm(Tensor x)
    {
        using var sq = x.Squared();
        using var s = sq.sum([1]);
        return s.sqrt();
    }
}
