using System.Diagnostics;
using Parse.Simulation;
using TorchSharp;
using static TorchSharp.torch;

namespace Parse.Bench;

/// <summary>
/// Measurements behind <c>parse perf</c>: the dense matmul peak of this process and the model FLOPs of a training
/// step, so training speed can be stated as a share of what the machine does on dense products in the same run
/// (absolute figures on shared hosts move 2-3x from day to day; ratios measured in one process compare).
/// </summary>
public static class PerfMeasure
{
    /// <summary>
    /// GFLOP/s of single-threaded 512 x 512 float32 matrix products run on <paramref name="workers"/> concurrent workers
    /// (the simulator's own threading: one torch thread per worker), best of three repetitions.
    /// </summary>
    public static double MatmulPeakGflops(int workers, int size = 512, int products = 12)
    {
        torch.set_num_threads(1);
        double best = 0;
        for (int rep = 0; rep < 3; rep++)
        {
            var sw = Stopwatch.StartNew();
            Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, _ =>
            {
                Util.IntraOpThreads.Pin();
                using var scope = torch.NewDisposeScope();
                var a = torch.randn(size, size);
                var b = torch.randn(size, size);
                for (int i = 0; i < products; i++) a.matmul(b).Dispose();
            });
            double flops = 2.0 * size * size * size * products * workers;
            best = Math.Max(best, flops / sw.Elapsed.TotalSeconds / 1e9);
        }
        return best;
    }

    /// <summary>
    /// Dense-layer FLOPs of one local training step of <paramref name="agent"/>: forward (2 per multiply-add) plus
    /// backward (twice the forward) over every matrix-shaped weight, i.e. 6 x weight elements x batch size. Null when
    /// the model has convolution weights (their cost depends on the feature-map sizes, which this estimate ignores).
    /// </summary>
    public static double? FlopsPerStep(Agent agent)
    {
        long dense = 0;
        foreach (var p in agent.Model.parameters())
        {
            if (p.dim() > 2) return null;
            if (p.dim() == 2) dense += p.numel();
        }
        return 6.0 * dense * agent.BatchSize;
    }
}
