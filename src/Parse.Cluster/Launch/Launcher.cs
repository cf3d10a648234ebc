using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Parse.Config;
using Parse.Data;
using Parse.Federation.Topology;
using Parse.Reporting;

namespace Parse.Cluster.Launch;

/// <summary>Options of <c>parse launch</c>.</summary>
public sealed record LaunchOptions
{
    public required string ConfigPath { get; init; }
    public required int Processes { get; init; }
    public required string OutDir { get; init; }
    public IReadOnlyList<string> Sets { get; init; } = [];
    /// <summary>Command that starts the CLI, e.g. ["dotnet", "/path/Parse.Cli.dll"].</summary>
    public required IReadOnlyList<string> CliCommand { get; init; }
    public bool Force { get; init; }
    /// <summary>Kill the processes and fail after this long.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(30);
}

/// <summary>
/// Starts N local <c>parse node</c> processes on free loopback ports (agents split in contiguous blocks, every
/// process a seed node, a fresh random secret passed in the environment), waits for them, and merges their
/// per-agent reports into one run directory, written atomically.
/// </summary>
public static partial class Launcher
{
    /// <summary>Environment variable carrying the experiment secret to child processes (not visible in ps).</summary>
    public const string SecretVariable = "PARSE_SECRET";

    /// <summary>Runs the experiment; returns the summary. Throws <see cref="ConfigException"/> on bad input.</summary>
    public static JsonObject Run(LaunchOptions o, TextWriter log)
    {
        var wall = Stopwatch.StartNew();
        var cfg = ConfigLoader.Load(o.ConfigPath, o.Sets);
        string baseDir = Path.GetDirectoryName(Path.GetFullPath(o.ConfigPath)) ?? ".";
        var plan = Parse.Node.LearnerPlan.Of(cfg);
        int n = plan.LearnerTypes.Count;
        // churn with processes: every agent that joins late or leaves early gets a process of its own (after the others)
        var schedule = plan.Pooled || !cfg.Churn.Processes ? null : Parse.Node.DynamicsSchedule.Of(cfg);
        var churning = schedule is null || !cfg.Churn.Enabled ? [] : Enumerable.Range(0, n).Where(schedule.Churns).ToList();
        var stable = Enumerable.Range(0, n).Except(churning).ToList();
        if (stable.Count == 0)
            throw new ConfigException("churn: every agent joins late or leaves early; with churn.processes at least one agent must stay for the whole run");
        if (o.Processes < 1 || o.Processes > stable.Count)
            throw new ConfigException(churning.Count == 0
                ? $"--processes: must be in 1..{n} (the experiment has {n} {(plan.Pooled ? "pooled learners, one per agent type" : "agents")})"
                : $"--processes: must be in 1..{stable.Count} (the {stable.Count} agents that do not churn; the {churning.Count} churning agents get a process each, churn.processes)");
        var topology = TopologyFactory.Create(cfg.Topology, plan.Population.Count, cfg.Seed, baseDir);
        var graph = topology.At(0);

        using var dir = RunDirectory.Create(o.OutDir, o.Force, cfg);
        string nodesDir = dir.File("nodes");
        Directory.CreateDirectory(nodesDir);
        int total = o.Processes + churning.Count;
        var ports = FreePorts(total);
        var seeds = string.Join(',', ports.Select(p => $"127.0.0.1:{p}"));
        string secret = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
        var blocks = Enumerable.Range(0, o.Processes)
            .Select(k => Enumerable.Range(0, stable.Count).Where(i => i * o.Processes / stable.Count == k).Select(i => stable[i]).ToList()).ToList();
        blocks.AddRange(churning.Select(a => new List<int> { a }));
        // a process starts when the agents running so far have closed the round before its agents' join round
        var startAfter = blocks.Select(b => b.Select(a => schedule?.JoinRound(a) is int r ? r - 1 : 0).Max()).ToList();
        var closed = new System.Collections.Concurrent.ConcurrentDictionary<int, int>();
        var procs = new Process?[total];
        var logs = new List<StreamWriter>();
        var processes = new JsonArray();
        try
        {
            void Start(int k)
            {
                var psi = new ProcessStartInfo(o.CliCommand[0]) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
                foreach (var a in o.CliCommand.Skip(1)) psi.ArgumentList.Add(a);
                foreach (var a in new[] { "node", "--config", Path.GetFullPath(o.ConfigPath), "--agent", string.Join(',', blocks[k]),
                             "--port", ports[k].ToString(), "--seed-nodes", seeds, "--out", nodesDir }) psi.ArgumentList.Add(a);
                foreach (var s in o.Sets) { psi.ArgumentList.Add("--set"); psi.ArgumentList.Add(s); }
                // one certificate per process when the configured path names the process index
                if (cfg.Cluster.Tls.Enabled && cfg.Cluster.Tls.Certificate.Contains("{process}"))
                {
                    string cert = cfg.Cluster.Tls.Certificate.Replace("{process}", k.ToString(System.Globalization.CultureInfo.InvariantCulture));
                    psi.ArgumentList.Add("--tls-cert");
                    psi.ArgumentList.Add(Path.IsPathRooted(cert) ? cert : Path.GetFullPath(Path.Combine(baseDir, cert)));
                }
                psi.Environment[SecretVariable] = secret;
                var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {o.CliCommand[0]}");
                var logFile = new StreamWriter(Path.Combine(nodesDir, $"node-{k}.log")) { AutoFlush = true };
                logs.Add(logFile);
                p.OutputDataReceived += (_, e) =>
                {
                    if (e.Data is null) return;
                    lock (logFile) logFile.WriteLine(e.Data);
                    if (RoundClosed(e.Data) is var (agent, round)) closed.AddOrUpdate(agent, round, (_, old) => Math.Max(old, round));
                };
                p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (logFile) logFile.WriteLine(e.Data); };
                p.BeginOutputReadLine();
                p.BeginErrorReadLine();
                procs[k] = p;
                log.WriteLine($"process {k}: pid {p.Id}, port {ports[k]}, agents {string.Join(',', blocks[k])}" +
                              (startAfter[k] > 0 ? $", started after round {startAfter[k]} closed" : ""));
            }
            var deadline = DateTime.UtcNow + o.Timeout;
            for (int k = 0; k < total; k++) if (startAfter[k] == 0) Start(k);
            while (true)
            {
                // start a joining process once every running agent present in the round before its join round closed it
                for (int k = 0; k < total; k++)
                    if (procs[k] is null && Reached(startAfter[k])) Start(k);
                var started = procs.Where(p => p is not null).Select(p => p!).ToList();
                bool allExited = started.All(p => p.HasExited);   // one snapshot: a process may exit between two looks
                if (allExited && started.Count == total) break;
                if (started.Any(p => p.HasExited && p.ExitCode != 0)) break;
                if (allExited)
                    throw new InvalidOperationException($"the processes of agents {string.Join(',', Enumerable.Range(0, total).Where(k => procs[k] is null).SelectMany(k => blocks[k]))} " +
                        $"were never started: the running agents left before closing the round before their join round (logs in {nodesDir})");
                if (DateTime.UtcNow > deadline)
                    throw new InvalidOperationException($"cluster run did not finish within {o.Timeout.TotalSeconds:F0} s; processes killed (logs in {nodesDir})");
                Thread.Sleep(200);
            }

            bool Reached(int round) => Enumerable.Range(0, total).Where(k => procs[k] is not null).SelectMany(k => blocks[k])
                .Where(a => schedule?.Present(a, round) ?? true).All(a => closed.GetValueOrDefault(a) >= round);

            for (int k = 0; k < total; k++)
            {
                if (procs[k] is not { } proc) continue;
                proc.WaitForExit();
                var entry = new JsonObject { ["port"] = ports[k], ["agents"] = new JsonArray(blocks[k].Select(a => (JsonNode)a).ToArray()), ["exit_code"] = proc.ExitCode };
                if (startAfter[k] > 0) entry["started_after_round"] = startAfter[k];
                if (schedule is not null && blocks[k].All(a => !schedule.Present(a, cfg.Rounds)))
                    entry["left_at_round"] = blocks[k].Select(a => Enumerable.Range(1, cfg.Rounds).First(r => r > (schedule.JoinRound(a) ?? 1) && !schedule.Present(a, r))).Max();
                processes.Add(entry);
                if (proc.ExitCode != 0)
                    throw new InvalidOperationException($"process {k} (agents {string.Join(',', blocks[k])}) exited with code {proc.ExitCode}: " +
                        LastLines(Path.Combine(nodesDir, $"node-{k}.log")));
            }
        }
        finally
        {
            foreach (var p in procs.Where(p => p is not null).Select(p => p!)) { if (!p.HasExited) p.Kill(entireProcessTree: true); p.WaitForExit(); p.Dispose(); }
            foreach (var l in logs) lock (l) l.Dispose();
        }

