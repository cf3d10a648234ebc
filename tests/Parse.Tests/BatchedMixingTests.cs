using Parse.Federation.Mixing;
using Parse.Model;
using Parse.Simulation;
using Parse.Util;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Parse.Tests;

/// <summary>
/// The robust rules mixed over the stacked store (all agents of a model in one call) give every agent exactly what the
/// rule gives it alone, whatever the agents' degrees.
/// </summary>
public class BatchedMixingTests
{
    private static IEnumerable<IBatchedMixer> Rules() =>
    [
        new MedianMixer(), new TrimmedMeanMixer(1), new TrimmedMeanMixer(2), new KrumMixer(1, multi: false),
        new KrumMixer(1, multi: true), new ClippedGossipMixer(null), new ClippedGossipMixer(0.5),
        new ClippedGossipMixer(null, ClipRadius.OwnHistory), new ClippedGossipMixer(null, ClipRadius.OwnHistory, 1.0, drop: true),
        // mixing.fallback: agents with too few candidates mixed by another rule (own-history: memory kept in both branches)
        new FallbackMixer(new TrimmedMeanMixer(2), 5, new ClippedGossipMixer(null, ClipRadius.OwnHistory, 2.0, drop: true)),
        new FallbackMixer(new KrumMixer(1, multi: false), 5, new ClippedGossipMixer(null, ClipRadius.OwnHistory)),
        new FallbackMixer(new KrumMixer(1, multi: true), 5, new MedianMixer()),
        new FallbackMixer(new TrimmedMeanMixer(1), 3, new MetropolisMixer()),
    ];

    /// <summary>A stacked store of <paramref name="agents"/> agents: a [A, 3, 4] weight and an [A, 4] bias.</summary>
    private static List<Parameter> Store(int agents, Random rng)
    {
        Tensor Draw(params long[] shape) => torch.tensor(Enumerable.Range(0, (int)shape.Aggregate(1L, (a, b) => a * b))
            .Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray()).reshape(shape);
        return [new Parameter(Draw(agents, 3, 4), requires_grad: true), new Parameter(Draw(agents, 4), requires_grad: true)];
    }

    private static ParameterGroup GroupOf(List<Parameter> store, int agent) =>
        new("head/redundant", GroupRole.Redundant, null, store.Select(p => p.detach().select(0, agent)).ToList(), store, agent);

    /// <summary>
    /// Random neighbourhoods: agent i receives 0..7 contributions (so candidate counts differ across the batch), from
    /// neighbours of random degree, with some values far out (an attacker's), on two stores (two learners).
    /// </summary>
    [Fact]
    public void Every_rule_batched_over_the_stacked_store_equals_the_rule_agent_by_agent()
    {
        using var noGrad = torch.no_grad();
        foreach (var rule in Rules())
            for (int seed = 0; seed < 3; seed++)
            {
                var rng = new Random(seed * 31 + 7);
                var stores = new[] { Store(11, rng), Store(5, rng) };
                var reference = stores.Select(s => s.Select(p => new Parameter(p.detach().clone(), requires_grad: false)).ToList()).ToArray();
                var groups = stores.Select(s => Enumerable.Range(0, (int)s[0].shape[0]).Select(a => GroupOf(s, a)).ToArray()).ToArray();
                var alone = reference.Select(s => Enumerable.Range(0, (int)s[0].shape[0]).Select(a => GroupOf(s, a)).ToArray()).ToArray();
                // three rounds, with the same "local training" step on both between them: rules that remember per-agent state
                // (the own-history radius) read it from the stacked store in one path and from the agent's tensors in the other
                for (int round = 0; round < 3; round++)
                {
                    if (round > 0)
                        for (int s = 0; s < stores.Length; s++)
                            for (int q = 0; q < 2; q++)
                            {
                                using var step = torch.randn(stores[s][q].shape, generator: new torch.Generator((ulong)(seed * 100 + round * 10 + s * 2 + q))).Times(0.05);
                                stores[s][q].detach().add_(step);
                                reference[s][q].detach().add_(step);
                            }
                    var tasks = new List<MixTask>();
                    var single = new List<(ParameterGroup Group, int Degree, List<Contribution> Received)>();
                    for (int s = 0; s < stores.Length; s++)
                        for (int a = 0; a < stores[s][0].shape[0]; a++)
                        {
                            int count = rng.Next(0, 8);
                            var received = Enumerable.Range(0, count).Select(k =>
                            {
                                double spread = rng.NextDouble() < 0.2 ? 100 : 2;
                                Tensor V(params long[] shape) => torch.tensor(Enumerable.Range(0, (int)shape.Aggregate(1L, (x, y) => x * y))
                                    .Select(_ => (float)((rng.NextDouble() - 0.5) * spread)).ToArray()).reshape(shape);
                                return new Contribution(100 + k, rng.Next(1, 9), [V(3, 4), V(4)], 0);
                            }).ToList();
                            int degree = count + rng.Next(0, 2);   // sometimes one neighbour missing
                            tasks.Add(new MixTask(groups[s][a], degree, received));
                            single.Add((alone[s][a], degree, received));
                        }
                    rule.MixBatch(tasks.OrderBy(_ => rng.Next()).ToList());
                    foreach (var (g, degree, received) in single) rule.Mix(g.Parameters, degree, received);
                    for (int s = 0; s < stores.Length; s++)
                        for (int q = 0; q < 2; q++)
                        {
                            var batched = stores[s][q].detach();
                            var one = reference[s][q].detach();
                            Assert.True(batched.eq(one).all().item<bool>(),
                                $"{rule.Name} (seed {seed}, round {round}, store {s}, tensor {q}): largest difference {batched.sub(one).abs().max().item<float>()}");
                        }
                }
                // the rule changed something (the test is not comparing two untouched stores)
                Assert.False(stores[0][0].detach().eq(Store(11, new Random(seed * 31 + 7))[0].detach()).all().item<bool>(), rule.Name);
            }
    }

