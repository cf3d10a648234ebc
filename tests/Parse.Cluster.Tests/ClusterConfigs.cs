namespace Parse.Cluster.Tests;

/// <summary>Small experiments for the multi-process tests.</summary>
internal static class ClusterConfigs
{
    /// <summary>6 agents (2:2:2, interleaved a, b, a+b) on a ring, small synthetic-pid.</summary>
    public const string Small = """
        name: cluster-test
        strategy: parse
        rounds: 6
        seed: 3
        data: { name: synthetic-pid, modalities: [a, b], samples_per_agent: 64, test_samples: 256, noise: 0.5 }
        agents: { count: 6, mix: "2:2:2" }
        model: { latent_dim: 24, split: [8, 8, 8], encoders: { default: { kind: mlp, hidden: 32, layers: 1 } }, synergy_hidden: 32 }
        train: { batch_size: 16, local_steps: 4 }
        eval: { every: 3 }
        sim: { parallelism: 1 }
        timing: { deadline_ms: 30000 }
        cluster: { discovery_quiet_ms: 800, discovery_timeout_ms: 60000, linger_ms: 5000, failure_detection_ms: 2000 }
        """;

    public static string Write(string dir, string text = Small)
    {
        string path = Path.Combine(dir, "exp.yaml");
        File.WriteAllText(path, text);
        return path;
    }
}
