using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Parse.Cluster.Checkpoints;
using Parse.Cluster.Runtime;
using Parse.Config;

namespace Parse.Cluster.Launch;

/// <summary>The faults a chaos trial injects (one per trial).</summary>
public enum ChaosFault
{
    /// <summary>kill -9 of one process after a random round, restarted with --resume after a random delay (0 to 3 s).</summary>
    Kill,
    /// <summary>kill -9 of one process while it writes a checkpoint (its temporary file exists), restarted after a random delay.</summary>
    KillMidCheckpoint,
    /// <summary>SIGSTOP of one process for 10 to 25 s, then SIGCONT.</summary>
    Pause,
    /// <summary>Random bytes and a frame header declaring 2 GiB sent to a node's TCP port.</summary>
    GarbageBytes,
    /// <summary>An admitted peer that also sends chunks declaring 2^31 - 1 parts.</summary>
    OversizedChunk,
    /// <summary>A process with the wrong secret tries to join (and should exit 3).</summary>
    WrongSecretJoiner,
    /// <summary>An admitted peer sending payloads that do not decode.</summary>
    GarbagePeer,
    /// <summary>An admitted peer sending parameters scaled by 1000.</summary>
    ScaledPeer,
    /// <summary>An admitted peer that also sends sealed payloads claiming to come from an agent of another process (honest receivers refuse and count them).</summary>
    ForgedSender,
    /// <summary>An admitted peer that also resends every round the sealed payload envelopes it sent the round before (refused as replays and counted).</summary>
    ReplayedPayload,
    /// <summary>
    /// kill -9 of one process and, at the same moment, SIGSTOP of another (a slow observer on a loaded machine) for a bit
    /// longer than the failure-detection pause, while the killed one restarts: when the stalled process resumes it hears
    /// neither other process at once (trial 36's picture). No process but the killed one may be downed.
    /// </summary>
    KillWithSlowObserver,
}

/// <summary>Options of <c>parse chaos</c>.</summary>
public sealed record ChaosOptions
{
    public required string ConfigPath { get; init; }
    public required int Processes { get; init; }
    public required int Trials { get; init; }
    public required string OutDir { get; init; }
    public IReadOnlyList<string> Sets { get; init; } = [];
    /// <summary>Command that starts the CLI, e.g. ["dotnet", "/path/Parse.Cli.dll"].</summary>
    public required IReadOnlyList<string> CliCommand { get; init; }
    /// <summary>Seed of the campaign (fault kinds, targets, moments, delays).</summary>
    public int Seed { get; init; } = 1;
    /// <summary>Faults to draw from (default: all).</summary>
    public IReadOnlyList<ChaosFault>? Faults { get; init; }
    /// <summary>A node still running this long after its trial started counts as hung (and is killed).</summary>
    public TimeSpan TrialTimeout { get; init; } = TimeSpan.FromMinutes(6);
}

/// <summary>The outcome of one chaos trial.</summary>
public sealed record ChaosTrial
{
    public int Trial { get; init; }
    public ChaosFault Fault { get; init; }
    public int Target { get; init; }
    public string Detail { get; set; } = "";
    public bool Finished { get; set; }
    public int HungNodes { get; set; }
    public int HealthyNodesDowned { get; set; }
    public int CorruptCheckpoints { get; set; }
    public int RoundsLost { get; set; }
    public int RoundsRedone { get; set; }
    public double Seconds { get; set; }
    public List<int> ExitCodes { get; set; } = new();
    public string Problem { get; set; } = "";
}