        var reports = RunMerger.ReadReports([nodesDir], n);
        var result = RunMerger.Merge(reports, graph, cfg.Rounds, wall.Elapsed.TotalSeconds, plan,
            Parse.Federation.Attacks.AttackPlan.Of(cfg, plan.Pooled ? 0 : n).Attackers, topology.UnionOver(cfg.Rounds));
        var cluster = RunMerger.ClusterSummary(reports, new JsonObject { ["count"] = total, ["list"] = processes });
        File.WriteAllText(dir.File("cluster.json"), cluster.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        RunWriter.Write(dir, cfg, result);
        dir.Commit();
        return RunWriter.Summary(cfg, result);
    }

    /// <summary>The (agent, round) of a node's "agent A: round R closed" log line, else null.</summary>
    public static (int Agent, int Round)? RoundClosed(string line)
    {
        var m = RoundClosedLine().Match(line);
        return m.Success ? (int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture)) : null;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"agent (\d+): round (\d+) closed$")]
    private static partial System.Text.RegularExpressions.Regex RoundClosedLine();

    private static string LastLines(string path)
    {
        try { return string.Join(" | ", File.ReadLines(path).Where(l => l.Contains("error", StringComparison.OrdinalIgnoreCase)).TakeLast(3)); }
        catch (IOException) { return "(no log)"; }
    }

    /// <summary>Distinct free TCP ports on 127.0.0.1 (bound then released).</summary>
    public static int[] FreePorts(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        foreach (var l in listeners) l.Start();
        var ports = listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        foreach (var l in listeners) l.Stop();
        return ports;
    }
}
