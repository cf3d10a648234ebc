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
public static class Launcher
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
        if (o.Processes < 1 || o.Processes > n)
            throw new ConfigException($"--processes: must be in 1..{n} (the experiment has {n} {(plan.Pooled ? "pooled learners, one per agent type" : "agents")})");
        var topology = TopologyFactory.Create(cfg.Topology, plan.Population.Count, cfg.Seed, baseDir);
        var graph = topology.At(0);

        using var dir = RunDirectory.Create(o.OutDir, o.Force, cfg);
        string nodesDir = dir.File("nodes");
        Directory.CreateDirectory(nodesDir);
        var ports = FreePorts(o.Processes);
        var seeds = string.Join(',', ports.Select(p => $"127.0.0.1:{p}"));
        string secret = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
        var blocks = Enumerable.Range(0, o.Processes)
            .Select(k => Enumerable.Range(0, n).Where(i => i * o.Processes / n == k).ToList()).ToList();
        var procs = new List<Process>();
        var logs = new List<StreamWriter>();
        var processes = new JsonArray();
        try
        {
            for (int k = 0; k < o.Processes; k++)
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
                p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (logFile) logFile.WriteLine(e.Data); };
                p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (logFile) logFile.WriteLine(e.Data); };
                p.BeginOutputReadLine();
                p.BeginErrorReadLine();
                procs.Add(p);
                log.WriteLine($"process {k}: pid {p.Id}, port {ports[k]}, agents {string.Join(',', blocks[k])}");
            }
            var deadline = DateTime.UtcNow + o.Timeout;
            foreach (var p in procs)
                if (!p.WaitForExit((int)Math.Max(0, (deadline - DateTime.UtcNow).TotalMilliseconds)))
                    throw new InvalidOperationException($"cluster run did not finish within {o.Timeout.TotalSeconds:F0} s; processes killed (logs in {nodesDir})");
            for (int k = 0; k < procs.Count; k++)
            {
                procs[k].WaitForExit();
                processes.Add(new JsonObject { ["port"] = ports[k], ["agents"] = new JsonArray(blocks[k].Select(a => (JsonNode)a).ToArray()), ["exit_code"] = procs[k].ExitCode });
                if (procs[k].ExitCode != 0)
                    throw new InvalidOperationException($"process {k} (agents {string.Join(',', blocks[k])}) exited with code {procs[k].ExitCode}: " +
                        LastLines(Path.Combine(nodesDir, $"node-{k}.log")));
            }
        }
        finally
        {
            foreach (var p in procs) { if (!p.HasExited) p.Kill(entireProcessTree: true); p.WaitForExit(); p.Dispose(); }
            foreach (var l in logs) lock (l) l.Dispose();
        }

        var reports = RunMerger.ReadReports([nodesDir], n);
        var result = RunMerger.Merge(reports, graph, cfg.Rounds, wall.Elapsed.TotalSeconds, plan,
            Parse.Federation.Attacks.AttackPlan.Of(cfg, plan.Pooled ? 0 : n).Attackers, topology.UnionOver(cfg.Rounds));
        var cluster = RunMerger.ClusterSummary(reports, new JsonObject { ["count"] = o.Processes, ["list"] = processes });
        File.WriteAllText(dir.File("cluster.json"), cluster.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        RunWriter.Write(dir, cfg, result);
        dir.Commit();
        return RunWriter.Summary(cfg, result);
    }

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
