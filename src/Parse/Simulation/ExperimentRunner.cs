using System.Text.Json.Nodes;
using Parse.Config;
using Parse.Reporting;

namespace Parse.Simulation;

/// <summary>
/// Runs one experiment in the simulator and writes its run directory atomically: metrics stream into
/// <c>NAME.partial/metrics.jsonl</c> at every evaluation; on success the directory is renamed to NAME; a run that
/// fails or is cancelled keeps NAME.partial, marked FAILED or INTERRUPTED (see <see cref="RunDirectory"/>).
/// </summary>
public static class ExperimentRunner
{
    /// <summary>Default output path: runs/NAME-yyyyMMdd-HHmmss.</summary>
    public static string DefaultOutput(ExperimentConfig cfg) =>
        Path.Combine("runs", $"{cfg.Name}-{DateTime.Now:yyyyMMdd-HHmmss}");

    /// <summary>Runs <paramref name="cfg"/> and writes its outputs to <paramref name="outDir"/>; returns the summary.</summary>
    public static JsonObject Run(ExperimentConfig cfg, string outDir, string baseDir, IProgress<RoundProgress>? progress = null,
        bool overwrite = false, Func<Func<SimulationResult>, SimulationResult>? host = null, CancellationToken ct = default)
    {
        using var dir = RunDirectory.Create(outDir, overwrite, cfg);
        Simulator sim;
        try { sim = new Simulator(cfg, baseDir, ct); }
        catch { dir.Abandon(); throw; }   // setup failed (config, data): nothing ran, nothing to keep
        using (sim)
        {
            try
            {
                SimulationResult result;
                using (var live = new LiveMetrics(dir, cfg, round => sim.Cores.SelectMany(c => c.Tally.Metrics.Where(m => m.Round == round)), progress,
                           sim.Attackers))
                    result = host is null ? sim.Run(live, ct) : host(() => sim.Run(live, ct));
                RunWriter.Write(dir, cfg, result);
                if (cfg.Eval.Embeddings) SliceEmbeddings.Write(dir.StagingPath, sim, cfg.Eval.EmbeddingSamples, cfg.Eval.Tsne, cfg.Seed);
                if (cfg.Eval.Cka) SliceCka.Write(dir.StagingPath, result.Cka);
                if (cfg.Eval.Probes) SliceProbes.Write(dir.StagingPath, SliceProbes.Compute(sim, cfg.Data));
                dir.Commit();
                return RunWriter.Summary(cfg, result);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                dir.Fail("cancelled (Ctrl-C or SIGTERM) after the rounds in metrics.jsonl", interrupted: true);
                throw;
            }
            catch (Exception e)
            {
                dir.Fail($"{e.GetType().Name}: {e.Message}");
                throw;
            }
        }
    }
}
