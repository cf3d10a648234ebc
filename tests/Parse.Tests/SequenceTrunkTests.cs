using Parse.Config;
using Parse.Model;
using Parse.Util;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Parse.Tests;

/// <summary>
/// The sequence encoders (gru, lstm, transformer) and the mlp with explicit widths: the recurrent trunks compute what
/// TorchSharp's <c>nn.GRU</c> / <c>nn.LSTM</c> compute with the same weights, every trunk is batched-first (a stacked
/// agent computes what it computes alone), gradients are finite, and a GRU learns an order-dependent task.
/// </summary>
public class SequenceTrunkTests
{
    /// <summary>Copies the batched trunk's single-agent weights into a TorchSharp recurrent module (names weight_ih_l0, ...).</summary>
    private static void CopyInto(Module trunk, Module native)
    {
        using var noGrad = torch.no_grad();
        var ours = trunk.parameters().ToList();                      // per layer: w_ih, w_hh, b_ih, b_hh (as ParameterLists, in order)
        var mine = new Dictionary<string, Tensor>();
        var named = trunk.named_parameters().ToList();
        foreach (var (name, p) in named)
        {
            // names like "w_ih.0" or "core.w_ih.0"
            string[] parts = name.Split('.');
            string kind = parts[^2] switch { "w_ih" => "weight_ih", "w_hh" => "weight_hh", "b_ih" => "bias_ih", "b_hh" => "bias_hh", _ => throw new InvalidOperationException(name) };
            mine[$"{kind}_l{parts[^1]}"] = p[0];
        }
        foreach (var (name, p) in native.named_parameters()) p.copy_(mine[name]);
        Assert.Equal(ours.Count, native.parameters().Count());
    }

    [Fact]
    public void The_gru_trunk_computes_what_nn_GRU_computes()
    {
        torch.manual_seed(3);
        using var trunk = new GruTrunk([7, 5], "audio", hidden: 6, layers: 2);
        using var native = GRU(5, 6, numLayers: 2, batchFirst: true);
        CopyInto(trunk, native);
        using var x = torch.randn(4, 7, 5);
        using var ours = trunk.forward(x.unsqueeze(0)).squeeze(0);             // [N, H]: final state of the last layer
        var (output, hn) = native.forward(x);
        Assert.True(ours.allclose(hn[1], rtol: 1e-4, atol: 1e-5));
        // pool: mean is the mean of the last layer's outputs over time
        using var pooled = new GruTrunk([7, 5], "audio", hidden: 6, layers: 2, meanPool: true);
        using (torch.no_grad()) foreach (var (p, q) in pooled.parameters().Zip(trunk.parameters())) p.copy_(q);
        using var mean = pooled.forward(x.unsqueeze(0)).squeeze(0);
        Assert.True(mean.allclose(output.mean([1]), rtol: 1e-4, atol: 1e-5));
    }

    [Fact]
    public void The_lstm_trunk_computes_what_nn_LSTM_computes()
    {
        torch.manual_seed(4);
        using var trunk = new LstmTrunk([6, 3], "audio", hidden: 5, layers: 1);
        using var native = LSTM(3, 5, numLayers: 1, batchFirst: true);
        CopyInto(trunk, native);
        using var x = torch.randn(3, 6, 3);
        using var ours = trunk.forward(x.unsqueeze(0)).squeeze(0);
        var (_, hn, _) = native.forward(x);
        Assert.True(ours.allclose(hn[0], rtol: 1e-4, atol: 1e-5));
    }

    public static TheoryData<string> Kinds => new() { "gru", "lstm", "lstm-mean", "transformer", "mlp-widths", "cnn1d" };

