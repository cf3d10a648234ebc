using System.CommandLine;
using System.Globalization;
using Parse.Config;
using Parse.Simulation;
using Spectre.Console;

namespace Parse.Cli;

/// <summary>Entry point of the <c>parse</c> command.</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        var root = CreateRoot();
        root.Subcommands.Add(Commands.Run());
        root.Subcommands.Add(Commands.Perf());
        root.Subcommands.Add(Commands.Overlays());
        root.Subcommands.Add(Commands.Validate());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(DataCommands.Create());
        root.Subcommands.Add(ClusterCommands.Node());
        root.Subcommands.Add(ClusterCommands.Launch());
        root.Subcommands.Add(ClusterCommands.Cert());
        root.Subcommands.Add(ClusterCommands.Chaos());
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            // every usage error (unknown subcommand or option, missing argument, bad option value) exits 2, like a bad config
            foreach (var e in parsed.Errors) Console.Error.WriteLine("error: " + e.Message);
            Console.Error.WriteLine("see 'parse --help' (or 'parse COMMAND --help')");
            return 2;
        }
        return parsed.Invoke();
    }

    /// <summary>
    /// The root command, named <c>parse</c> whatever the host (a RootCommand would take its name from the entry
    /// assembly, Parse.Cli), with --help and --version.
    /// </summary>
    internal static Command CreateRoot()
    {
        var root = new Command("parse", "PARSE for .NET: multimodal decentralized federated learning with PID-guided partial alignment.");
        root.Options.Add(new System.CommandLine.Help.HelpOption());
        root.Options.Add(new VersionOption());
        return root;
    }
}

/// <summary>The subcommands.</summary>
internal static class Commands
{
    private static Argument<string?> ConfigArgument() => new("config")
    {
        Description = "Experiment file (YAML or JSON). Omit to use the embedded quickstart.",
        Arity = ArgumentArity.ZeroOrOne,
    };

    private static Option<string[]> SetOption() => new("--set", "-s")
    {
        Description = "Override a config field by dotted path, e.g. --set rounds=20 --set topology.kind=random-gossip",
        Arity = ArgumentArity.ZeroOrMore,
        AllowMultipleArgumentsPerToken = false,
    };

    /// <summary>Loads the config named on the command line (or the embedded quickstart).</summary>
    internal static (ExperimentConfig Config, string BaseDir) Load(string? path, string[]? sets)
    {
        if (path is null)
        {
            using var s = typeof(Commands).Assembly.GetManifestResourceStream("quickstart.yaml")
                          ?? throw new InvalidOperationException("embedded quickstart missing");
            string text = new StreamReader(s).ReadToEnd();
            return (ConfigLoader.FromText(text, sets, "<embedded quickstart>"), Directory.GetCurrentDirectory());
        }
        var cfg = ConfigLoader.Load(path, sets);
        foreach (var n in cfg.Notices) Console.Error.WriteLine("note: " + n);
        return (cfg, Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".");
    }

    /// <summary>
    /// Cancels <paramref name="cts"/> on Ctrl-C (SIGINT), SIGTERM (what <c>timeout</c>, containers and batch schedulers
    /// send) and SIGQUIT instead of letting the runtime kill the process; dispose the result to unregister.
    /// </summary>
    internal static IDisposable CancelOnSignals(CancellationTokenSource cts)
    {
        var regs = new[] { System.Runtime.InteropServices.PosixSignal.SIGINT, System.Runtime.InteropServices.PosixSignal.SIGTERM, System.Runtime.InteropServices.PosixSignal.SIGQUIT }
            .Select(sig => System.Runtime.InteropServices.PosixSignalRegistration.Create(sig, c =>
            {
                c.Cancel = true;
                try { cts.Cancel(); } catch (ObjectDisposedException) { }
            })).ToList();
        return new Registrations(regs);
    }

    private sealed class Registrations(List<System.Runtime.InteropServices.PosixSignalRegistration> regs) : IDisposable
    {
        public void Dispose() { foreach (var r in regs) r.Dispose(); }
    }

