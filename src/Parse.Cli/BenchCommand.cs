using System.CommandLine;
using Parse.Bench;

namespace Parse.Cli;

/// <summary><c>parse bench GRID</c>: run a grid of experiments (resumable) and tabulate it.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var grid = new Argument<string>("grid") { Description = "Grid file (YAML): base experiment, fixed overrides, axes, baseline" };
        var outOpt = new Option<string?>("--out", "-o") { Description = "Bench directory (default runs/bench-NAME); finished cells there are not rerun" };
        var set = new Option<string[]>("--set", "-s") { Description = "Extra override applied to every cell (e.g. --set rounds=10 for a quick look)", Arity = ArgumentArity.ZeroOrMore };
        var aggregateOnly = new Option<bool>("--aggregate-only") { Description = "Only rebuild results.md/results.csv from finished cells" };
        var cmd = new Command("bench", "Run a grid of experiments (methods x mixes x topologies x seeds ...), resuming finished cells, and write results.md / results.csv.")
            { grid, outOpt, set, aggregateOnly };
        cmd.SetAction(pr => Commands.Guard(() =>
        {
            var spec = GridSpec.Load(pr.GetValue(grid)!);
            var extra = pr.GetValue(set) ?? [];
            if (extra.Length > 0) spec = new GridSpec { Name = spec.Name, BasePath = spec.BasePath, Set = spec.Set.Concat(extra).ToList(), Axes = spec.Axes, Baseline = spec.Baseline };
            string outDir = pr.GetValue(outOpt) ?? Path.Combine("runs", "bench-" + spec.Name);
            if (pr.GetValue(aggregateOnly))
            {
                Console.WriteLine(BenchRunner.Aggregate(spec, outDir));
                return 0;
            }
            int total = spec.Cells().Count;
            Console.WriteLine($"bench {spec.Name}: {total} cells -> {Path.GetFullPath(outDir)}");
            using var cts = new CancellationTokenSource();
            using var signals = Commands.CancelOnSignals(cts);
            var progress = new SyncProgress<BenchProgress>(p =>
                Console.WriteLine($"[{p.Done}/{p.Total}] {p.Cell.Id}  {(p.Skipped ? "already done, skipped" : $"{p.Seconds:F1} s")}" +
                                  (p.Changed ? " (rerun: its earlier result came from a different resolved config)" : "")));
            BenchRunner.Run(spec, outDir, progress, cts.Token);
            Console.WriteLine(File.ReadAllText(Path.Combine(outDir, "results.md")));
            return 0;
        }));
        return cmd;
    }
}

/// <summary>IProgress that reports synchronously on the calling thread (Progress&lt;T&gt; posts to the thread pool).</summary>
internal sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