    private static EncoderConfig Config(string kind) => kind switch
    {
        "mlp-widths" => new EncoderConfig { Kind = "mlp", Widths = [24, 12], Hidden = 8 },
        "lstm-mean" => new EncoderConfig { Kind = "lstm", Hidden = 8, Layers = 2, Pool = "mean" },
        _ => new EncoderConfig { Kind = kind, Hidden = 8, Layers = 2, Heads = 2, Channels = 4 },
    };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Every_kind_is_batched_first_and_gets_finite_gradients(string kind)
    {
        torch.set_num_threads(1);
        var cfg = Config(kind);
        long[] shape = [9, 3];
        using var one = TrunkFactory.Create(cfg, shape, "s", agents: 1);
        using var three = TrunkFactory.Create(cfg, shape, "s", agents: 3);
        using (torch.no_grad())
            foreach (var (p1, p3) in one.parameters().Zip(three.parameters()))
            {
                Assert.Equal(3, p3.shape[0]);
                Assert.Equal(p1.shape[1..], p3.shape[1..]);
                p3.copy_(p1.expand(p3.shape));                             // every agent starts as the single one
            }
        using var scope = torch.NewDisposeScope();
        var x = torch.randn(5, 9, 3);
        var alone = one.forward(x.unsqueeze(0));
        Assert.Equal(new long[] { 1, 5, 8 }, alone.shape);
        var stacked = three.forward(torch.stack([x, x, x], 0));
        Assert.Equal(new long[] { 3, 5, 8 }, stacked.shape);
        for (int k = 0; k < 3; k++) Assert.True(stacked[k].allclose(alone[0], rtol: 1e-4, atol: 1e-5), $"{kind}: agent {k} differs from the agent alone");
        using (Stacked.Only([2]))
            Assert.True(three.forward(x.unsqueeze(0))[0].allclose(alone[0], rtol: 1e-4, atol: 1e-5), $"{kind}: a selected agent computes alone");

        stacked.sum().backward();
        foreach (var (name, p) in three.named_parameters())
        {
            Assert.NotNull(p.grad);
            Assert.True(torch.isfinite(p.grad!).all().item<bool>(), $"{kind}: gradient of {name} is not finite");
        }
        Assert.Contains(three.parameters(), p => p.grad!.abs().sum().item<float>() > 0);
    }

    [Fact]
    public void A_gru_learns_which_of_two_markers_came_first()
    {
        // label 1 when the marker in channel 0 comes before the one in channel 1: same values, different order
        torch.set_num_threads(1);
        using var scope = torch.NewDisposeScope();
        var rng = new Random(5);
        int n = 128, t = 12;
        var data = new float[n * t * 2];
        var labels = new long[n];
        for (int i = 0; i < n; i++)
        {
            int a = rng.Next(t), b = rng.Next(t - 1);
            if (b >= a) b++;
            data[(i * t + a) * 2] = 1;
            data[(i * t + b) * 2 + 1] = 1;
            labels[i] = a < b ? 1 : 0;
        }
        var x = torch.tensor(data, [1, n, t, 2]);
        var y = torch.tensor(labels);
        torch.manual_seed(2);
        var trunk = new GruTrunk([t, 2], "s", hidden: 16, layers: 1);
        var head = new StackedLinear(1, 16, 2);
        var ps = trunk.parameters().Concat(head.parameters()).ToList();
        using var opt = optim.Adam(ps, lr: 0.02);
        double first = 0, last = 0;
        for (int step = 0; step < 150; step++)
        {
            using var s = torch.NewDisposeScope();
            opt.zero_grad();
            var loss = functional.cross_entropy(head.forward(trunk.forward(x)).squeeze(0), y);
            loss.backward();
            opt.step();
            if (step == 0) first = loss.item<float>();
            last = loss.item<float>();
        }
        using var noGrad = torch.no_grad();
        double acc = head.forward(trunk.forward(x)).squeeze(0).argmax(-1).eq(y).to_type(ScalarType.Float32).mean().item<float>();
        Assert.True(acc > 0.9 && last < first / 3, $"GRU did not learn the order task: accuracy {acc:F3}, loss {first:F3} -> {last:F3}");
        trunk.Dispose();
        head.Dispose();
    }

    [Fact]
    public void A_sequence_encoder_on_a_flat_modality_names_the_field_and_the_shape()
    {
        // synthetic-pid modalities are flat vectors: a gru cannot read them
        var e = Assert.Throws<ConfigException>(() => Run(TestConfigs.Load("model.encoders={default: {kind: mlp, hidden: 16, layers: 1}, a: {kind: gru}}", "rounds=1")));
        Assert.StartsWith("model.encoders.a.kind:", e.Message);
        Assert.Contains("modality 'a'", e.Message);
        Assert.Contains("[T,F]", e.Message);

        var typed = Assert.Throws<ConfigException>(() => Run(TestConfigs.Load(
            "agents.types=[a, {modalities: b, encoders: {b: {kind: transformer, hidden: 16, heads: 2}}}, a+b]", "rounds=1")));
        Assert.StartsWith("agents.types[1].encoders.b.kind:", typed.Message);
        Assert.Contains("modality 'b'", typed.Message);
    }

    private static void Run(ExperimentConfig cfg)
    {
        using var sim = new Simulation.Simulator(cfg, Directory.GetCurrentDirectory());
        sim.Run();
    }
}
