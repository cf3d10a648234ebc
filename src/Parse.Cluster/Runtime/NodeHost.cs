using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Configuration;
using Parse.Cluster.Checkpoints;
using Parse.Cluster.Discovery;
using Parse.Config;
using Parse.Data;
using Parse.Federation.Mixing;
using Parse.Federation.Payload;
using Parse.Federation.Topology;
using Parse.Node;
using Parse.Simulation;
using Parse.Util;
using TorchSharp;

namespace Parse.Cluster.Runtime;

/// <summary>
/// Runs one process of a cluster run: builds its agents' cores from the shared experiment file (the same
/// <see cref="ExperimentSetup"/> and <see cref="AgentCore"/> as the simulator), starts an Akka cluster node with a directory actor and one actor per
/// agent, and returns when every local agent has finished (and its neighbours have, or the linger time is over).
/// </summary>
public static class NodeHost
{
    /// <summary>Exit code when this node is refused by its peers or removed from the cluster.</summary>
    public const int ExitNotAdmitted = 3;

    /// <summary>Exit code when the node could not join the cluster through its seed nodes in time.</summary>
    public const int ExitNotJoined = 4;

    /// <summary>Actor name of an agent (<c>/user/agent-ID</c>).</summary>
    public static string AgentActorName(int agent) => $"agent-{agent}";

    /// <summary>Runs the node; returns the process exit code. Bad input throws <see cref="ConfigException"/>.</summary>
    public static int Run(NodeOptions o, TextWriter log, CancellationToken ct = default)
    {
        var logLock = new object();
        void Log(string line) { lock (logLock) { log.WriteLine($"[{DateTime.Now:HH:mm:ss.fff}] {line}"); log.Flush(); } }

        string baseDir = Path.GetDirectoryName(Path.GetFullPath(o.ConfigPath)) ?? ".";
        var cfg = ConfigLoader.Load(o.ConfigPath, o.Sets);
        if (string.IsNullOrEmpty(o.Secret) && !o.Insecure)
            throw new ConfigException("--secret: no experiment secret (--secret or $PARSE_SECRET); without one any process that reaches a seed " +
                                      "node is admitted. Give every process the same secret, or pass --insecure to run without admission (testing only)");
        if (o.Agents.Count == 0) throw new ConfigException("--agent: name at least one agent id");
        if (o.Port is < 0 or > 65535) throw new ConfigException($"--port: {o.Port} is not a TCP port");
        if (o.SeedNodes.Count == 0) throw new ConfigException("--seed-nodes: name at least one HOST:PORT");
        foreach (var s in o.SeedNodes)
            if (s.LastIndexOf(':') is var c && (c <= 0 || !int.TryParse(s[(c + 1)..], out _)))
                throw new ConfigException($"--seed-nodes: '{s}' is not HOST:PORT");
        var plan = LearnerPlan.Of(cfg);
        foreach (int a in o.Agents)
            if (a < 0 || a >= plan.LearnerTypes.Count)
                throw new ConfigException(plan.Pooled
                    ? $"--agent {a}: strategy centralized has one pooled learner per agent type ({plan.LearnerTypes.Count}: ids 0..{plan.LearnerTypes.Count - 1})"
                    : $"--agent {a}: the experiment has {plan.LearnerTypes.Count} agents (ids 0..{plan.LearnerTypes.Count - 1})");

        torch.set_num_threads(1);
        string fingerprint = ConfigFingerprint.Of(cfg);
        // every process derives the same population, data and partition from the shared file and seed (the simulator's
        // own builder), and builds only its agents
        using var setup = ExperimentSetup.Build(cfg, baseDir, o.Agents.ToHashSet(), ct);
        if (setup.Topology.TimeVarying && !setup.Pooled)
            throw new ConfigException($"topology.kind: '{cfg.Topology.Kind}' changes every round; the cluster runtime supports static topologies only");
        // what discovery may believe: the overlays this config implies (a peer announcing keys its type lacks, or a
        // repair report adding a link the config does not have, is refused)
        var discoveryPolicy = setup.Pooled ? null : DiscoveryPolicy.Of(new ExpectedOverlays(setup).Warm());
        Directory.CreateDirectory(o.OutDir);
        var store = new CheckpointStore(Path.Combine(o.OutDir, "checkpoints"));
        foreach (int a in o.Agents.Distinct())
            foreach (var stale in store.RemoveStaleTemporaries(a)) Log($"agent {a}: removed {Path.GetFileName(stale)} left by a writer that was killed mid-write");

        bool resume = o.Resume;
        for (int incarnation = 0; ; incarnation++)
        {
            var outcome = RunIncarnation(o, cfg, baseDir, setup, discoveryPolicy, store, fingerprint, resume, Log, ct);
            if (outcome.Code != ExitRemoved) return outcome.Code;
            if (!cfg.Cluster.Rejoin || incarnation >= cfg.Cluster.MaxRejoins)
            {
                Log(cfg.Cluster.Rejoin ? $"removed again after {incarnation} rejoin(s) (cluster.max_rejoins); giving up" : "cluster.rejoin is off; exiting");
                return ExitNotAdmitted;
            }
            // a node the cluster removed (e.g. paused longer than the failure detector tolerates) comes back as a new
            // incarnation: a fresh actor system on the same address, its agents restored from their last checkpoints
            Log($"rejoining the cluster as a new incarnation ({incarnation + 1}/{cfg.Cluster.MaxRejoins}), agents resuming from their last checkpoints");
            resume = true;
        }
    }

