using System.Globalization;
using System.Text.Json.Nodes;
using Parse.Config;
using Parse.Simulation;

namespace Parse.Sample.Extending;

/// <summary>Registers the sample's components and runs a short experiment that uses all three of them.</summary>
public static class ExtendingSample
{
    /// <summary>
    /// The experiment: 9 agents (3 grid-only, 3 wave-only, 3 with both) on a ring, sharing by the custom strategy,
    /// the grid encoded by the built-in cnn2d trunk and the wave by the custom residual-mlp trunk.
    /// </summary>
    public const string Config = """
        name: extending-sample
        strategy: parse-no-redundant-head
        rounds: 12
        seed: 7
        data: { name: two-sensors, modalities: [grid, wave], samples_per_agent: 64, test_samples: 512, noise: 0.6 }
        agents: { count: 9, mix: "3:3:3" }
        model:
          latent_dim: 24
          split: [8, 8, 8]
          encoders:
            grid: { kind: cnn2d, channels: 8, hidden: 32, layers: 1 }
            default: { kind: residual-mlp, hidden: 32, layers: 2 }
          fusion: concat
          synergy_hidden: 32
        train: { lr: 0.01, batch_size: 32, local_steps: 5 }
        topology: { kind: ring }
        eval: { every: 4, embeddings: false, gradient_conflict: false }
        sim: { parallelism: 2 }
        """;

    /// <summary>
    /// Registers the components, loads <see cref="Config"/> with <paramref name="overrides"/> (<c>key=value</c>,
    /// as <c>parse run --set</c>), runs it, writes the run directory <paramref name="outDir"/> (default
    /// runs/extending-sample-TIMESTAMP) and prints the final accuracy per agent type to <paramref name="output"/>.
    /// Returns the run summary (the content of summary.json).
    /// </summary>
    public static JsonObject Run(TextWriter output, IEnumerable<string>? overrides = null, string? outDir = null)
    {
        // 1. register first: loading a config checks every name against the registries
        SampleComponents.EnsureRegistered();
        output.WriteLine($"datasets:   {string.Join(", ", Components.Datasets.Names)}");
        output.WriteLine($"encoders:   {string.Join(", ", Components.Encoders.Names)}");
        output.WriteLine($"strategies: {string.Join(", ", Components.Strategies.Names)}");

        // 2. load and validate the config, then run it like `parse run` does
        ExperimentConfig cfg = ConfigLoader.FromText(Config, overrides, "extending-sample");
        string dir = outDir ?? ExperimentRunner.DefaultOutput(cfg);
        JsonObject summary = ExperimentRunner.Run(cfg, dir, Directory.GetCurrentDirectory());

        // 3. report
        var inv = CultureInfo.InvariantCulture;
        output.WriteLine();
        output.WriteLine($"strategy {cfg.Strategy}, data {cfg.Data.Name}, {cfg.Rounds} rounds; run directory {Path.GetFullPath(dir)}");
        output.WriteLine("final test accuracy per agent type (ceiling):");
        var ceiling = summary["ceiling"]!["by_agent_type"]!.AsObject();
        foreach (var (type, acc) in summary["accuracy"]!["by_agent_type"]!.AsObject())
            output.WriteLine(string.Format(inv, "  {0,-10} {1:F3}  ({2:F2})", type, (double)acc!, (double?)ceiling[type] ?? double.NaN));
        output.WriteLine("bytes sent by role:");
        foreach (var (role, bytes) in summary["bytes_by_role"]!.AsObject())
            output.WriteLine(string.Format(inv, "  {0,-10} {1:N0}", role, (long)bytes!));
        return summary;
    }
}
