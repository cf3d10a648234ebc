using System.CommandLine;
using Parse.Cluster.Launch;
using Parse.Cluster.Runtime;
using Parse.Config;

namespace Parse.Cli;

/// <summary>The cluster subcommands: <c>parse node</c> (one process of a P2P run) and <c>parse launch</c> (N local processes).</summary>
internal static class ClusterCommands
{
    public static Command Node()
    {
        var config = new Option<string>("--config", "-c") { Description = "Experiment file shared by every process", Required = true };
        var agent = new Option<string>("--agent") { Description = "Agent id(s) hosted by this process, e.g. 3 or 0,1,2", Required = true };
        var port = new Option<int>("--port", "-p") { Description = "TCP port of this process", Required = true };
        var seeds = new Option<string>("--seed-nodes") { Description = "Seed nodes HOST:PORT,HOST:PORT,... (the same list on every process)", Required = true };
        var secret = new Option<string?>("--secret") { Description = $"Experiment shared secret (default: ${Launcher.SecretVariable})" };
        var resume = new Option<bool>("--resume") { Description = "Continue each agent from its last good checkpoint in --out" };
        var outOpt = new Option<string?>("--out", "-o") { Description = "Directory for agent reports, checkpoints (default runs/node-PORT)" };
        var host = new Option<string>("--host") { Description = "Interface to bind", DefaultValueFactory = _ => "127.0.0.1" };
        var publicHost = new Option<string?>("--public-host") { Description = "Host name other processes use to reach this one (default: --host)" };
        var fault = new Option<PayloadFault>("--fault") { Description = "Send corrupt payloads (testing only): None, NaN, Garbage, Scaled, Oversized, ForgedSender, Replayed", Hidden = true };
        var set = new Option<string[]>("--set", "-s") { Description = "Config override, identical on every process", Arity = ArgumentArity.ZeroOrMore };
        var insecure = new Option<bool>("--insecure") { Description = "Run without an experiment secret: open admission, no message authentication (testing only)" };
        var tlsCert = new Option<string?>("--tls-cert") { Description = $"This node's TLS certificate (.pfx), replacing cluster.tls.certificate (password: ${TlsSetup.PasswordVariable})" };
        var stopAfter = new Option<int>("--stop-after") { Description = "Checkpoint after this round and exit 0 (a planned stop; give every process the same round, continue with --resume)" };
        var cmd = new Command("node", "Run one process of a cluster run, hosting one or several agents.")
            { config, agent, port, seeds, secret, resume, outOpt, host, publicHost, fault, set, insecure, tlsCert, stopAfter };
        cmd.SetAction(pr => Commands.Guard(() =>
        {
            int p = pr.GetValue(port);
            var opts = new NodeOptions
            {
                ConfigPath = pr.GetValue(config)!,
                Sets = pr.GetValue(set) ?? [],
                Agents = ParseIds(pr.GetValue(agent)!),
                Port = p,
                SeedNodes = (pr.GetValue(seeds) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                Secret = pr.GetValue(secret) ?? Environment.GetEnvironmentVariable(Launcher.SecretVariable) ?? "",
                Resume = pr.GetValue(resume),
                OutDir = pr.GetValue(outOpt) ?? Path.Combine("runs", $"node-{p}"),
                Host = pr.GetValue(host)!,
                PublicHost = pr.GetValue(publicHost),
                Fault = pr.GetValue(fault),
                Insecure = pr.GetValue(insecure),
                TlsCertificate = pr.GetValue(tlsCert),
                StopAfterRound = pr.GetValue(stopAfter) is var sa && sa >= 0 ? sa : throw new ConfigException($"--stop-after: must be a round >= 0 (got {sa})"),
            };
            using var cts = new CancellationTokenSource();
            using var signals = Commands.CancelOnSignals(cts);
            return NodeHost.Run(opts, Console.Out, cts.Token);
        }));
        return cmd;
    }

    public static Command Launch()
    {
        var config = new Argument<string>("config") { Description = "Experiment file (YAML or JSON)" };
        var processes = new Option<int>("--processes", "-n") { Description = "Number of local processes", DefaultValueFactory = _ => 2 };
        var outOpt = new Option<string?>("--out", "-o") { Description = "Run directory (default runs/NAME-TIMESTAMP)" };
        var force = new Option<bool>("--force") { Description = "Replace an existing non-empty output directory" };
        var timeout = new Option<int>("--timeout") { Description = "Kill the processes and fail after this many seconds", DefaultValueFactory = _ => 1800 };
        var set = new Option<string[]>("--set", "-s") { Description = "Config override by dotted path", Arity = ArgumentArity.ZeroOrMore };
        var cmd = new Command("launch", "Run an experiment as N local processes on the P2P cluster runtime and merge their results.")
            { config, processes, outOpt, force, timeout, set };
        cmd.SetAction(pr => Commands.Guard(() =>
        {
            string path = pr.GetValue(config)!;
            var sets = pr.GetValue(set) ?? [];
            var cfg = ConfigLoader.Load(path, sets);
            foreach (var n in cfg.Notices.Concat(ClusterNotices.Of(cfg))) Console.Error.WriteLine("note: " + n);
            string outDir = pr.GetValue(outOpt) ?? Parse.Simulation.ExperimentRunner.DefaultOutput(cfg);
            var summary = Launcher.Run(new LaunchOptions
            {
                ConfigPath = path, Processes = pr.GetValue(processes), OutDir = outDir, Sets = sets, Force = pr.GetValue(force),
                CliCommand = CliCommand(), Timeout = TimeSpan.FromSeconds(pr.GetValue(timeout)),
            }, Console.Out);
            Console.WriteLine($"strategy {summary["strategy"]}  overall {summary["accuracy"]!["overall"]}  by type {summary["accuracy"]!["by_agent_type"]!.ToJsonString()}");
            Console.WriteLine($"bytes sent {summary["bytes_sent_total"]}  wall {summary["wall_seconds"]} s");
            Console.WriteLine($"run directory: {Path.GetFullPath(outDir)}");
            return 0;
        }));
        return cmd;
    }

    public static Command Cert()
    {
        var outOpt = new Option<string>("--out", "-o") { Description = "Directory for ca.crt and node-K.pfx", Required = true };
        var nodes = new Option<int>("--nodes", "-n") { Description = "Number of node certificates", DefaultValueFactory = _ => 3 };
        var days = new Option<int>("--days") { Description = "Validity in days", DefaultValueFactory = _ => 365 };
        var force = new Option<bool>("--force") { Description = "Overwrite a non-empty directory" };
        var cmd = new Command("cert", $"Create a test CA and node certificates for cluster.tls (PKCS#12 password: ${TlsSetup.PasswordVariable}, default none).")
            { outOpt, nodes, days, force };
        cmd.SetAction(pr => Commands.Guard(() =>
        {
            string dir = pr.GetValue(outOpt)!;
            var files = TestCertificates.Create(dir, pr.GetValue(nodes), Environment.GetEnvironmentVariable(TlsSetup.PasswordVariable), pr.GetValue(days), pr.GetValue(force));
            foreach (var f in files) Console.WriteLine(f);
            Console.WriteLine($"use: cluster: {{ tls: {{ enabled: true, ca: \"{Path.Combine(dir, "ca.crt")}\", certificate: \"{Path.Combine(dir, "node-{process}.pfx")}\" }} }}");
            return 0;
        }));
        return cmd;
    }

    public static Command Chaos()
    {
        var config = new Argument<string>("config") { Description = "Experiment file (YAML or JSON); keep it small (few agents and rounds)" };
        var processes = new Option<int>("--processes", "-n") { Description = "Node processes per trial", DefaultValueFactory = _ => 3 };
        var trials = new Option<int>("--trials", "-k") { Description = "Number of trials (one fault each)", DefaultValueFactory = _ => 10 };
        var outOpt = new Option<string>("--out", "-o") { Description = "Directory for chaos.json, chaos.md and each trial's node logs", Required = true };
        var seed = new Option<int>("--seed") { Description = "Seed of the fault draws", DefaultValueFactory = _ => 1 };
        var faults = new Option<string[]>("--fault") { Description = "Only these faults (kill, kill-mid-checkpoint, pause, garbage-bytes, oversized-chunk, wrong-secret-joiner, garbage-peer, scaled-peer, forged-sender, replayed-payload, kill-with-slow-observer)", Arity = ArgumentArity.ZeroOrMore };
        var timeout = new Option<int>("--trial-timeout") { Description = "A node still running this many seconds after its trial started counts as hung", DefaultValueFactory = _ => 360 };
        var set = new Option<string[]>("--set", "-s") { Description = "Config override by dotted path", Arity = ArgumentArity.ZeroOrMore };
        var cmd = new Command("chaos", "Fault campaign on local processes: crashes, restarts, pauses, garbage and hostile peers; writes chaos.json and chaos.md.")
            { config, processes, trials, outOpt, seed, faults, timeout, set };
        cmd.SetAction(pr => Commands.Guard(() =>
        {
            var chosen = ChaosCampaign.ParseFaults(pr.GetValue(faults) ?? []);
            int t = pr.GetValue(timeout);
            if (t < 10) throw new ConfigException($"--trial-timeout: must be at least 10 seconds (got {t})");
            var result = ChaosCampaign.Run(new ChaosOptions
            {
                ConfigPath = pr.GetValue(config)!, Processes = pr.GetValue(processes), Trials = pr.GetValue(trials), OutDir = pr.GetValue(outOpt)!,
                Sets = pr.GetValue(set) ?? [], CliCommand = CliCommand(), Seed = pr.GetValue(seed), Faults = chosen, TrialTimeout = TimeSpan.FromSeconds(t),
            }, Console.Out);
            Console.WriteLine($"trials {result["trials"]}  finished {result["finished"]}  corrupt checkpoints {result["corrupt_checkpoints"]}  hung nodes {result["hung_nodes"]}  " +
                $"healthy nodes downed {result["healthy_nodes_downed"]}  rounds lost {result["rounds_lost"]}");
            Console.WriteLine($"results: {Path.GetFullPath(Path.Combine(pr.GetValue(outOpt)!, "chaos.md"))}");
            return 0;
        }));
        return cmd;
    }

    /// <summary>How to start this CLI again: the dotnet host and the path of the running Parse.Cli.dll.</summary>
    internal static string[] CliCommand()
    {
        string dll = typeof(ClusterCommands).Assembly.Location;
        string? host = Environment.ProcessPath;
        string dotnet = host is not null && Path.GetFileNameWithoutExtension(host) == "dotnet" ? host : "dotnet";
        return [dotnet, dll];
    }

    private static int[] ParseIds(string text)
    {
        var ids = new List<int>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            ids.Add(int.TryParse(part, out int id) && id >= 0 ? id : throw new ConfigException($"--agent: '{part}' is not an agent id"));
        return ids.ToArray();
    }
}
