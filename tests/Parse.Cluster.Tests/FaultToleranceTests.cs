using Parse.Cluster.Launch;
using Parse.Cluster.Runtime;

namespace Parse.Cluster.Tests;

/// <summary>(b)-(d) with real node processes on loopback: crash and resume, corrupt payloads, a node without the secret.</summary>
[Collection("processes")]
public sealed class FaultToleranceTests : IDisposable
{
    private const string Secret = "test-secret";
    private readonly string _dir = Directory.CreateTempSubdirectory("parse-faults").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private static string[] NodeArgs(string cfg, string agents, int port, int[] ports, string outDir, params string[] extra) =>
        ["--config", cfg, "--agent", agents, "--port", port.ToString(), "--seed-nodes", string.Join(',', ports.Select(p => $"127.0.0.1:{p}")),
         "--out", outDir, .. extra];

    [Fact]
    public void A_killed_process_is_dropped_by_the_rest_and_rejoins_with_resume()
    {
        string cfg = ClusterConfigs.Write(_dir, ClusterConfigs.Small
            .Replace("rounds: 6", "rounds: 24").Replace("local_steps: 4", "local_steps: 1").Replace("eval: { every: 3 }", "eval: { every: 12 }")
            .Replace("timing: { deadline_ms: 30000 }", "timing: { deadline_ms: 1500, min_deadline_ms: 1000, adaptive_deadline: true }")
            .Replace("cluster: { discovery_quiet_ms", "cluster: { checkpoint_every: 3, discovery_quiet_ms").Replace("linger_ms: 5000", "linger_ms: 120000")
            // the survivors finish their rounds soon after dropping the crashed process; they must still be there
            // (lingering until their neighbours settle) when the restarted process, slow to start on a loaded
            // machine, rejoins; a 4 s heartbeat pause avoids false "unreachable" verdicts under that load
            .Replace("failure_detection_ms: 2000", "failure_detection_ms: 4000")
            // the first round after a resume waits up to the discovery timeout for its peers
            .Replace("discovery_timeout_ms: 60000", "discovery_timeout_ms: 30000"));
        var ports = Launcher.FreePorts(3);
        var outs = Enumerable.Range(0, 3).Select(k => Path.Combine(_dir, $"node{k}")).ToArray();
        using var p0 = new NodeProcess(NodeArgs(cfg, "0,1", ports[0], ports, outs[0]), Secret);
        using var p1 = new NodeProcess(NodeArgs(cfg, "2,3", ports[1], ports, outs[1]), Secret);
        var p2 = new NodeProcess(NodeArgs(cfg, "4,5", ports[2], ports, outs[2]), Secret);
        try
        {
            string ckpt = Path.Combine(outs[2], "checkpoints", "agent-4-r000006.ckpt");
            p2.WaitUntil(() => File.Exists(ckpt), TimeSpan.FromSeconds(90), "a checkpoint of agent 4 after round 6");
            p2.Kill();
        }
        finally { p2.Dispose(); }
        p0.WaitUntil(() => p0.Output.Contains("dropping agents 4,5") && p1.Output.Contains("dropping agents 4,5"), TimeSpan.FromSeconds(30),
            "the crash to be detected by both survivors");

        // the restarted process finishes last: it need not linger for anyone
        using var p2b = new NodeProcess(NodeArgs(cfg, "4,5", ports[2], ports, outs[2], "--resume", "--set", "cluster.linger_ms=5000"), Secret);
        p2b.ExpectExit(0, TimeSpan.FromSeconds(150), "p2b");
        // the survivors leave as soon as they learn that the restarted agents finished (their Finished messages, or the
        // directories' sealed AgentsFinished), well before their linger_ms (120 s) is over
        p0.ExpectExit(0, TimeSpan.FromSeconds(60), "p0");
        p1.ExpectExit(0, TimeSpan.FromSeconds(60), "p1");
        Assert.DoesNotContain("linger of", p0.Output + p1.Output);
        Assert.Contains("resuming after round", p2b.Output);

        var reports = RunMerger.ReadReports(outs, 6);
        Assert.All(reports, r => Assert.Equal(24, r.RoundsCompleted));
        Assert.All(reports, r => Assert.InRange(r.FinalAccuracy, 0, 1));
        Assert.InRange(reports[4].ResumedFromRound, 6, 23);
        Assert.InRange(reports[5].ResumedFromRound, 3, 23);
        // agent 0 neighbours 5 and agent 3 neighbours 4 on the ring: both saw the crash and the return
        Assert.Contains(reports[3].Events, e => e.Contains("agent 4 dropped"));
        Assert.True(reports[0].Events.Any(e => e.Contains("agent 5 dropped")), string.Join("\n", reports[0].Events) + "\n" + p0.Output);
        Assert.True(reports[0].Missing > 0, "payloads of the crashed agent are missing until the failure detector drops it");
        Assert.Contains(reports[3].Events, e => e.Contains("agent 4 readmitted"));
        Assert.True(reports[3].DeadlineRounds > 0, "rounds during the outage close at the deadline");
    }