/// <summary>
/// <c>parse chaos</c>: a fault campaign on local addresses (127.0.0.1 only). Each trial starts the experiment as N
/// <c>parse node</c> processes (like <c>parse launch</c>), injects one fault drawn from the campaign's seed, waits for
/// every process, and checks the outcome: every agent completed every round, every process exited 0 (a wrong-secret
/// joiner exits 3), no checkpoint file fails its checksum, no process hung, and no process other than the faulty one
/// was removed from the cluster. Writes <c>chaos.json</c> and <c>chaos.md</c>, and each trial's node logs.
/// </summary>
public static class ChaosCampaign
{
    /// <summary>Config overrides every trial starts from (the campaign's own <c>--set</c> come after and win).</summary>
    /// <remarks>
    /// The 8 s failure-detection pause is for a heavily loaded machine (heartbeats were seen delayed by up to 5 s on 2
    /// cores shared by many processes); the SIGSTOP fault pauses 10 to 25 s, so it sometimes outlasts detection and
    /// the resolver's decision (the node is removed and rejoins) and sometimes not (it is unreachable, then back).
    /// </remarks>
    public static readonly IReadOnlyList<string> DefaultSets =
        ["cluster.checkpoint_every=2", "cluster.linger_ms=240000", "cluster.discovery_timeout_ms=60000", "cluster.failure_detection_ms=8000"];

    /// <summary>Overrides a <c>scaled-peer</c> trial adds when the campaign's config mixes with <c>metropolis</c>.</summary>
    public static readonly IReadOnlyList<string> ScaledPeerDefence = ["mixing.rule=clipped-gossip", "mixing.clip=1.0"];

    /// <summary>Runs the campaign; returns chaos.json's content. Throws <see cref="ConfigException"/> on bad input.</summary>
    public static JsonObject Run(ChaosOptions o, TextWriter log)
    {
        if (o.Trials < 1) throw new ConfigException($"--trials: must be >= 1 (got {o.Trials})");
        var sets = DefaultSets.Concat(o.Sets).ToList();
        var cfg = ConfigLoader.Load(o.ConfigPath, sets);
        var plan = Parse.Node.LearnerPlan.Of(cfg);
        int n = plan.LearnerTypes.Count;
        if (o.Processes < 2 || o.Processes > n)
            throw new ConfigException($"--processes: a chaos campaign needs 2..{n} processes (the experiment has {n} agents)");
        if (cfg.Cluster.CheckpointEvery < 1) throw new ConfigException("cluster.checkpoint_every: a chaos campaign needs checkpoints (>= 1)");
        Directory.CreateDirectory(o.OutDir);
        var faults = Pool(o.Faults);
        log.WriteLine($"faults drawn from: {string.Join(", ", faults.Select(Name))}");
        var draws = Draw(o.Seed, faults, o.Trials, o.Processes);
        var trials = new List<ChaosTrial>();
        var wall = Stopwatch.StartNew();
        for (int t = 0; t < o.Trials; t++)
        {
            var (fault, target, trialSeed) = draws[t];
            var trial = new ChaosTrial { Trial = t + 1, Fault = fault, Target = target };
            log.WriteLine($"[{DateTime.Now:HH:mm:ss}] trial {t + 1}/{o.Trials}: {fault} on process {trial.Target} ...");
            RunTrial(o, sets, cfg, n, trial, new Random(trialSeed), Path.Combine(o.OutDir, $"trial-{t + 1:D3}"), log);
            trials.Add(trial);
            int ok = trials.Count(x => x.Finished && x.Problem.Length == 0);
            log.WriteLine($"[{DateTime.Now:HH:mm:ss}] trial {t + 1}/{o.Trials}: {(trial.Finished ? "finished" : "NOT finished")} in {trial.Seconds:F0} s; {trial.Detail}" +
                (trial.Problem.Length > 0 ? $"; PROBLEM: {trial.Problem}" : "") + $"  [{ok}/{trials.Count} clean, {wall.Elapsed.TotalMinutes:F1} min]");
            WriteResults(o, cfg, sets, trials, wall.Elapsed.TotalSeconds);
        }
        return WriteResults(o, cfg, sets, trials, wall.Elapsed.TotalSeconds);
    }

