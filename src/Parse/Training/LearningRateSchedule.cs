using Parse.Config;

namespace Parse.Training;

/// <summary>
/// The learning rate of each round (<c>train.lr_schedule</c>): <c>constant</c> keeps <c>train.lr</c>; <c>cosine</c>
/// keeps it until the share <c>train.lr_decay_start</c> of the rounds has been played, then lowers it along a half
/// cosine to <c>train.lr_final</c> x <c>train.lr</c> at the last round. The rate depends only on the round number, so
/// both runtimes, and a run resumed from a checkpoint, train with the same rates.
/// </summary>
public static class LearningRateSchedule
{
    /// <summary>Accepted <c>train.lr_schedule</c> values.</summary>
    public static IReadOnlyList<string> Kinds { get; } = ["constant", "cosine"];

    /// <summary>The factor on <c>train.lr</c> for 0-based round <paramref name="round"/> of <paramref name="rounds"/>.</summary>
    public static double Factor(TrainConfig train, int round, int rounds)
    {
        if (train.LrSchedule != "cosine" || rounds <= 1) return 1.0;
        double progress = Math.Clamp(round / (double)(rounds - 1), 0, 1);
        if (progress <= train.LrDecayStart) return 1.0;
        double q = (progress - train.LrDecayStart) / (1 - train.LrDecayStart);
        return train.LrFinal + (1 - train.LrFinal) * (1 + Math.Cos(Math.PI * q)) / 2;
    }

    /// <summary>The learning rate for 0-based round <paramref name="round"/> of <paramref name="rounds"/>.</summary>
    public static double Rate(TrainConfig train, int round, int rounds) => train.Lr * Factor(train, round, rounds);
}