    /// <summary>Exit code when an agent failed (training, mixing, I/O); the log names the agent and the error.</summary>
    public const int ExitAgentFailed = 1;

    /// <summary>Exit code when an unfinished agent closed no round for <c>cluster.stall_timeout_ms</c> (the watchdog).</summary>
    public const int ExitStalled = 5;

    /// <summary>Internal: the cluster removed this node; it rejoins (see <c>cluster.rejoin</c>) or exits with <see cref="ExitNotAdmitted"/>.</summary>
    private const int ExitRemoved = -1;

    private readonly record struct Outcome(int Code);

    /// <summary>The stall watchdog's limit: <c>cluster.stall_timeout_ms</c>, or (0) twice the discovery timeout plus the round deadline, plus a minute.</summary>
    public static int StallTimeoutMs(ExperimentConfig cfg) => cfg.Cluster.StallTimeoutMs > 0 ? cfg.Cluster.StallTimeoutMs
        : (int)Math.Min(int.MaxValue, 2L * (cfg.Cluster.DiscoveryTimeoutMs + (long)cfg.Timing.DeadlineMs) + 60_000);

    private static Outcome RunIncarnation(NodeOptions o, ExperimentConfig cfg, string baseDir, ExperimentSetup setup, DiscoveryPolicy? discoveryPolicy, CheckpointStore store, string fingerprint,
        bool resume, Action<string> Log, CancellationToken ct)
    {
        var agents = new List<AgentCore>();
        var views = new Dictionary<int, DiscoveredOverlays>();
        var resumedFrom = new Dictionary<int, int>();
        try
        {
            foreach (int i in o.Agents.Distinct().Order())
            {
                var view = new DiscoveredOverlays();
                views[i] = view;
                var core = new AgentCore(setup.CreateLearner(i), cfg, view, setup.Data.Test, setup.Strategy, MixerRegistry.Create(cfg), PayloadPipeline.Create(cfg), setup.Attacks);
                agents.Add(core);
                resumedFrom[i] = 0;
                if (!resume) continue;
                var c = store.TryLoadLatest(i);
                foreach (var bad in store.Corrupt) Log($"agent {i}: ignoring corrupt checkpoint {bad}");
                if (c is null) { Log($"agent {i}: no good checkpoint; starting from round 0"); continue; }
                // a checkpoint of another config or shape is refused here, before any actor runs (exit code 2)
                AgentCheckpoint.Restore(c, core, fingerprint, store.Directory);
                resumedFrom[i] = c.Round;
                Log($"agent {i}: resuming after round {c.Round}");
            }
        }
        catch
        {
            foreach (var a in agents) a.Dispose();
            throw;
        }

        var finished = new ConcurrentDictionary<int, AgentReport>();
        var settled = new ConcurrentDictionary<int, bool>();
        var progress = new ConcurrentDictionary<int, DateTime>(agents.ToDictionary(a => a.Id, _ => DateTime.UtcNow));
        var allDone = new TaskCompletionSource();
        var allSettled = new TaskCompletionSource();
        string? fatal = null;
        int exitCode = 0;
        bool leaving = false;
        void Fail(string why, int code)
        {
            if (Volatile.Read(ref leaving)) return;   // our own leave shows up as "removed"
            if (Interlocked.CompareExchange(ref fatal, why, null) is not null) return;
            exitCode = code;
            Log("error: " + why);
            allDone.TrySetResult();
            allSettled.TrySetResult();
        }

        var keys = new Parse.Cluster.Protocol.PeerKeys(o.Secret, ConfigFingerprint.ForWire(cfg));
        var system = ActorSystem.Create(AkkaConfig.SystemName, AkkaConfig.Setup(o, cfg, baseDir));
        IActorRef? directory = null;
        try
        {
            var refs = new List<IActorRef>();
            foreach (var a in agents)
            {
                var agentSetup = new AgentSetup(cfg, a, views[a.Id], setup.BaseNeighbours(a.Id), setup.Ceiling(a.Id), o.OutDir, store, resumedFrom[a.Id], o.Fault,
                    r =>
                    {
                        finished[r.Agent] = r;
                        progress.TryRemove(r.Agent, out _);
                        Log($"agent {r.Agent}: finished {r.RoundsCompleted} rounds, accuracy {r.FinalAccuracy:F3}");
                        if (r.RoundsCompleted >= cfg.Rounds) directory?.Tell(new LocalAgentFinished(r.Agent));
                        if (finished.Count == agents.Count) allDone.TrySetResult();
                    },
                    id => { settled[id] = true; if (settled.Count == agents.Count) allSettled.TrySetResult(); },
                    why => Fail(why, ExitAgentFailed),
                    Log,
                    discoveryPolicy)
                {
                    Keys = keys,
                    Fingerprint = fingerprint,
                    StopAfterRound = o.StopAfterRound,
                    OnProgress = (id, round) => { if (progress.ContainsKey(id)) progress[id] = DateTime.UtcNow; Log($"agent {id}: round {round} closed"); },
                };
                refs.Add(system.ActorOf(Props.Create(() => new AgentActor(agentSetup)).WithDispatcher("parse-agent-dispatcher").WithMailbox("parse-agent-mailbox"), AgentActorName(a.Id)));
            }
            Action<string> logLine = Log;
            Action<string> notAdmitted = why => Fail(why, ExitNotAdmitted);
            Action<string> removed = why => Fail(why, ExitRemoved);
            bool everAdmitted = false;
            Action admitted = () => Volatile.Write(ref everAdmitted, true);
            // a peer's proof failed while this node had admitted no one: it never ends with exit 0 unless it admits someone
            string? refusal = null;
            Action<string> untrusted = why => Interlocked.CompareExchange(ref refusal, why, null);
            string NotAdmitted(string what) => $"not admitted: {what} ({Volatile.Read(ref refusal)}); check --secret / $PARSE_SECRET and the config (every process must use the same)";
            var ids = agents.Select(a => a.Id).ToArray();
            int grace = cfg.Cluster.DiscoveryTimeoutMs;
            // since when every other process has left the cluster on its own (null: not deserted)
            var desertedLock = new object();
            DateTime? desertedSince = null;
            Action<bool> deserted = d => { lock (desertedLock) desertedSince = d ? desertedSince ?? DateTime.UtcNow : null; };
            directory = system.ActorOf(Props.Create(() => new DirectoryActor(o.Secret, keys, ids, refs, logLine, notAdmitted, removed, admitted, grace, untrusted, deserted)), "directory");
            foreach (var r in finished.Values.Where(r => r.RoundsCompleted >= cfg.Rounds)) directory.Tell(new LocalAgentFinished(r.Agent));
            if (string.IsNullOrEmpty(o.Secret))
                Log("warning: --insecure: no experiment secret; any process that reaches a seed node is admitted");
            Log($"config fingerprint {ConfigFingerprint.Short(keys.Fingerprint)}; TLS {(cfg.Cluster.Tls.Enabled ? "on (mutual)" : "off")}");
            Log($"node {o.Host}:{o.Port} hosting agents {string.Join(',', agents.Select(a => a.Id))}; seeds {string.Join(',', o.SeedNodes)}");
            // a node the cluster downs shuts its actor system down; that must end the wait, never leave it hanging
            // (a node nobody admitted, e.g. one with a wrong secret, does not rejoin)
            system.WhenTerminated.ContinueWith(_ =>
            {
                if (Volatile.Read(ref everAdmitted)) Fail("the actor system terminated (this node was downed)", ExitRemoved);
                else Fail("not admitted: the actor system terminated (this node was downed before it admitted any peer; wrong experiment secret or config?)", ExitNotAdmitted);
            });

            // never wait forever for a cluster that is not there: give up if this node is not Up in time
            // (WeaklyUp counts: the directory admits WeaklyUp peers, and a rejoin while a crashed incarnation is
            // still being removed may sit in WeaklyUp for a while on a loaded machine)
            if (!WaitUntilJoined(Akka.Cluster.Cluster.Get(system), allDone.Task, cfg.Cluster.DiscoveryTimeoutMs, Log, ct))
            {
                // refused while joining (the honest members downed it, or their proofs failed here): that is "not admitted"
                if (Volatile.Read(ref refusal) is not null && !Volatile.Read(ref everAdmitted))
                    Fail(NotAdmitted($"did not join the cluster within {cfg.Cluster.DiscoveryTimeoutMs} ms and admitted no peer"), ExitNotAdmitted);
                else Fail($"could not join the cluster through the seed nodes {string.Join(',', o.SeedNodes)} within " +
                     $"{cfg.Cluster.DiscoveryTimeoutMs} ms (cluster.discovery_timeout_ms); are they running and reachable?", ExitNotJoined);
            }
            // the watchdog: every wait has a limit; an agent that closes no round for the stall timeout ends the node
            int stallMs = StallTimeoutMs(cfg);
            while (!allDone.Task.IsCompleted)
            {
                Task.WaitAny([allDone.Task], 1000, ct);
                ct.ThrowIfCancellationRequested();
                foreach (var (id, at) in progress)
                    if ((DateTime.UtcNow - at).TotalMilliseconds > stallMs && !finished.ContainsKey(id))
                        Fail($"agent {id}: no round closed for {stallMs} ms (cluster.stall_timeout_ms); the node gives up instead of waiting forever", ExitStalled);
            }
            if (fatal is null)
            {
                // stay reachable while neighbours still run, so that they finish (and restarted peers can rejoin); but not
                // once every other process has left on its own: nobody is left to say that a neighbour finished
                var lingerEnd = DateTime.UtcNow.AddMilliseconds(cfg.Cluster.LingerMs);
                int desertedMs = DesertedGraceMs(cfg);
                while (!allSettled.Task.IsCompleted)
                {
                    if (DateTime.UtcNow >= lingerEnd) { Log($"linger of {cfg.Cluster.LingerMs} ms over; leaving with neighbours still running"); break; }
                    DateTime? since;
                    lock (desertedLock) since = desertedSince;
                    if (since is { } t && (DateTime.UtcNow - t).TotalMilliseconds >= desertedMs)
                    {
                        Log($"every other process has left the cluster (none was downed) for {desertedMs} ms: no neighbour can still report; leaving");
                        break;
                    }
                    Task.WaitAny([allSettled.Task], 250, ct);
                    ct.ThrowIfCancellationRequested();
                }
            }
            // a node that saw proofs fail and never admitted anyone did not take part in the experiment, whatever its agents did
            if (fatal is null && Volatile.Read(ref refusal) is not null && !Volatile.Read(ref everAdmitted))
                Fail(NotAdmitted("admitted no peer"), ExitNotAdmitted);
        }
        finally
        {
            Volatile.Write(ref leaving, true);
            try { CoordinatedShutdown.Get(system).Run(CoordinatedShutdown.ClrExitReason.Instance).Wait(TimeSpan.FromSeconds(10)); }
            catch (AggregateException) { }
            system.Terminate().Wait(TimeSpan.FromSeconds(10));
            foreach (var a in agents) a.Dispose();
        }
        return new Outcome(fatal is null ? 0 : exitCode);
    }

    /// <summary>How long a node whose agents are done waits, once every other process has left the cluster on its own, before it stops lingering: twice <c>cluster.discovery_quiet_ms</c>, at least 5 s.</summary>
    public static int DesertedGraceMs(ExperimentConfig cfg) => Math.Max(5000, 2 * cfg.Cluster.DiscoveryQuietMs);

    /// <summary>True once this node is WeaklyUp or Up (or its agents are already done); false after <paramref name="timeoutMs"/>.</summary>
    private static bool WaitUntilJoined(Akka.Cluster.Cluster cluster, Task done, int timeoutMs, Action<string> log, CancellationToken ct)
    {
        var started = DateTime.UtcNow;
        var giveUp = started.AddMilliseconds(timeoutMs);
        while (!done.IsCompleted)
        {
            var status = cluster.SelfMember.Status;
            if (status is Akka.Cluster.MemberStatus.Up or Akka.Cluster.MemberStatus.WeaklyUp)
            {
                log($"joined the cluster ({status}) after {(DateTime.UtcNow - started).TotalSeconds:F1} s");
                return true;
            }
            if (DateTime.UtcNow >= giveUp) return false;
            Task.WaitAny([done], 200, ct);
        }
        return true;
    }
}