    /// <summary>The faults a campaign draws from: <paramref name="chosen"/> without duplicates, or every fault if none is chosen.</summary>
    public static IReadOnlyList<ChaosFault> Pool(IReadOnlyList<ChaosFault>? chosen) =>
        chosen is { Count: > 0 } ? chosen.Distinct().ToList() : Enum.GetValues<ChaosFault>();

    /// <summary>
    /// Parses fault names as given to <c>parse chaos --fault</c>: each value may hold several comma-separated names, and the
    /// option may be repeated (<c>--fault kill --fault pause</c> and <c>--fault kill,pause</c> are the same).
    /// </summary>
    public static IReadOnlyList<ChaosFault> ParseFaults(IEnumerable<string> values)
    {
        var names = Enum.GetValues<ChaosFault>().ToDictionary(Name);
        return values.SelectMany(f => f.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .Select(f => names.TryGetValue(f, out var x) ? x : throw new ConfigException($"--fault: unknown fault '{f}' (expected {string.Join(", ", names.Keys)})"))
            .Distinct().ToList();
    }

    /// <summary>The campaign's draws from its seed: each trial's fault, target process and the seed of its own random choices (moments, delays).</summary>
    public static IReadOnlyList<(ChaosFault Fault, int Target, int TrialSeed)> Draw(int seed, IReadOnlyList<ChaosFault> faults, int trials, int processes)
    {
        var rng = new Random(seed);
        var draws = new List<(ChaosFault, int, int)>();
        for (int t = 0; t < trials; t++)
        {
            var fault = faults[rng.Next(faults.Count)];
            int target = rng.Next(processes);
            draws.Add((fault, target, rng.Next()));
        }
        return draws;
    }

    private static void RunTrial(ChaosOptions o, IReadOnlyList<string> sets, ExperimentConfig cfg, int n, ChaosTrial trial, Random rng, string dir, TextWriter log)
    {
        var clock = Stopwatch.StartNew();
        if (Directory.Exists(dir)) Directory.Delete(dir, true);
        string nodesDir = Path.Combine(dir, "nodes");
        Directory.CreateDirectory(nodesDir);
        int p = o.Processes;
        var ports = Launcher.FreePorts(p + 1);
        string seeds = string.Join(',', ports[..p].Select(x => $"127.0.0.1:{x}"));
        string secret = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
        var blocks = Enumerable.Range(0, p).Select(k => Enumerable.Range(0, n).Where(i => i * p / n == k).ToList()).ToList();
        string config = Path.GetFullPath(o.ConfigPath);
        // a peer sending parameters x 1000 is defended by a robust mixing rule, not by the transport: unless the campaign
        // chose a rule, the trial runs clipped gossip with a fixed radius (the adaptive radius, the round's median
        // distance, is the attacker's own distance for a group whose only neighbour is the attacker)
        if (trial.Fault == ChaosFault.ScaledPeer && cfg.Mixing.Rule == "metropolis")
            sets = [.. sets, .. ScaledPeerDefence];
        List<string> Args(int k, bool resume, string? fault, int port, string agents)
        {
            var a = new List<string> { "node", "--config", config, "--agent", agents, "--port", port.ToString(CultureInfo.InvariantCulture),
                "--seed-nodes", seeds, "--out", nodesDir };
            if (resume) a.Add("--resume");
            if (fault is not null) { a.Add("--fault"); a.Add(fault); }
            foreach (var s in sets) { a.Add("--set"); a.Add(s); }
            return a;
        }
        string? peerFault = trial.Fault switch
        {
            ChaosFault.GarbagePeer => nameof(PayloadFault.Garbage),
            ChaosFault.ScaledPeer => nameof(PayloadFault.Scaled),
            ChaosFault.OversizedChunk => nameof(PayloadFault.Oversized),
            ChaosFault.ForgedSender => nameof(PayloadFault.ForgedSender),
            ChaosFault.ReplayedPayload => nameof(PayloadFault.Replayed),
            _ => null,
        };
        // current and earlier incarnations of each process
        var current = new ChaosNode[p];
        var all = new List<(int Process, ChaosNode Node)>();
        ChaosNode? rogue = null;
        ChaosNode Start(int k, bool resume) =>
            new(o.CliCommand, Args(k, resume, k == trial.Target ? peerFault : null, ports[k], string.Join(',', blocks[k])), secret, Path.Combine(nodesDir, $"node-{k}.log"));
        var deadline = DateTime.UtcNow + o.TrialTimeout;
        int target = trial.Target;
        var targetAgents = blocks[target];
        int killedAt = 0, resumedFrom = -1;
        try
        {
            for (int k = 0; k < p; k++) { current[k] = Start(k, false); all.Add((k, current[k])); }
            // a moment in the run: after a random round (at most two thirds of the way) of the target's first agent
            int round = 1 + rng.Next(Math.Max(1, cfg.Rounds * 2 / 3));
            bool WaitRound(ChaosNode node, int r) => WaitFor(() => node.LastClosed(targetAgents[0]) >= r || node.HasExited, deadline) && !node.HasExited;
            switch (trial.Fault)
            {
                case ChaosFault.KillWithSlowObserver:
                {
                    var node = current[target];
                    if (!WaitRound(node, round)) break;
                    int q = (target + 1) % p;
                    // stalled past the failure detector (so that it suspects both others when it resumes) but well short
                    // of detection + down-after (so that nobody has reason to down it)
                    int stallMs = cfg.Cluster.FailureDetectionMs + 1000 + rng.Next(3000);
                    killedAt = node.LastClosed(targetAgents[0]);
                    node.Kill();
                    var stall = Stopwatch.StartNew();
                    bool stopped = current[q].Pause(stop: true);
                    double delay = new[] { 0.0, 1.0, 3.0 }[rng.Next(3)];
                    Thread.Sleep(TimeSpan.FromSeconds(delay));
                    current[target] = Start(target, resume: true);
                    all.Add((target, current[target]));
                    var left = TimeSpan.FromMilliseconds(stallMs) - stall.Elapsed;
                    if (left > TimeSpan.Zero) Thread.Sleep(left);
                    current[q].Pause(stop: false);
                    trial.Detail = $"kill -9 after round {killedAt}, restart after {delay:F1} s; " +
                        (stopped ? $"process {q} stalled (SIGSTOP) for {stall.Elapsed.TotalSeconds:F1} s from the kill" : "SIGSTOP not available");
                    break;
                }
                case ChaosFault.Kill:
                case ChaosFault.KillMidCheckpoint:
                {
                    var node = current[target];
                    int caught = -1;
                    if (trial.Fault == ChaosFault.Kill)
                    {
                        if (!WaitRound(node, round)) break;
                    }
                    else
                    {
                        // a random checkpoint write of the run (not always the first): wait until the target is one round
                        // short of it, then poll for a temporary checkpoint file of that round or later; kill as soon as one is seen
                        int at = CheckpointRound(cfg, rng);
                        string ckpts = Path.Combine(nodesDir, "checkpoints");
                        if (at > 1 && !WaitRound(node, at - 1)) break;
                        var until = DateTime.UtcNow.AddSeconds(60);
                        while (DateTime.UtcNow < until && !node.HasExited)
                        {
                            if (Directory.Exists(ckpts) && (caught = TemporaryCheckpointRound(ckpts, targetAgents, at)) >= 0) break;
                            Thread.Sleep(1);
                        }
                    }
                    killedAt = node.LastClosed(targetAgents[0]);
                    node.Kill();
                    double delay = new[] { 0.0, 0.0, 0.2, 0.5, 1.0, 3.0 }[rng.Next(6)];
                    trial.Detail = $"kill -9 after round {killedAt}{(trial.Fault == ChaosFault.KillMidCheckpoint ? (caught >= 0 ? $" while the checkpoint of round {caught} was being written" : " (no checkpoint write caught in 60 s)") : "")}, restart after {delay:F1} s";
                    Thread.Sleep(TimeSpan.FromSeconds(delay));
                    current[target] = Start(target, resume: true);
                    all.Add((target, current[target]));
                    break;
                }
                case ChaosFault.Pause:
                {
                    var node = current[target];
                    if (!WaitRound(node, round)) break;
                    int seconds = 10 + rng.Next(16);
                    bool paused = node.Pause(stop: true);
                    Thread.Sleep(TimeSpan.FromSeconds(seconds));
                    node.Pause(stop: false);
                    trial.Detail = paused ? $"SIGSTOP for {seconds} s after round {round}, then SIGCONT" : "SIGSTOP not available";
                    break;
                }
                case ChaosFault.GarbageBytes:
                {
                    if (!WaitRound(current[target], round)) break;
                    int sent = SendGarbage(ports[target], rng);
                    trial.Detail = $"{sent} garbage bytes (and a 2 GiB frame header) to port {ports[target]} after round {round}";
                    break;
                }
                case ChaosFault.WrongSecretJoiner:
                {
                    // started with the honest processes: a process takes about as long to come up as a short run lasts on a
                    // loaded machine, so a joiner started mid-run often found the run over; this way it joins while the
                    // cluster forms or runs
                    var args = Args(p, false, null, ports[p], blocks[target][0].ToString(CultureInfo.InvariantCulture));
                    args[args.IndexOf("--out") + 1] = Path.Combine(dir, "rogue");
                    rogue = new ChaosNode(o.CliCommand, args, "wrong-" + secret, Path.Combine(dir, "rogue.log"));
                    trial.Detail = $"a process with the wrong secret claiming agent {blocks[target][0]} started with the honest ones";
                    break;
                }
                default:
                    trial.Detail = $"process {target} runs with --fault {peerFault} from the start" +
                        (trial.Fault == ChaosFault.ScaledPeer && cfg.Mixing.Rule == "metropolis" ? $" (defence: {string.Join(", ", ScaledPeerDefence)})" : "");
                    break;
            }

            if (trial.Detail.Length == 0) trial.Detail = $"fault not injected: process {target} exited or the trial timed out before round {round}";
            // wait for everything, then judge
            foreach (var node in current.Append(rogue).OfType<ChaosNode>())
                if (!node.WaitUntil(deadline))
                {
                    trial.HungNodes++;
                    node.Kill();
                }
            trial.ExitCodes = current.Select(x => x.ExitCode).ToList();
            var problems = new List<string>();
            for (int k = 0; k < p; k++)
                if (current[k].ExitCode != 0) problems.Add($"process {k} exited {current[k].ExitCode}");
            if (rogue is not null)
            {
                // a joiner that only came up after every honest process had left found no cluster: "could not join" (4) is
                // right then, and the fault was not really injected; otherwise it must be refused: exit 3, not admitted
                bool runOver = rogue.ReadyAt is { } ready && current.All(x => x.ExitedAt is { } e && e <= ready);
                if (runOver && rogue.ExitCode == NodeHost.ExitNotJoined)
                    trial.Detail += "; the joiner came up after the run had ended (could not join, exit 4): not injected";
                else if (rogue.ExitCode != NodeHost.ExitNotAdmitted)
                    problems.Add($"the wrong-secret joiner exited {rogue.ExitCode} (expected {NodeHost.ExitNotAdmitted}, not admitted)");
                else trial.Detail += "; the joiner exited 3 (not admitted)";
            }
            // a healthy process is one the fault did not target (a peer fault's sender is healthy at the process level too)
            // (the slow observer of kill-with-slow-observer counts as healthy: it was only slow, never gone for long)
            bool processFault = trial.Fault is ChaosFault.Kill or ChaosFault.KillMidCheckpoint or ChaosFault.Pause or ChaosFault.KillWithSlowObserver;
            for (int k = 0; k < p; k++)
            {
                if (processFault && k == target) continue;
                var outputs = all.Where(x => x.Process == k).Select(x => x.Node.Output);
                if (outputs.Any(x => x.Contains("this node was removed from the cluster") || x.Contains("this node was downed") || x.Contains("rejoining the cluster")))
                {
                    trial.HealthyNodesDowned++;
                    problems.Add($"healthy process {k} was removed from the cluster");
                }
            }
            trial.CorruptCheckpoints = CountCorrupt(Path.Combine(nodesDir, "checkpoints"), problems);
            for (int a = 0; a < n; a++)
            {
                string path = Path.Combine(nodesDir, AgentReport.FileName(a));
                AgentReport? r = null;
                try { if (File.Exists(path)) r = AgentReport.Read(path); }
                catch (Exception e) when (e is IOException or JsonException) { problems.Add($"agent {a}: unreadable report ({e.Message})"); }
                int done = r?.RoundsCompleted ?? 0;
                if (done < cfg.Rounds) { trial.RoundsLost += cfg.Rounds - done; problems.Add($"agent {a} completed {done}/{cfg.Rounds} rounds"); }
                if (r is not null && targetAgents.Contains(a) && trial.Fault is ChaosFault.Kill or ChaosFault.KillMidCheckpoint or ChaosFault.KillWithSlowObserver && r.ResumedFromRound >= 0)
                {
                    int before = all.Where(x => x.Process == target && x.Node.Killed).Select(x => x.Node.LastClosed(a)).DefaultIfEmpty(0).Max();
                    trial.RoundsRedone += Math.Max(0, before - r.ResumedFromRound);
                    if (a == targetAgents[0]) resumedFrom = r.ResumedFromRound;
                }
            }
            if (resumedFrom >= 0) trial.Detail += $"; resumed from round {resumedFrom}";
            // a forged or replayed message must be refused and counted by the honest receivers (never mixed)
            string? refusedKind = trial.Fault switch { ChaosFault.ForgedSender => "forged_sender", ChaosFault.ReplayedPayload => "replayed", _ => null };
            if (refusedKind is not null)
            {
                long refused = Enumerable.Range(0, n).Where(a => !targetAgents.Contains(a)).Select(a => Path.Combine(nodesDir, AgentReport.FileName(a)))
                    .Where(File.Exists).Sum(path => { try { return AgentReport.Read(path).Security.GetValueOrDefault(refusedKind); } catch (Exception e) when (e is IOException or JsonException) { return 0; } });
                trial.Detail += $"; {refused} {refusedKind.Replace('_', ' ')} messages refused by the honest agents";
                if (refused == 0) problems.Add($"no {refusedKind.Replace('_', ' ')} message was refused and counted by the honest agents");
            }
            if (trial.HungNodes > 0) problems.Add($"{trial.HungNodes} process(es) hung past {o.TrialTimeout.TotalSeconds:F0} s");
            trial.Finished = current.All(x => x.ExitCode == 0) && trial.RoundsLost == 0 && trial.HungNodes == 0;
            trial.Problem = string.Join("; ", problems);
        }
        finally
        {
            foreach (var (_, node) in all) node.Dispose();
            rogue?.Dispose();
            trial.Seconds = clock.Elapsed.TotalSeconds;
        }
    }

    /// <summary>
    /// The round of a random checkpoint write for <c>kill-mid-checkpoint</c>: one of the rounds a checkpoint is written
    /// after (multiples of <c>cluster.checkpoint_every</c>, and the last round) within the first two thirds of the run, or
    /// the first checkpoint round if the run is too short for a choice.
    /// </summary>
    public static int CheckpointRound(ExperimentConfig cfg, Random rng)
    {
        int every = Math.Max(1, cfg.Cluster.CheckpointEvery);
        var rounds = Enumerable.Range(1, cfg.Rounds).Where(r => r % every == 0 || r == cfg.Rounds).ToList();
        var early = rounds.Where(r => r <= Math.Max(every, cfg.Rounds * 2 / 3)).ToList();
        var pool = early.Count > 0 ? early : rounds;
        return pool[rng.Next(pool.Count)];
    }

    /// <summary>The round of a temporary checkpoint file (<c>agent-A-rROUND.ckpt.tmp-PID</c>) of one of <paramref name="agents"/> for round <paramref name="from"/> or later in <paramref name="dir"/>, or -1.</summary>
    internal static int TemporaryCheckpointRound(string dir, IReadOnlyList<int> agents, int from)
    {
        foreach (int a in agents)
            foreach (var f in Directory.EnumerateFiles(dir, $"agent-{a}-r*.ckpt.tmp-*"))
            {
                string name = Path.GetFileName(f);
                int r0 = name.IndexOf("-r", StringComparison.Ordinal) + 2, r1 = name.IndexOf(".ckpt", StringComparison.Ordinal);
                if (r0 >= 2 && r1 > r0 && int.TryParse(name.AsSpan(r0, r1 - r0), NumberStyles.None, CultureInfo.InvariantCulture, out int r) && r >= from) return r;
            }
        return -1;
    }

    private static bool WaitFor(Func<bool> condition, DateTime until)
    {
        while (!condition())
        {
            if (DateTime.UtcNow >= until) return false;
            Thread.Sleep(50);
        }
        return true;
    }

    /// <summary>Connects to 127.0.0.1:<paramref name="port"/> a few times and writes random bytes; returns how many were written.</summary>
    private static int SendGarbage(int port, Random rng)
    {
        int total = 0;
        for (int i = 0; i < 3; i++)
        {
            try
            {
                using var c = new TcpClient();
                c.Connect(IPAddress.Loopback, port);
                using var s = c.GetStream();
                s.WriteTimeout = 2000;
                var header = i == 0 ? new byte[] { 0x7f, 0xff, 0xff, 0xff } : [];   // a frame that declares 2 GiB
                var junk = new byte[16 << 10];
                rng.NextBytes(junk);
                s.Write(header);
                s.Write(junk);
                total += header.Length + junk.Length;
            }
            catch (Exception e) when (e is SocketException or IOException) { }
        }
        return total;
    }

    private static int CountCorrupt(string dir, List<string> problems)
    {
        if (!Directory.Exists(dir)) return 0;
        int bad = 0;
        foreach (var f in Directory.EnumerateFiles(dir, "*.ckpt"))
            if (CheckpointStore.TryRead(f, out string why) is null)
            {
                bad++;
                problems.Add($"corrupt checkpoint {Path.GetFileName(f)}: {why}");
            }
        return bad;
    }

    private static JsonObject WriteResults(ChaosOptions o, ExperimentConfig cfg, IReadOnlyList<string> sets, List<ChaosTrial> trials, double seconds)
    {
        var byFault = new JsonObject();
        foreach (var g in trials.GroupBy(t => t.Fault).OrderBy(g => g.Key))
            byFault[Name(g.Key)] = new JsonObject
            {
                ["trials"] = g.Count(), ["finished"] = g.Count(t => t.Finished), ["hung_nodes"] = g.Sum(t => t.HungNodes),
                ["healthy_nodes_downed"] = g.Sum(t => t.HealthyNodesDowned), ["corrupt_checkpoints"] = g.Sum(t => t.CorruptCheckpoints),
                ["rounds_lost"] = g.Sum(t => t.RoundsLost), ["rounds_redone"] = g.Sum(t => t.RoundsRedone),
                ["mean_seconds"] = Math.Round(g.Average(t => t.Seconds), 1),
            };
        var result = new JsonObject
        {
            ["config"] = Path.GetFullPath(o.ConfigPath),
            ["sets"] = new JsonArray(sets.Select(s => (JsonNode)s).ToArray()),
            ["faults"] = new JsonArray(Pool(o.Faults).Select(f => (JsonNode)Name(f)).ToArray()),
            ["processes"] = o.Processes,
            ["rounds"] = cfg.Rounds,
            ["seed"] = o.Seed,
            ["trials"] = trials.Count,
            ["finished"] = trials.Count(t => t.Finished),
            ["corrupt_checkpoints"] = trials.Sum(t => t.CorruptCheckpoints),
            ["hung_nodes"] = trials.Sum(t => t.HungNodes),
            ["healthy_nodes_downed"] = trials.Sum(t => t.HealthyNodesDowned),
            ["rounds_lost"] = trials.Sum(t => t.RoundsLost),
            ["rounds_redone"] = trials.Sum(t => t.RoundsRedone),
            ["wall_seconds"] = Math.Round(seconds, 1),
            ["by_fault"] = byFault,
            ["trial_list"] = new JsonArray(trials.Select(t => (JsonNode)new JsonObject
            {
                ["trial"] = t.Trial, ["fault"] = Name(t.Fault), ["target_process"] = t.Target, ["detail"] = t.Detail, ["finished"] = t.Finished,
                ["hung_nodes"] = t.HungNodes, ["healthy_nodes_downed"] = t.HealthyNodesDowned, ["corrupt_checkpoints"] = t.CorruptCheckpoints,
                ["rounds_lost"] = t.RoundsLost, ["rounds_redone"] = t.RoundsRedone, ["seconds"] = Math.Round(t.Seconds, 1),
                ["exit_codes"] = new JsonArray(t.ExitCodes.Select(c => (JsonNode)c).ToArray()), ["problem"] = t.Problem,
            }).ToArray()),
        };
        Parse.Reporting.AtomicFile.WriteAllText(Path.Combine(o.OutDir, "chaos.json"), result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        Parse.Reporting.AtomicFile.WriteAllText(Path.Combine(o.OutDir, "chaos.md"), Markdown(result, trials));
        return result;
    }

    /// <summary>The fault's name in outputs (kebab case).</summary>
    public static string Name(ChaosFault f) => string.Concat(f.ToString().Select((c, i) => char.IsUpper(c) && i > 0 ? "-" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));

    private static string Markdown(JsonObject r, List<ChaosTrial> trials)
    {
        var sb = new StringBuilder();
        sb.AppendLine("# Chaos campaign");
        sb.AppendLine();
        sb.AppendLine($"{r["trials"]} trials, {r["processes"]} processes, {r["rounds"]} rounds, seed {r["seed"]}, {r["wall_seconds"]} s wall.");
        sb.AppendLine();
        sb.AppendLine("| finished | corrupt checkpoints | hung nodes | healthy nodes downed | rounds lost | rounds redone after restarts |");
        sb.AppendLine("|---:|---:|---:|---:|---:|---:|");
        sb.AppendLine($"| {r["finished"]}/{r["trials"]} | {r["corrupt_checkpoints"]} | {r["hung_nodes"]} | {r["healthy_nodes_downed"]} | {r["rounds_lost"]} | {r["rounds_redone"]} |");
        sb.AppendLine();
        sb.AppendLine("| fault | trials | finished | hung | healthy downed | corrupt ckpt | rounds lost | rounds redone | mean s |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var (name, v) in r["by_fault"]!.AsObject())
            sb.AppendLine($"| {name} | {v!["trials"]} | {v["finished"]} | {v["hung_nodes"]} | {v["healthy_nodes_downed"]} | {v["corrupt_checkpoints"]} | {v["rounds_lost"]} | {v["rounds_redone"]} | {v["mean_seconds"]} |");
        var bad = trials.Where(t => !t.Finished || t.Problem.Length > 0).ToList();
        sb.AppendLine();
        sb.AppendLine(bad.Count == 0 ? "Every trial finished cleanly." : "Trials with problems:");
        foreach (var t in bad) sb.AppendLine($"- trial {t.Trial} ({Name(t.Fault)}, process {t.Target}): {t.Detail}. {t.Problem}");
        return sb.ToString();
    }
}
