using Parse.Config;
using Parse.Simulation;

namespace Parse.Tests;

/// <summary><c>model.ensemble_fit: rotating</c>: the stacked weights cost no training sample.</summary>
public class RotatingEnsembleFitTests
{
    private static ExperimentConfig Rotating(params string[] more) =>
        TestConfigs.Load(["model.ensemble=stacked", "model.ensemble_fit=rotating", "model.ensemble_holdout=0.25", .. more]);

    [Fact]
    public void Rotating_fit_sets_no_sample_aside_and_deals_the_data_into_even_folds()
    {
        using var plain = new Simulator(TestConfigs.Load("rounds=1"), ".");
        using var sim = new Simulator(Rotating("rounds=1"), ".");
        for (int i = 0; i < sim.Agents.Count; i++)
        {
            var a = sim.Agents[i];
            Assert.Null(a.Holdout);
            Assert.Equal(plain.Agents[i].Train.Count, a.Train.Count);
            Assert.Equal(4, a.EnsembleFolds);   // round(1 / 0.25)
            var sizes = Enumerable.Range(0, a.EnsembleFolds).Select(f => Enumerable.Range(0, a.Train.Count).Count(s => a.FoldOf(s) == f)).ToArray();
            Assert.True(sizes.Max() - sizes.Min() <= 1, $"agent {a.Id}: fold sizes {string.Join(", ", sizes)}");
            Assert.Equal(a.Train.Count, sizes.Sum());
        }
    }

    [Fact]
    public void Each_round_trains_without_one_fold_and_the_weights_are_fitted_on_the_fold_the_last_round_left_out()
    {
        using var sim = new Simulator(Rotating("rounds=1"), ".");
        var a = sim.Agents.First(x => x.Modalities.Count > 1);
        int k = a.EnsembleFolds, n = a.Train.Count;
        var trained = new HashSet<long>();
        for (int r = 0; r < 2 * k; r++)
        {
            a.BeginEnsembleRound(r);
            Assert.Equal(r % k, a.LeftOutFold);
            Assert.Equal((r + k - 1) % k, a.FitFold);   // left out of round r - 1: not trained on since the weights were last used
            for (int step = 0; step < 40; step++)
                foreach (long s in a.NextBatchIndices())
                {
                    Assert.NotEqual(r % k, a.FoldOf((int)s));
                    trained.Add(s);
                }
            a.EndEnsembleRound();
            Assert.Equal(-1, a.LeftOutFold);
            Assert.Equal(r % k, a.FitFold);
            // the fit set is exactly that fold's samples
            var fold = Enumerable.Range(0, n).Where(s => a.FoldOf(s) == r % k).ToArray();
            Assert.Equal(fold.Select(s => a.Train.Labels[s]), a.EnsembleFitSet!.Labels);
            foreach (var m in a.Modalities)
                using (var idx = TorchSharp.torch.tensor(fold.Select(s => (long)s).ToArray()))
                using (var rows = a.Train.Views[m].index_select(0, idx))
                    Assert.Equal(rows.data<float>().ToArray(), a.EnsembleFitSet.Views[m].data<float>().ToArray());
        }
        // no sample is lost to training: over the rounds every one of them is in some batch
        Assert.Equal(n, trained.Count);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_run_rotates_the_fold_every_round_and_fits_weights_in_both_learner_layouts(bool batched)
    {
        var cfg = Rotating("rounds=5", $"sim.batch_agents={(batched ? "true" : "false")}");
        using var sim = new Simulator(cfg, ".");
        var result = sim.Run();
        Assert.All(result.FinalAccuracy, acc => Assert.InRange(acc, 0, 1));
        foreach (var a in sim.Agents)
        {
            Assert.Equal(4 % a.EnsembleFolds, a.FitFold);   // rounds 0..4 trained; round 4 left out fold 4 mod K
            Assert.Equal(-1, a.LeftOutFold);
        }
        var multimodal = sim.Agents.First(a => a.Modalities.Count > 1);
        Assert.NotNull(multimodal.Model.EnsembleWeights);
    }

    [Fact]
    public void A_resumed_agent_fits_on_the_fold_its_last_completed_round_left_out()
    {
        using var sim = new Simulator(Rotating("rounds=1"), ".");
        var a = sim.Agents[0];
        int k = a.EnsembleFolds;
        a.ResumeEnsembleFolds(k + 2);   // rounds 0 .. k+1 done: round k+1 left out fold (k+1) mod k = 1
        Assert.Equal(1, a.FitFold);
        Assert.Equal(-1, a.LeftOutFold);
    }

    [Fact]
    public void Batched_and_agent_by_agent_rotating_runs_give_the_same_accuracies()
    {
        IReadOnlyList<double> Run(bool batched)
        {
            using var sim = new Simulator(Rotating("rounds=4", $"sim.batch_agents={(batched ? "true" : "false")}"), ".");
            return sim.Run().FinalAccuracy;
        }
        Assert.Equal(Run(false), Run(true));
    }

    [Fact]
    public void The_rotating_fit_trains_differently_from_the_fixed_holdout()
    {
        IReadOnlyList<double> Run(string fit)
        {
            using var sim = new Simulator(TestConfigs.Load("rounds=3", "model.ensemble=stacked", "model.ensemble_holdout=0.25", $"model.ensemble_fit={fit}"), ".");
            return sim.Run().FinalAccuracy;
        }
        Assert.NotEqual(Run("holdout"), Run("rotating"));
    }

    [Fact]
    public void Unknown_ensemble_fit_is_named()
    {
        var e = Assert.Throws<ConfigException>(() => TestConfigs.Load("model.ensemble=stacked", "model.ensemble_fit=kfold"));
        Assert.Contains("model.ensemble_fit", e.Message);
    }
}
