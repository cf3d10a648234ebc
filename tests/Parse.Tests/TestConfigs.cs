using Parse.Config;

namespace Parse.Tests;

/// <summary>Small, fast experiment configs for tests.</summary>
internal static class TestConfigs
{
    /// <summary>12 agents (4:4:4) on a ring, small synthetic-pid, few rounds.</summary>
    public const string Small = """
        name: test
        strategy: parse
        rounds: 4
        seed: 3
        data: { name: synthetic-pid, modalities: [a, b], samples_per_agent: 24, test_samples: 256, noise: 0.5 }
        agents: { count: 12, mix: "4:4:4" }
        model: { latent_dim: 24, split: [8, 8, 8], encoders: { default: { kind: mlp, hidden: 32, layers: 1 } }, synergy_hidden: 32 }
        train: { batch_size: 16, local_steps: 2 }
        eval: { every: 2 }
        sim: { parallelism: 1 }
        """;

    public static ExperimentConfig Load(params string[] overrides) => ConfigLoader.FromText(Small, overrides);
}