    /// <summary>Runs <paramref name="body"/>, turning known failures into one clear line and an exit code.</summary>
    internal static int Guard(Func<int> body)
    {
        try { return body(); }
        catch (ConfigException e)
        {
            Console.Error.WriteLine("error: " + e.Message);
            return 2;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("cancelled; no completed run directory was written");
            return 130;
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine("error: " + e.Message);
            return 1;
        }
        catch (AggregateException e)
        {
            // several simulator work units failed differently: every one is reported
            foreach (var inner in e.Flatten().InnerExceptions) Console.Error.WriteLine("error: " + inner.Message);
            return 1;
        }
    }

    public static Command Run()
    {
        var config = ConfigArgument();
        var set = SetOption();
        var outOpt = new Option<string?>("--out", "-o") { Description = "Run directory (default runs/NAME-TIMESTAMP)" };
        var force = new Option<bool>("--force") { Description = "Replace an existing non-empty output directory" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "No progress display" };
        var cmd = new Command("run", "Run one experiment in the in-process simulator and write a run directory.") { config, set, outOpt, force, quiet };
        cmd.SetAction(pr => Guard(() =>
        {
            var (cfg, baseDir) = Load(pr.GetValue(config), pr.GetValue(set));
            string outDir = pr.GetValue(outOpt) ?? ExperimentRunner.DefaultOutput(cfg);
            var progress = new ConsoleProgress(pr.GetValue(quiet));
            using var cts = new CancellationTokenSource();
            // Ctrl-C and SIGTERM stop the run (also during setup and data loading): the partial directory is kept and marked INTERRUPTED
            using var signals = CancelOnSignals(cts);
            string partial = Parse.Reporting.RunDirectory.PartialPath(outDir);
            try
            {
                var summary = ExperimentRunner.Run(cfg, outDir, baseDir, progress, pr.GetValue(force), progress.Run, cts.Token);
                PrintSummary(summary, Path.GetFullPath(outDir));
                return 0;
            }
            catch (Exception) when (Directory.Exists(partial))
            {
                Console.Error.WriteLine($"the unfinished run is kept in {partial} (metrics so far in metrics.jsonl; reason in its FAILED or INTERRUPTED file)");
                throw;
            }
        }));
        return cmd;
    }

    private static void PrintSummary(System.Text.Json.Nodes.JsonObject s, string dir)
    {
        var t = new Table().Border(TableBorder.Simple).AddColumn("agent type").AddColumn("accuracy").AddColumn("Bayes ceiling");
        var acc = s["accuracy"]!["by_agent_type"]!.AsObject();
        var ceil = s["ceiling"]!["by_agent_type"]!.AsObject();
        foreach (var (k, v) in acc)
            t.AddRow(k, v!.GetValue<double>().ToString("F3"), ceil.TryGetPropertyValue(k, out var c) && c is not null ? c.GetValue<double>().ToString("F3") : "n/a");
        AnsiConsole.Write(t);
        Console.WriteLine($"strategy {s["strategy"]}  overall {s["accuracy"]!["overall"]}  bytes sent {ConsoleProgress.FormatBytes(s["bytes_sent_total"]!.GetValue<long>())}  wall {s["wall_seconds"]} s");
        Console.WriteLine($"run directory: {dir}");
    }

