using System.Text.Json.Nodes;
using Parse.Config;
using Parse.Reporting;

namespace Parse.Simulation;

/// <summary>Runs one experiment in the simulator and writes its run directory atomically.</summary>
public static class ExperimentRunner
{
    /// <summary>Default output path: runs/NAME-yyyyMMdd-HHmmss.</summary>
    public static string DefaultOutput(ExperimentConfig cfg) =>
        Path.Combine("runs", $"{cfg.Name}-{DateTime.Now:yyyyMMdd-HHmmss}");

    /// <summary>Runs <paramref name="cfg"/> and writes its outputs to <paramref name="outDir"/>; returns the summary.</summary>
    public static JsonObject Run(ExperimentConfig cfg, string outDir, string baseDir, IProgress<RoundProgress>? progress = null,
        bool overwrite = false, Func<Func<SimulationResult>, SimulationResult>? host = null, CancellationToken ct = default)
    {
        using var dir = RunDirectory.Create(outDir, overwrite);
        using var sim = new Simulator(cfg, baseDir);
        var result = host is null ? sim.Run(progress, ct) : host(() => sim.Run(progress, ct));
        RunWriter.Write(dir, cfg, result);
        if (cfg.Eval.Embeddings) SliceEmbeddings.Write(dir.StagingPath, sim, cfg.Eval.EmbeddingSamples, cfg.Eval.Tsne, cfg.Seed);
        dir.Commit();
        return RunWriter.Summary(cfg, result);
    }
}
