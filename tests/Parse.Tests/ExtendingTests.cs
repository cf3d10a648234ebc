using System.Collections.Concurrent;
using Parse.Config;
using Parse.Data;
using Parse.Federation.Payload;
using Parse.Federation.Sharing;
using Parse.Federation.Topology;
using Parse.Model;
using Parse.Sample.Extending;
using Parse.Simulation;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Parse.Tests;

/// <summary>Components added from outside the library through <see cref="Components"/>; registries are process-wide, so every name is unique.</summary>
public class ExtendingTests
{
    private static string Unique(string stem) => $"{stem}-{Guid.NewGuid():N}";

    /// <summary>Two vector modalities x (8 wide) and y (6 wide); label = bit seen in x + 2 * bit seen in y.</summary>
    private static DatasetBundle TwoBits(DatasetRequest q)
    {
        MultimodalData Make(int n, int seed)
        {
            var rng = new Random(seed);
            var labels = Enumerable.Range(0, n).Select(_ => rng.Next(4)).ToArray();
            float[] Feat(int width, int bit) => labels.SelectMany(y => Enumerable.Range(0, width)
                .Select(_ => (float)(((y >> bit) & 1) * 2 - 1 + 0.3 * (rng.NextDouble() - 0.5)))).ToArray();
            var views = new Dictionary<string, Tensor> { ["x"] = torch.tensor(Feat(8, 0), [n, 8]), ["y"] = torch.tensor(Feat(6, 1), [n, 6]) };
            return new MultimodalData(views, labels, 4);
        }
        return new DatasetBundle
        {
            Train = Make(q.AgentCount * q.Config.SamplesPerAgent, q.Seed),
            Test = Make(q.Config.TestSamples, q.Seed + 1),
            Modalities = [new ModalitySpec("x", [8]), new ModalitySpec("y", [6])],
        };
    }

    private sealed class TrunksOnly(string name) : ISharingStrategy
    {
        public string Name => name;
        public bool Shares(ParameterGroup group, int round) => group.Role == GroupRole.Trunk;
    }

    [Fact]
    public void Registered_dataset_encoder_and_strategy_are_used_by_a_simulation()
    {
        string data = Unique("test-data"), encoder = Unique("test-tanh"), strategy = Unique("test-trunks-only");
        var datasetRequests = new ConcurrentBag<DatasetRequest>();
        var strategyConfigs = new ConcurrentBag<ExperimentConfig?>();
        int trunksBuilt = 0;
        Components.Datasets.Register(data, q => { datasetRequests.Add(q); return TwoBits(q); }, "two bits, two vectors");
        Components.Encoders.Register(encoder, new EncoderFactory(
            q =>
            {
                Interlocked.Increment(ref trunksBuilt);
                // batched-first: [A, N, in] -> [A, N, hidden], parameters [A, ...]
                return Sequential(("fc", new StackedLinear(q.Agents, q.InputShape.Aggregate(1L, (a, b) => a * b), q.Config.Hidden)), ("tanh", Tanh()));
            },
            q => $"tanh-{q.ShapeText}-h{q.Config.Hidden}"));
        Components.Strategies.Register(strategy, c => { strategyConfigs.Add(c); return new TrunksOnly(strategy); });

        var cfg = ConfigLoader.FromText($$"""
            name: extending-test
            strategy: {{strategy}}
            rounds: 2
            seed: 5
            data: { name: {{data}}, modalities: [x, y], samples_per_agent: 20, test_samples: 64 }
            agents: { count: 6, mix: "2:2:2" }
            model: { latent_dim: 12, split: [4, 4, 4], encoders: { default: { kind: {{encoder}}, hidden: 16 } }, synergy_hidden: 16 }
            train: { batch_size: 8, local_steps: 2 }
            eval: { every: 1, embeddings: false, gradient_conflict: false }
            sim: { parallelism: 2 }
            """);
        using var sim = new Simulator(cfg, ".");
        var delivered = new ConcurrentBag<string>();
        sim.OnDelivered = (_, _, p) => delivered.Add(p.Key);
        var result = sim.Run();

        // the dataset: asked once for 6 agents, its pool is what the agents were given
        var request = Assert.Single(datasetRequests);
        Assert.Equal(6, request.AgentCount);
        Assert.Equal(5, request.Seed);
        Assert.Equal(6 * 20, sim.Data.Train.Count);
        Assert.Equal(64, sim.Data.Test.Count);
        Assert.Equal(6 * 20, sim.Agents.Sum(a => a.Train.Count));

        // the encoder: one (stacked) trunk per held modality of every learner, its signature in the sharing keys
        Assert.Equal(3, sim.Learners.Count);
        Assert.Equal(sim.Learners.Sum(l => l.Modalities.Count), trunksBuilt);
        Assert.Contains(sim.Agents.SelectMany(a => a.Model.Groups), g => g.Name == "enc/x/tanh-8-h16/trunk");
        Assert.Contains(sim.Agents.SelectMany(a => a.Model.Groups), g => g.Name == "enc/y/tanh-6-h16/trunk");

        // the strategy: built from the experiment config; only trunks cross the links
        // (every learner and the setup build one from the same config)
        Assert.NotEmpty(strategyConfigs);
        Assert.All(strategyConfigs, c => Assert.Same(cfg, c));
        Assert.NotEmpty(delivered);
        Assert.All(delivered, k => Assert.Matches(@"^enc/[xy]/tanh-\d+-h16/trunk\|", k));
        Assert.Equal(["trunk"], result.BytesByRole.Keys);
        Assert.True(result.BytesSentTotal > 0);
        Assert.Equal(["x", "x+y", "y"], result.AccuracyByType.Keys);
    }