    public static Command Perf()
    {
        var config = ConfigArgument();
        var set = SetOption();
        var json = new Option<bool>("--json") { Description = "Print the measurements as one JSON object on standard output (instead of the table)" };
        var outFile = new Option<string?>("--out", "-o") { Description = "Also write the measurements (JSON) to this file" };
        var cmd = new Command("perf", "Measure simulator throughput, time per phase, the share of the in-process matmul peak, and memory on a config.")
            { config, set, json, outFile };
        cmd.SetAction(pr => Guard(() =>
        {
            var (cfg, baseDir) = Load(pr.GetValue(config), pr.GetValue(set));
            bool asJson = pr.GetValue(json);
            cfg = cfg with { Eval = cfg.Eval with { Every = cfg.Rounds, Embeddings = false } };
            // the dense matmul peak of this process, on the simulator's own threading, before anything else runs
            double peak = Parse.Bench.PerfMeasure.MatmulPeakGflops(Math.Max(1, cfg.Sim.Parallelism));
            using var sim = new Simulator(cfg, baseDir);
            double? flopsPerStep = sim.Agents.Count == 0 ? null
                : sim.Agents.Select(Parse.Bench.PerfMeasure.FlopsPerStep).Any(f => f is null) ? null
                : sim.Agents.Sum(a => Parse.Bench.PerfMeasure.FlopsPerStep(a)!.Value * a.StepsPerRound);   // per round, all agents
            // leak check: resident memory (after a full GC) once warmed up (10% of the rounds) and after the last round
            int warm = Math.Max(1, cfg.Rounds / 10);
            double wsWarm = 0, wsEnd = 0;
            int tick = Math.Max(1, cfg.Rounds / 10);
            var r = sim.Run(new SyncProgress<RoundProgress>(p =>
            {
                if (p.Round % tick == 0 || p.Round == p.Rounds) Console.Error.WriteLine($"perf: round {p.Round}/{p.Rounds}");
                if (p.Round != warm && p.Round != p.Rounds) return;
                GC.Collect();
                GC.WaitForPendingFinalizers();
                using var me = System.Diagnostics.Process.GetCurrentProcess();
                double mb = me.WorkingSet64 / 1048576.0;
                if (p.Round == warm) wsWarm = mb;
                if (p.Round == p.Rounds) wsEnd = mb;
            }));
            double? achieved = flopsPerStep is { } f ? f * cfg.Rounds / Math.Max(1e-9, r.TrainSeconds) / 1e9 : null;
            var perf = new System.Text.Json.Nodes.JsonObject
            {
                ["config"] = cfg.Name,
                ["agents"] = r.AgentTypes.Count,
                ["rounds"] = cfg.Rounds,
                ["parallelism"] = cfg.Sim.Parallelism,
                ["batch_agents"] = cfg.Sim.BatchAgents,
                ["agent_steps"] = r.AgentSteps,
                ["steps_per_second_wall"] = Math.Round(r.AgentSteps / Math.Max(1e-9, r.WallSeconds), 1),
                ["steps_per_second_train"] = Math.Round(r.AgentSteps / Math.Max(1e-9, r.TrainSeconds), 1),
                ["wall_seconds"] = Math.Round(r.WallSeconds, 3),
                ["train_seconds"] = Math.Round(r.TrainSeconds, 3),
                ["exchange_seconds"] = Math.Round(r.ExchangeSeconds, 3),
                ["eval_seconds"] = Math.Round(r.EvalSeconds, 3),
                ["exchange_share"] = Math.Round(r.ExchangeSeconds / Math.Max(1e-9, r.WallSeconds), 4),
                ["gflops_peak"] = Math.Round(peak, 2),
                ["gflops_achieved"] = achieved is { } a ? Math.Round(a, 2) : null,
                ["peak_share"] = achieved is { } a2 ? Math.Round(a2 / peak, 4) : null,
                ["peak_working_set_mib"] = Math.Round(r.PeakWorkingSetBytes / 1048576.0, 1),
                ["working_set_mib_after_warmup"] = Math.Round(wsWarm, 1),
                ["working_set_mib_at_end"] = Math.Round(wsEnd, 1),
                ["warmup_round"] = warm,
            };
            string text = perf.ToJsonString(new() { WriteIndented = true });
            if (pr.GetValue(outFile) is { } path) Parse.Reporting.AtomicFile.WriteAllText(path, text);
            if (asJson) { Console.WriteLine(text); return 0; }
            Console.WriteLine($"config {cfg.Name}: {r.AgentTypes.Count} agents, {cfg.Rounds} rounds, parallelism {cfg.Sim.Parallelism}, strategy {cfg.Strategy}, batch_agents {cfg.Sim.BatchAgents}");
            Console.WriteLine($"agent steps/s        {perf["steps_per_second_wall"]} (wall)   {perf["steps_per_second_train"]} (training only)");
            Console.WriteLine($"wall seconds         {perf["wall_seconds"]}: training {perf["train_seconds"]}, exchange {perf["exchange_seconds"]} ({r.ExchangeSeconds / Math.Max(1e-9, r.WallSeconds):P1}), evaluation {perf["eval_seconds"]}");
            Console.WriteLine(achieved is { } g
                ? $"training GFLOP/s     {g:F2} of a {peak:F2} GFLOP/s in-process matmul peak ({g / peak:P1}; dense-layer FLOPs)"
                : $"training GFLOP/s     n/a (convolution trunks); in-process matmul peak {peak:F2} GFLOP/s");
            Console.WriteLine($"peak working set     {perf["peak_working_set_mib"]} MiB");
            Console.WriteLine($"working set          {wsWarm:F1} MiB after round {warm}, {wsEnd:F1} MiB after round {cfg.Rounds} (after a full GC; growth = leak)");
            return 0;
        }));
        return cmd;
    }

