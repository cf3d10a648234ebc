using Parse.Config;
using Parse.Simulation;
using Parse.Training;

namespace Parse.Tests;

public class LearningRateScheduleTests
{
    [Fact]
    public void Constant_schedule_keeps_the_rate()
    {
        var t = new TrainConfig { Lr = 0.01 };
        for (int r = 0; r < 10; r++) Assert.Equal(0.01, LearningRateSchedule.Rate(t, r, 10));
    }

    [Fact]
    public void Cosine_schedule_holds_then_decays_to_the_final_share()
    {
        var t = new TrainConfig { Lr = 0.01, LrSchedule = "cosine", LrDecayStart = 0.5, LrFinal = 0.1 };
        const int rounds = 81;
        for (int r = 0; r <= 40; r++) Assert.Equal(1.0, LearningRateSchedule.Factor(t, r, rounds));
        Assert.Equal(0.1, LearningRateSchedule.Factor(t, rounds - 1, rounds), 12);
        Assert.Equal(0.55, LearningRateSchedule.Factor(t, 60, rounds), 12);   // half way through the decay
        for (int r = 41; r < rounds; r++)
            Assert.True(LearningRateSchedule.Factor(t, r, rounds) < LearningRateSchedule.Factor(t, r - 1, rounds));
        Assert.Equal(0.1, LearningRateSchedule.Factor(t, rounds + 5, rounds), 12);   // past the last round: stays at the end
    }

    [Theory]
    [InlineData("adam")]
    [InlineData("adam-torch")]
    [InlineData("sgd")]
    public void Zero_rate_in_the_last_round_leaves_a_local_model_unchanged(string optimizer)
    {
        // full cosine to 0 over 3 rounds: factors 1, 0.5, 0. Local agents do not mix, so after the round at rate 0 every
        // agent's test loss is exactly that of the round before; with a constant rate it is not (the check is not vacuous)
        IReadOnlyList<double>[] Losses(string schedule)
        {
            var cfg = TestConfigs.Load("rounds=3", "strategy=local", "eval.every=1", $"train.optimizer={optimizer}",
                $"train.lr_schedule={schedule}", "train.lr_decay_start=0", "train.lr_final=0");
            using var sim = new Simulator(cfg, ".");
            var result = sim.Run();
            return [.. Enumerable.Range(1, 3).Select(r => (IReadOnlyList<double>)result.Metrics.Where(m => m.Round == r).OrderBy(m => m.Agent).Select(m => m.TestLoss).ToList())];
        }
        var cosine = Losses("cosine");
        Assert.Equal(cosine[1], cosine[2]);
        Assert.NotEqual(cosine[0], cosine[1]);
        var constant = Losses("constant");
        Assert.NotEqual(constant[1], constant[2]);
        Assert.Equal(constant[0], cosine[0]);   // the first round is at the full rate in both
    }

    [Theory]
    [InlineData("train.lr_schedule=step", "train.lr_schedule")]
    [InlineData("train.lr_decay_start=1", "train.lr_decay_start")]
    [InlineData("train.lr_final=1.5", "train.lr_final")]
    public void Bad_schedule_names_the_field(string setting, string field)
    {
        var e = Assert.Throws<ConfigException>(() => TestConfigs.Load(setting));
        Assert.Contains(field, e.Message);
    }
}