    [Fact]
    public void Duplicate_and_invalid_names_are_refused()
    {
        var builtIn = Assert.Throws<ArgumentException>(() => Components.Datasets.Register("synthetic-pid", TwoBits));
        Assert.Contains("dataset 'synthetic-pid' is already registered", builtIn.Message);

        string name = Unique("test-strategy");
        Components.Strategies.Register(name, _ => new LocalStrategy());
        var again = Assert.Throws<ArgumentException>(() => Components.Strategies.Register(name, _ => new ParseStrategy()));
        Assert.Contains($"strategy '{name}' is already registered", again.Message);
        Assert.IsType<LocalStrategy>(StrategyRegistry.Create(name));   // the first registration stands

        Assert.Throws<ArgumentException>(() => Components.Topologies.Register("two words", q => new StaticTopology(new Graph(q.AgentCount))));
        Assert.Throws<ArgumentException>(() => Components.Topologies.Register("", q => new StaticTopology(new Graph(q.AgentCount))));
    }

    [Fact]
    public void Unknown_names_are_config_errors_listing_the_registered_ones()
    {
        var e = Assert.Throws<ConfigException>(() => Components.Datasets.Resolve("data.name", "imagenet"));
        Assert.StartsWith("data.name: unknown value 'imagenet' (expected one of: synthetic-pid, av-mnist, multiview-csv", e.Message);
        e = Assert.Throws<ConfigException>(() => StrategyRegistry.Create("fedmagic"));
        Assert.StartsWith("strategy: unknown value 'fedmagic' (expected one of: parse, local, dsgd-task, dsgd-modality, dsgd-hybrid, harmony, centralized", e.Message);
        e = Assert.Throws<ConfigException>(() => TrunkFactory.Create(new EncoderConfig { Kind = "wavenet" }, [4], "a"));
        Assert.StartsWith("model.encoders.a.kind: unknown value 'wavenet' (expected one of: mlp, cnn2d, cnn1d, gru, lstm, transformer", e.Message);
        e = Assert.Throws<ConfigException>(() => PayloadPipeline.Create(["brotli"]));
        Assert.StartsWith("payload.processors: unknown value 'brotli' (expected one of: float16", e.Message);
        e = Assert.Throws<ConfigException>(() => Fusion.Create("trilinear", 2, 4));
        Assert.StartsWith("model.fusion: unknown value 'trilinear' (expected one of: mean, sum, concat, gated, product, attention, bilinear", e.Message);
        e = Assert.Throws<ConfigException>(() => TopologyFactory.Create(new TopologyConfig { Kind = "hypercube" }, 4, 1, "."));
        Assert.StartsWith("topology.kind: unknown value 'hypercube' (expected one of: ring, chordal-ring", e.Message);

        // validation uses the same registries: a name is accepted once registered
        string strategy = Unique("test-late");
        Assert.Contains($"strategy: unknown value '{strategy}'", Assert.Throws<ConfigException>(() => TestConfigs.Load($"strategy={strategy}")).Message);
        Components.Strategies.Register(strategy, _ => new ParseStrategy());
        Assert.Equal(strategy, TestConfigs.Load($"strategy={strategy}").Strategy);
        Assert.Contains(strategy, Components.Strategies.Names);
        Assert.Equal(strategy, Components.Strategies.Entries[^1].Name);
    }