    [Fact]
    public void A_batch_larger_than_the_gather_budget_is_split_and_still_equal()
    {
        using var noGrad = torch.no_grad();
        // 3 candidates of 2^21 values: a batch of 2 agents exceeds MaxBatchValues and is mixed in two chunks
        long width = 1L << 21;
        Assert.True(2 * 3 * width > RowMixer.MaxBatchValues);
        var store = new List<Parameter> { new(torch.randn(2, width), requires_grad: false) };
        var reference = store.Select(p => new Parameter(p.detach().clone(), requires_grad: false)).ToList();
        var received = Enumerable.Range(0, 2).Select(k => new Contribution(10 + k, 2, [torch.randn(width)], 0)).ToList();
        var mixer = new MedianMixer();
        mixer.MixBatch([.. Enumerable.Range(0, 2).Select(a => new MixTask(new ParameterGroup("g", GroupRole.Trunk, "a", [store[0].detach().select(0, a)], store, a), 2, received))]);
        for (int a = 0; a < 2; a++) mixer.Mix([reference[0].detach().select(0, a)], 2, received);
        Assert.True(store[0].eq(reference[0]).all().item<bool>());
    }

    /// <summary>End to end: a run on a random graph (agents of differing degrees) is identical with and without batched mixing.</summary>
    [Theory]
    [InlineData("median")]
    [InlineData("trimmed-mean")]
    [InlineData("multi-krum")]
    [InlineData("clipped-gossip")]
    [InlineData("clipped-gossip", "own-history", "drop")]
    [InlineData("trimmed-mean", "own-history", "drop", "clipped-gossip", "mixing.trim=2")]
    [InlineData("krum", "own-history", "clip", "clipped-gossip", "mixing.f=1")]
    public void A_simulation_with_batched_robust_mixing_equals_agent_by_agent_mixing(string rule, string radius = "median", string outliers = "clip",
        string fallback = "refuse", string extra = "mixing.trim=1")
    {
        string[] sets = [$"mixing.rule={rule}", $"mixing.radius={radius}", $"mixing.outliers={outliers}", "topology.kind=erdos-renyi", "topology.p=0.6", "mixing.trim=1", "mixing.f=0",
            "attack.kind=sign-flip", "attack.fraction=0.2", "sim.parallelism=2", "rounds=4", $"mixing.fallback={fallback}", extra];
        SimulationResult Run(bool batched)
        {
            using var sim = new Simulator(TestConfigs.Load(sets), ".") { BatchedMixing = batched };
            Assert.NotEmpty(sim.Batches);
            return sim.Run();
        }
        var a = Run(true);
        var b = Run(false);
        Assert.Equal(b.Metrics.Select(m => (m.Agent, m.Round, m.Accuracy, m.TestLoss, m.TrainLoss)), a.Metrics.Select(m => (m.Agent, m.Round, m.Accuracy, m.TestLoss, m.TrainLoss)));
    }
}