    [Fact]
    public void Nan_payloads_are_rejected_and_counted_and_a_node_without_the_secret_is_refused()
    {
        // long enough that the honest nodes are still running when the rogue node (slow to start on a loaded machine)
        // tries to join; 30 s discovery timeout so a rogue that finds nobody exits (ExitNotJoined) well within the
        // test's wait instead of hanging
        string cfg = ClusterConfigs.Write(_dir, ClusterConfigs.Small.Replace("rounds: 6", "rounds: 60").Replace("local_steps: 4", "local_steps: 2")
            .Replace("eval: { every: 3 }", "eval: { every: 30 }").Replace("discovery_timeout_ms: 60000", "discovery_timeout_ms: 30000"));
        var ports = Launcher.FreePorts(4);
        var outs = Enumerable.Range(0, 4).Select(k => Path.Combine(_dir, $"node{k}")).ToArray();
        var honest = ports[..3];
        using var p0 = new NodeProcess(NodeArgs(cfg, "0,1", honest[0], honest, outs[0]), Secret);
        using var p1 = new NodeProcess(NodeArgs(cfg, "2,3", honest[1], honest, outs[1]), Secret);
        using var p2 = new NodeProcess(NodeArgs(cfg, "4,5", honest[2], honest, outs[2], "--fault", "NaN"), Secret);
        // a node with the wrong secret: whichever comes first (the honest nodes down it, or its admission grace of
        // discovery_timeout_ms ends with no peer admitted), it exits 3 "not admitted" and never trains alone. Started
        // with the others: a rogue started once the cluster had formed could come up (slowly, on a loaded machine)
        // after the honest nodes had run their rounds and left, find no seed node, and exit 4 instead (seen under load).
        using (var rogue = new NodeProcess(NodeArgs(cfg, "1", ports[3], honest, outs[3]), "wrong-secret"))
        {
            p0.WaitUntil(() => p0.Output.Contains("admitted akka"), TimeSpan.FromSeconds(300), "the cluster to form");
            rogue.ExpectExit(NodeHost.ExitNotAdmitted, TimeSpan.FromSeconds(150), "rogue");
            Assert.Contains("not admitted", rogue.Output);
            Assert.DoesNotContain("round 1 closed", rogue.Output);
            Assert.False(File.Exists(Path.Combine(outs[3], AgentReport.FileName(1))));
        }
        Assert.DoesNotContain($"127.0.0.1:{ports[3]} hosting", p0.Output + p1.Output + p2.Output);
        p0.ExpectExit(0, TimeSpan.FromSeconds(120), "p0");
        p1.ExpectExit(0, TimeSpan.FromSeconds(60), "p1");
        p2.ExpectExit(0, TimeSpan.FromSeconds(60), "p2");

        var reports = RunMerger.ReadReports(outs[..3], 6);
        // ring 0-1-2-3-4-5-0: agents 3 and 0 border the corrupt process and refuse its payloads; 1 and 2 see none
        Assert.True(reports[3].Rejected.GetValueOrDefault("NonFinite") > 0);
        Assert.True(reports[0].Rejected.GetValueOrDefault("NonFinite") > 0);
        Assert.All(reports[..4], r => Assert.All(r.RejectedFrom.Keys, from => Assert.Contains(from, new[] { 4, 5 })));
        Assert.DoesNotContain(reports[1].Rejected, kv => kv.Key != "NonFinite");
        Assert.All(reports[..4], r => Assert.All(r.Metrics, m => Assert.True(double.IsFinite(m.TestLoss), $"agent {r.Agent} loss {m.TestLoss}")));
        Assert.All(reports[..4], r => Assert.Equal(60, r.RoundsCompleted));
    }
}