    public static Command Overlays()
    {
        var config = ConfigArgument();
        var set = SetOption();
        var edgesOut = new Option<string?>("--edges-out")
        {
            Description = "Also write the effective graph of round 0 (base graph plus the links overlay repair added) as an edge list for topology.kind: file",
        };
        var cmd = new Command("overlays", "Show the per-key overlays (size, degree, connectivity, spectral gap) without training.") { config, set, edgesOut };
        cmd.SetAction(pr => Guard(() =>
        {
            var (cfg, baseDir) = Load(pr.GetValue(config), pr.GetValue(set));
            using var sim = new Simulator(cfg with { Rounds = 1 }, baseDir);
            if (pr.GetValue(edgesOut) is { } edgesPath)
            {
                var baseGraph = sim.BaseGraphAt(0);
                var effective = Parse.Federation.Overlays.LinkSummary.EffectiveGraph(baseGraph, sim.OverlaysAt(0));
                var text = new System.Text.StringBuilder();
                text.AppendLine($"# effective graph of {cfg.Name} (strategy {cfg.Strategy}, topology {cfg.Topology.Kind}, {baseGraph.N} agents): " +
                    $"{baseGraph.EdgeCount} base links + {effective.EdgeCount - baseGraph.EdgeCount} added by overlay repair");
                foreach (var (a, b) in effective.Edges()) text.AppendLine($"{a} {b}");
                Parse.Reporting.AtomicFile.WriteAllText(edgesPath, text.ToString());
                Console.Error.WriteLine($"wrote {effective.EdgeCount} links ({effective.EdgeCount - baseGraph.EdgeCount} added by repair) to {edgesPath}");
            }
            var t = new Table().Border(TableBorder.Simple).AddColumn("key").AddColumn("size").AddColumn("edges").AddColumn("bridges")
                .AddColumn("degree min/mean/max").AddColumn("connected").AddColumn("spectral gap");
            foreach (var o in sim.OverlaysAt(0).Select(Parse.Federation.Overlays.OverlayStats.Of))
                t.AddRow(Markup.Escape(o.Key), o.Size.ToString(), o.Edges.ToString(), o.Bridges.ToString(),
                    $"{o.MinDegree:F0}/{o.MeanDegree:F2}/{o.MaxDegree:F0}", o.Connected ? "yes" : "[red]no[/]", o.SpectralGap.ToString("F4"));
            AnsiConsole.Write(t);
            return 0;
        }));
        return cmd;
    }

    public static Command Validate()
    {
        var config = ConfigArgument();
        var set = SetOption();
        var cmd = new Command("validate", "Check an experiment file and print the resolved configuration.") { config, set };
        cmd.SetAction(pr => Guard(() =>
        {
            var (cfg, _) = Load(pr.GetValue(config), pr.GetValue(set));
            Console.WriteLine(ConfigLoader.ToJson(cfg));
            return 0;
        }));
        return cmd;
    }
}