    [Fact]
    public void Fusions_topologies_and_payload_processors_are_extensible_too()
    {
        // fusion: its group key carries the registered name; batched-first, so it trains in stacked batches too
        string fusion = Unique("test-concat");
        Components.Fusions.Register(fusion, q => new ConcatFusion(q.Modalities, q.Width, q.Agents));
        var cfg = TestConfigs.Load($"model.fusion={fusion}", "rounds=1");
        using (var model = new AgentModel(["a", "b"], [new ModalitySpec("a", [4]), new ModalitySpec("b", [4])], 3, cfg.Model, seed: 1, agents: 3))
            Assert.All(Enumerable.Range(0, 3), k => Assert.Contains(model.GroupsOf(k), g => g.Name == $"fusion/{fusion}/a+b"));
        using (var sim = new Simulator(cfg, "."))
        {
            Assert.Equal(3, sim.Batches.Count);
            Assert.All(sim.Run().FinalAccuracy, a => Assert.InRange(a, 0, 1));
        }
        // a component whose parameters lack the leading agent dimension is refused, naming the field
        string flat = Unique("test-flat");
        Components.Fusions.Register(flat, q => new FlatFusion(q.Modalities * q.Width, q.Width));
        var flatCfg = TestConfigs.Load($"model.fusion={flat}");
        var refused = Assert.Throws<ConfigException>(() => new AgentModel(["a", "b"], [new ModalitySpec("a", [4]), new ModalitySpec("b", [4])], 3, flatCfg.Model, seed: 1, agents: 2));
        Assert.StartsWith("model.fusion:", refused.Message);
        Assert.Contains("leading agent dimension", refused.Message);

        // topology: a star around agent 0
        string star = Unique("test-star");
        Components.Topologies.Register(star, q => new StaticTopology(new Graph(q.AgentCount, Enumerable.Range(1, q.AgentCount - 1).Select(i => (0, i)))));
        var g = TopologyFactory.Create(new TopologyConfig { Kind = star }, 5, 1, ".").At(0);
        Assert.Equal(4, g.Degree(0));
        Assert.Equal([0], g.Neighbours(3));

        // payload processor: runs after the built-in validation, in the configured order
        string counter = Unique("test-count");
        var seen = new ConcurrentBag<string>();
        Components.PayloadProcessors.Register(counter, () => new Recording(seen));
        var pipeline = PayloadPipeline.Create(["float16", counter]);
        using var v = torch.ones(3);
        var sent = pipeline.Outgoing(new GroupPayload("k", 0, 0, 1, [v]));
        Assert.Equal(2, sent.BytesPerElement);
        Assert.Equal(["k"], seen);
    }

    /// <summary>Not batched-first: a plain linear map, parameters without the agent dimension.</summary>
    private sealed class FlatFusion : Fusion
    {
        private readonly Module<Tensor, Tensor> proj;
        private readonly int _d;
        public FlatFusion(int inWidth, int d) : base(nameof(FlatFusion)) { _d = d; proj = Linear(inWidth, d); RegisterComponents(); }
        public override long OutDim => _d;
        public override Tensor Fuse(IReadOnlyList<Tensor> slices) => proj.forward(torch.cat(slices.ToArray(), -1));
    }

    private sealed class Recording(ConcurrentBag<string> seen) : IPayloadProcessor
    {
        public GroupPayload Outgoing(GroupPayload payload)
        {
            seen.Add(payload.Key);
            return payload;
        }

        public GroupPayload? Incoming(GroupPayload payload, IReadOnlyList<long[]> expectedShapes, string expectedKey, out RejectReason reason)
        {
            reason = default;
            return payload;
        }
    }

    [Fact]
    public void Encoder_signatures_must_be_one_key_segment()
    {
        string kind = Unique("test-slash");
        Components.Encoders.Register(kind, new EncoderFactory(q => Linear(4, q.Config.Hidden), _ => "bad/signature"));
        var e = Assert.Throws<ConfigException>(() => TrunkFactory.Signature(new EncoderConfig { Kind = kind }, [4], "a"));
        Assert.StartsWith($"model.encoders.a.kind: encoder '{kind}' gave the signature 'bad/signature'", e.Message);
        // without a signature function: the generic one
        Assert.Equal("cnn1d-4-c16-h64-l2", EncoderFactory.DefaultSignature(new EncoderRequest(new EncoderConfig { Kind = "cnn1d" }, [4], "a")));
    }

    [Fact]
    public void The_extending_sample_runs()
    {
        string dir = Path.Combine(Path.GetTempPath(), Unique("parse-extending-sample"));
        try
        {
            var output = new StringWriter();
            var summary = ExtendingSample.Run(output, ["rounds=2", "eval.every=1"], dir);
            Assert.Equal(NoRedundantHeadStrategy.StrategyName, (string?)summary["strategy"]);
            Assert.Equal(TwoSensorDataset.Name, (string?)summary["data"]);
            Assert.True(File.Exists(Path.Combine(dir, "summary.json")));
            string text = output.ToString();
            Assert.Contains("final test accuracy per agent type", text);
            foreach (var type in new[] { "grid", "wave", "grid+wave" }) Assert.Contains($"  {type} ", text);
            // running it again in the same process registers nothing twice
            Assert.Contains(ResidualMlpTrunk.Kind, Components.Encoders.Names);
            SampleComponents.EnsureRegistered();
            Assert.Single(Components.Strategies.Names, n => n == NoRedundantHeadStrategy.StrategyName);
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void The_sample_strategy_keeps_only_the_redundant_head_local()
    {
        SampleComponents.EnsureRegistered();
        var s = StrategyRegistry.Create(NoRedundantHeadStrategy.StrategyName);
        var cfg = TestConfigs.Load();
        using var model = new AgentModel(["a", "b"], [new ModalitySpec("a", [4]), new ModalitySpec("b", [4])], 3, cfg.Model, seed: 1);
        var local = model.GroupsOf(0).Where(g => !s.Shares(g, 0)).Select(g => g.Name).ToList();
        Assert.Equal(["head/redundant"], local);
        Assert.Contains(model.GroupsOf(0), g => g.Role == GroupRole.Redundant && s.Shares(g, 0));   // the redundant projections are shared
    }
}
