using Parse.Config;
using Parse.Model;
using Parse.Simulation;

namespace Parse.Tests;

public class EnsembleTests
{
    /// <summary>
    /// Three heads on 4 classes: a calibrated informative head (0.7 on the true class), an overconfident head that is
    /// wrong half of the time (0.97 on its guess) and an uninformative head (uniform).
    /// </summary>
    private static (double[] LogProbs, int[] Labels) Heads(int n, int seed)
    {
        const int heads = 3, classes = 4;
        var rng = new Random(seed);
        var labels = Enumerable.Range(0, n).Select(_ => rng.Next(classes)).ToArray();
        var lp = new double[heads * n * classes];
        for (int i = 0; i < n; i++)
        {
            int guess = rng.NextDouble() < 0.5 ? labels[i] : (labels[i] + 1 + rng.Next(classes - 1)) % classes;
            for (int c = 0; c < classes; c++)
            {
                lp[(0 * n + i) * classes + c] = Math.Log(c == labels[i] ? 0.7 : 0.1);
                lp[(1 * n + i) * classes + c] = Math.Log(c == guess ? 0.97 : 0.01);
                lp[(2 * n + i) * classes + c] = Math.Log(0.25);
            }
        }
        return (lp, labels);
    }

    private static (double Nll, double Accuracy) Score(double[] lp, int[] labels, double[] w, bool renormalize)
    {
        int n = labels.Length, classes = 4, heads = w.Length;
        double nll = 0;
        int correct = 0;
        for (int i = 0; i < n; i++)
        {
            var z = Enumerable.Range(0, classes).Select(c => Enumerable.Range(0, heads).Sum(h => w[h] * lp[(h * n + i) * classes + c])).ToArray();
            double lse = renormalize ? Math.Log(z.Sum(v => Math.Exp(v - z.Max()))) + z.Max() : 0;
            nll += lse - z[labels[i]];
            if (Array.IndexOf(z, z.Max()) == labels[i]) correct++;
        }
        return (nll / n, correct / (double)n);
    }

    [Fact]
    public void Stacked_weights_silence_an_overconfident_head_and_beat_the_plain_mean_on_new_samples()
    {
        var (lp, labels) = Heads(200, 1);
        var w = StackedWeights.Fit(lp, 3, 200, 4, labels);
        Assert.All(w, x => Assert.True(x >= 0));
        Assert.True(w[0] > 0.5, $"informative head weight {w[0]:F3}");
        Assert.True(w[1] < 0.2 * w[0], $"overconfident head {w[1]:F3} vs informative {w[0]:F3}");

        // on fresh samples from the same heads, the fitted ensemble beats the plain mean of log-probabilities
        var (lpTest, labelsTest) = Heads(2000, 2);
        var stacked = Score(lpTest, labelsTest, w, renormalize: true);
        var mean = Score(lpTest, labelsTest, [1 / 3.0, 1 / 3.0, 1 / 3.0], renormalize: true);
        Assert.True(stacked.Accuracy > mean.Accuracy + 0.1, $"stacked {stacked.Accuracy:F3} vs mean {mean.Accuracy:F3}");
        Assert.True(stacked.Nll < mean.Nll - 0.2, $"stacked NLL {stacked.Nll:F3} vs mean {mean.Nll:F3}");

        // optimality (the objective is convex): no weight moved by +-0.05 lowers the training objective
        double Obj(double[] x) => Score(lp, labels, x, renormalize: true).Nll + 1e-3 * x.Sum(v => v * v);
        double best = Obj(w);
        for (int h = 0; h < 3; h++)
            foreach (double d in new[] { -0.05, 0.05 })
            {
                var x = (double[])w.Clone();
                x[h] = Math.Max(0, x[h] + d);
                Assert.True(Obj(x) >= best - 1e-6, $"moving head {h} by {d} lowers the objective");
            }
    }

    [Fact]
    public void Stacked_ensemble_holds_out_local_samples_and_fits_weights()
    {
        var plain = TestConfigs.Load("rounds=1");
        var cfg = TestConfigs.Load("rounds=1", "model.ensemble=stacked", "model.ensemble_holdout=0.25");
        using var simPlain = new Simulator(plain, ".");
        using var sim = new Simulator(cfg, ".");
        for (int i = 0; i < sim.Agents.Count; i++)
        {
            var a = sim.Agents[i];
            int all = simPlain.Agents[i].Train.Count;
            Assert.NotNull(a.Holdout);
            Assert.Equal(all, a.Train.Count + a.Holdout!.Count);
            Assert.Equal(Math.Max(4, (int)Math.Round(0.25 * all)), a.Holdout.Count);
            Assert.Null(simPlain.Agents[i].Holdout);
        }
        var result = sim.Run();
        Assert.All(result.FinalAccuracy, acc => Assert.InRange(acc, 0, 1));
        var multimodal = sim.Agents.First(a => a.Modalities.Count > 1);
        Assert.NotNull(multimodal.Model.EnsembleWeights);
        Assert.Equal(multimodal.Model.HeadNames.OrderBy(x => x), multimodal.Model.EnsembleWeights!.Keys.OrderBy(x => x));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Stacked_ensemble_training_does_not_depend_on_when_the_run_evaluates(bool batched)
    {
        // the fitted weights feed the training loss: they are fitted on the training side, so two runs that differ
        // only in eval.every train identically (the same loss every round, the same final model)
        (List<double> Losses, IReadOnlyList<double> Final) Run(int every)
        {
            var cfg = TestConfigs.Load("rounds=5", "model.ensemble=stacked", "model.ensemble_holdout=0.25", $"eval.every={every}",
                $"sim.batch_agents={(batched ? "true" : "false")}");
            using var sim = new Simulator(cfg, ".");
            var losses = new List<double>();
            var result = sim.Run(new SyncProgress(p => losses.Add(p.MeanTrainLoss)));
            return (losses, result.FinalAccuracy);
        }
        var often = Run(1);
        var rarely = Run(5);
        Assert.Equal(5, often.Losses.Count);
        Assert.Equal(often.Losses, rarely.Losses);
        Assert.Equal(often.Final, rarely.Final);
    }

    /// <summary>An <see cref="IProgress{T}"/> that reports on the calling thread (Progress&lt;T&gt; posts to the thread pool).</summary>
    private sealed class SyncProgress(Action<RoundProgress> report) : IProgress<RoundProgress>
    {
        public void Report(RoundProgress value) => report(value);
    }

    [Fact]
    public void Unknown_ensemble_and_bad_holdout_are_named()
    {
        var e = Assert.Throws<ConfigException>(() => TestConfigs.Load("model.ensemble=vote"));
        Assert.Contains("model.ensemble", e.Message);
        e = Assert.Throws<ConfigException>(() => TestConfigs.Load("model.ensemble=stacked", "model.ensemble_holdout=0.7"));
        Assert.Contains("model.ensemble_holdout", e.Message);
    }
}
